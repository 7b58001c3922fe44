"""The home page: the room list, a way to start a room, import one and search them all."""
from __future__ import annotations

import logging
import secrets
import time

from nicegui import events, run, ui

from ..api import import_not_saved
from ..config import Settings
from ..errors import ImportRejected
from ..models import RoomSummary
from ..rooms import Rooms
from ..transfer import MAX_IMPORT_BYTES, parse_export, too_large
from .search_panel import SearchPanel
from .theme import demo_reason, dialog_card, frame

log = logging.getLogger(__name__)


def register(rooms: Rooms, settings: Settings) -> None:
    @ui.page('/')
    async def home_page() -> None:
        summaries = await rooms.summaries()
        with frame('Your rooms', demo=demo_reason(settings)):
            with ui.column().classes('w-full max-w-3xl mx-auto gap-3 p-4'):
                with ui.row().classes('w-full items-center no-wrap'):
                    ui.label('Rooms').classes('text-2xl font-bold')
                    ui.space()
                    import_control(rooms)
                    ui.button('New room', icon='add', on_click=lambda: ui.navigate.to(f'/room/{new_room_id()}')) \
                        .props('data-testid=new-room unelevated no-caps no-wrap')
                SearchPanel(rooms)
                if not summaries:
                    ui.label('No rooms yet. Start one with "New room", then share its link: everyone who opens '
                             'it chats in the same room and sees Claude answer live.') \
                        .classes('text-gray-500 py-8').props('data-testid=no-rooms')
                for summary in summaries:
                    room_card(summary, rooms)


def room_card(summary: RoomSummary, rooms: Rooms) -> None:
    with ui.row().classes('w-full items-center no-wrap gap-1'):
        with ui.link(target=f'/room/{summary.id}').classes('flex-grow min-w-0 no-underline text-inherit') \
                .props(f'data-testid=room-link data-room-id={summary.id}'):
            with ui.card().classes('room-card w-full hover:shadow-md'):
                ui.label(summary.title).classes('font-semibold')
                plural = 's' if summary.message_count != 1 else ''
                ui.label(f'{summary.message_count} message{plural} · {ago(summary.updated_at)}') \
                    .classes('text-sm text-gray-500')
        ui.button(icon='download', color=None).props(f'flat round href=/api/rooms/{summary.id}/export.json '
                                                     f'download=room-{summary.id}.json data-testid=export-json '
                                                     f'data-room-id={summary.id} aria-label="Export as JSON"') \
            .classes('room-action').tooltip('Export as JSON (import it again from this page)')
        ui.button(icon='edit', color=None, on_click=lambda: rename_dialog(rooms, summary)) \
            .props(f'flat round data-testid=rename-room data-room-id={summary.id} aria-label=Rename') \
            .classes('room-action').mark(f'rename-{summary.id}').tooltip('Rename')
        ui.button(icon='delete', color=None, on_click=lambda: delete_dialog(rooms, summary)) \
            .props(f'flat round data-testid=delete-room data-room-id={summary.id} aria-label=Delete') \
            .classes('room-action').mark(f'delete-{summary.id}').tooltip('Delete (kept in the trash folder)')


def rename_dialog(rooms: Rooms, summary: RoomSummary) -> None:
    with dialog_card('Rename room') as (dialog, card):
        card.classes('w-full max-w-md')
        name = ui.input('Title', value=summary.title).classes('w-full').props('autofocus data-testid=rename-input') \
            .mark('rename-input')

        async def save() -> None:
            (await rooms.get(summary.id)).configure(title=name.value)
            dialog.close()
            ui.navigate.reload()
        name.on('keydown.enter', save)
        with ui.row().classes('w-full justify-end'):
            ui.button('Cancel', on_click=dialog.close).props('flat')
            ui.button('Rename', on_click=save).props('data-testid=rename-save').mark('rename-save')
    dialog.open()


def delete_dialog(rooms: Rooms, summary: RoomSummary) -> None:
    with dialog_card(f'Delete "{summary.title}"?') as (dialog, card):
        card.classes('w-full max-w-md')
        ui.label('Everyone in the room is told. The file is kept in the trash folder of the data dir, '
                 'so it can be restored by hand.').classes('text-sm text-gray-600')

        async def delete() -> None:
            await rooms.delete(summary.id)
            dialog.close()
            ui.notify(f'Deleted "{summary.title}"')
            ui.navigate.reload()
        with ui.row().classes('w-full justify-end'):
            ui.button('Cancel', on_click=dialog.close).props('flat')
            ui.button('Delete', on_click=delete).props('color=negative data-testid=delete-confirm') \
                .mark('delete-confirm')
    dialog.open()


def import_control(rooms: Rooms) -> None:
    """An upload that turns a JSON export into a new room and opens it; a bad file creates nothing."""
    async def on_upload(event: events.UploadEventArguments) -> None:
        upload.reset()
        try:
            if event.file.size() > MAX_IMPORT_BYTES:
                raise too_large(event.file.size())
            data = await event.file.read()
            parsed = await run.io_bound(parse_export, data)
            room_id = await rooms.import_room(parsed.messages, parsed.title, parsed.files, parsed.settings)
        except ImportRejected as e:
            ui.notify(f'Nothing was imported from {event.file.name}: {e}', type='negative', multi_line=True,
                      close_button=True, timeout=0)
            return
        except OSError as e:
            log.error('cannot write an imported room: %s', e)
            ui.notify(import_not_saved(e), type='negative', multi_line=True, close_button=True, timeout=0)
            return
        ui.navigate.to(f'/room/{room_id}')

    mb = MAX_IMPORT_BYTES // (1024 * 1024)
    upload = ui.upload(auto_upload=True, max_file_size=MAX_IMPORT_BYTES, on_upload=on_upload,
                       on_rejected=lambda: ui.notify(f'Only a .json file of at most {mb} MB can be imported.',
                                                     type='negative'))
    upload.props('accept=.json,application/json data-testid=import').classes('hidden').mark('import')
    # the uploader's own box is bulky: a plain button opens its file picker, in the click itself as browsers require
    ui.button('Import', icon='upload_file').props('outline no-caps no-wrap data-testid=import-button') \
        .classes('home-import') \
        .on('click', js_handler=f'(event) => getElement({upload.id}).$refs.qRef.pickFiles(event)') \
        .tooltip(f'Import a room exported as JSON (at most {mb} MB); it opens as a new room')


def new_room_id() -> str:
    return secrets.token_urlsafe(8).replace('-', 'x').replace('_', 'y')


def ago(timestamp: float, now: float | None = None) -> str:
    seconds = max(0, int((now or time.time()) - timestamp))
    for unit, size in (('day', 86400), ('hour', 3600), ('minute', 60)):
        if seconds >= size:
            count = seconds // size
            return f'{count} {unit}{"s" if count > 1 else ""} ago'
    return 'just now'
