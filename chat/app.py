"""Composition root: Settings -> store, model, rooms, live relay, pages and API routes."""
from __future__ import annotations

import asyncio
import logging

from nicegui import app, background_tasks

from . import access, api, participants, room_api
from .catalog import ModelCatalog
from .config import Settings
from .links import RoomLinks
from .rooms import Rooms
from .store import RoomStore
from .ui import home_page, live, room_page, theme

IDLE_ROOM_SECONDS = 600.0
"""An open room nobody watches and no reply runs in is closed after this long."""

log = logging.getLogger(__name__)


def build(settings: Settings, links: RoomLinks | None = None) -> Rooms:
    """Register everything on NiceGUI's app; returns the rooms registry (tests drive it directly)."""
    catalog = ModelCatalog(settings)
    rooms = Rooms(RoomStore(settings.data_dir), catalog.get, settings)
    links = links or RoomLinks(settings.data_dir)
    participants.install(app)
    access.install(app, settings, links)  # added last: the outermost middleware, the first to see a request
    live.install(rooms)
    theme.register_static()
    api.register(app, rooms)
    room_api.register(app, rooms, links, settings, renew=lambda room_id: live.renew_room_link(links, room_id))
    home_page.register(rooms, settings)
    room_page.register(rooms, settings, catalog, links)
    app.on_startup(lambda: background_tasks.create(_evict_idle_rooms(rooms), name='evict idle rooms'))
    # the default model's HTTP client (its TLS context takes tens of ms to build) is made in a thread, not by the
    # first reply on the event loop that streams to every tab
    app.on_startup(lambda: background_tasks.create(asyncio.to_thread(catalog.get, settings.model), name='warm model'))
    app.on_shutdown(rooms.close)
    app.on_shutdown(catalog.close)  # after the rooms: their turns use the models
    return rooms


async def _evict_idle_rooms(rooms: Rooms) -> None:
    while True:
        await asyncio.sleep(60)
        await rooms.evict_idle(IDLE_ROOM_SECONDS)
