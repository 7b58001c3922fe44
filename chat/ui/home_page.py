"""The home page: the room list and a way to start a room."""
from __future__ import annotations

import secrets
import time

from nicegui import ui

from ..config import Settings
from ..models import RoomSummary
from ..rooms import Rooms
from .theme import frame


def register(rooms: Rooms, settings: Settings) -> None:
    @ui.page('/')
    async def home_page() -> None:
        summaries = await rooms.summaries()
        with frame('Your rooms', demo=settings.uses_demo):
            with ui.column().classes('w-full max-w-3xl mx-auto gap-3 p-4'):
                with ui.row().classes('w-full items-center'):
                    ui.label('Rooms').classes('text-2xl font-bold')
                    ui.space()
                    ui.button('New room', icon='add', on_click=lambda: ui.navigate.to(f'/room/{new_room_id()}')) \
                        .props('data-testid=new-room unelevated')
                if not summaries:
                    ui.label('No rooms yet. Start one with "New room", then share its link: everyone who opens '
                             'it chats in the same room and sees Claude answer live.') \
                        .classes('text-gray-500 py-8').props('data-testid=no-rooms')
                for summary in summaries:
                    room_card(summary)


def room_card(summary: RoomSummary) -> None:
    with ui.link(target=f'/room/{summary.id}').classes('w-full no-underline text-inherit') \
            .props(f'data-testid=room-link data-room-id={summary.id}'):
        with ui.card().classes('w-full hover:shadow-md'):
            ui.label(summary.title).classes('font-semibold')
            plural = 's' if summary.message_count != 1 else ''
            ui.label(f'{summary.message_count} message{plural} · {ago(summary.updated_at)}') \
                .classes('text-sm text-gray-500')


def new_room_id() -> str:
    return secrets.token_urlsafe(8).replace('-', 'x').replace('_', 'y')


def ago(timestamp: float, now: float | None = None) -> str:
    seconds = max(0, int((now or time.time()) - timestamp))
    for unit, size in (('day', 86400), ('hour', 3600), ('minute', 60)):
        if seconds >= size:
            count = seconds // size
            return f'{count} {unit}{"s" if count > 1 else ""} ago'
    return 'just now'
