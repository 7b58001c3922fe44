"""The app exactly as `python main.py` runs it, plus a page `/attach-test/{room}`: the attach picker mounted in a tiny
composer (a text box and Send), for tests/test_attachments_browser.py while the room's own composer may not mount it.

Run as `python tests/attach_app.py [main.py options]`.
"""
from __future__ import annotations

import sys

from nicegui import ui

import chat.cli
from chat import app as composition
from chat.config import Settings
from chat.links import RoomLinks
from chat.rooms import Rooms
from chat.ui.attachments import AttachmentPicker
from chat.ui.theme import frame


def build(settings: Settings, links: RoomLinks | None = None) -> Rooms:
    rooms = composition.build(settings, links)

    @ui.page('/attach-test/{room_id}')
    async def attach_test(room_id: str) -> None:
        hub = await rooms.get(room_id)
        with frame('Attach test', demo=False):
            pass
        with ui.footer().classes('composer-bar px-2 py-2'), ui.column().classes('w-full max-w-3xl mx-auto gap-1'):
            with ui.row().classes('w-full items-end no-wrap gap-2'):
                picker = AttachmentPicker(room_id)
                text = ui.textarea(placeholder='Message').props('outlined dense rows=1 data-testid=composer') \
                    .classes('flex-grow')

                async def send() -> None:
                    await hub.post(text.value or '', author='Tester', attachments=picker.pending)
                    text.value = ''
                    picker.clear()
                ui.button(icon='send', on_click=send).props('round data-testid=send')

    return rooms


chat.cli.build = build  # main() builds the app through this name

if __name__ == '__main__':
    chat.cli.main(sys.argv[1:])
