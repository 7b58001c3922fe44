"""Composition root: Settings -> store, model, rooms, live relay, pages and API routes."""
from __future__ import annotations

import asyncio
import logging

from nicegui import app, background_tasks

from . import api
from .config import Settings
from .llm import ChatModel, Claude, Demo
from .rooms import Rooms
from .store import RoomStore
from .ui import home_page, live, room_page, theme

IDLE_ROOM_SECONDS = 600.0
"""An open room nobody watches and no reply runs in is closed after this long."""

log = logging.getLogger(__name__)


def build(settings: Settings) -> Rooms:
    """Register everything on NiceGUI's app; returns the rooms registry (tests drive it directly)."""
    model = make_model(settings)
    rooms = Rooms(RoomStore(settings.data_dir), lambda: model, settings)
    live.install(rooms)
    theme.register_static()
    api.register(app, rooms)
    home_page.register(rooms, settings)
    room_page.register(rooms, settings)
    app.on_startup(lambda: background_tasks.create(_evict_idle_rooms(rooms), name='evict idle rooms'))
    app.on_shutdown(rooms.close)
    return rooms


def make_model(settings: Settings) -> ChatModel:
    if settings.uses_demo:
        return Demo(settings.demo_delay)
    return Claude(settings.model, api_key=settings.api_key, base_url=settings.base_url, max_tokens=settings.max_tokens)


async def _evict_idle_rooms(rooms: Rooms) -> None:
    while True:
        await asyncio.sleep(60)
        await rooms.evict_idle(IDLE_ROOM_SECONDS)
