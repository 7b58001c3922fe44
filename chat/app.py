"""Composition root: Settings -> store, model, rooms, live relay, pages and API routes."""
from __future__ import annotations

import asyncio
import logging

from nicegui import app, background_tasks

from . import access, api
from .catalog import ModelCatalog
from .config import Settings
from .rooms import Rooms
from .store import RoomStore
from .ui import home_page, live, room_page, theme

IDLE_ROOM_SECONDS = 600.0
"""An open room nobody watches and no reply runs in is closed after this long."""

log = logging.getLogger(__name__)


def build(settings: Settings) -> Rooms:
    """Register everything on NiceGUI's app; returns the rooms registry (tests drive it directly)."""
    catalog = ModelCatalog(settings)
    rooms = Rooms(RoomStore(settings.data_dir), catalog.get, settings)
    access.install(app, settings)
    live.install(rooms)
    theme.register_static()
    api.register(app, rooms)
    home_page.register(rooms, settings)
    room_page.register(rooms, settings, catalog)
    app.on_startup(lambda: background_tasks.create(_evict_idle_rooms(rooms), name='evict idle rooms'))
    app.on_shutdown(rooms.close)
    return rooms


async def _evict_idle_rooms(rooms: Rooms) -> None:
    while True:
        await asyncio.sleep(60)
        await rooms.evict_idle(IDLE_ROOM_SECONDS)
