"""The bottom bar of a room tab: the message being answered, the text box (its @ list lives in room.js), Send, Send
and ask Claude, Stop, whom Claude answers, and the people here."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui
from nicegui.client import Client

from ..errors import MessageRejected
from ..hub import RoomHub
from ..models import Message, excerpt
from .attachments import AttachmentPicker
from .people import People
from .share_dialog import Sharing

REPLY_MODE_TEXT = {'every': 'Claude answers every message', 'mention': 'Claude answers when you write @claude'}


class Composer:
    """Posts what this tab writes to the hub; the room view tells it when the room's settings change."""

    def __init__(self, hub: RoomHub, client: Client, sharing: Sharing, *, tools: ui.row, sender: str,
                 person_id: str | None, stop: Callable[[], None]) -> None:
        """:param tools: the header's row, where People puts the Share and name buttons
        :param sender: whose messages these are for the flood limit
        :param person_id: the author id of this tab's messages"""
        self.hub = hub
        self.sender = sender
        self.person_id = person_id
        self.replying_to: Message | None = None
        """The message the next one sent from this tab replies to."""
        with ui.footer().classes('composer-bar px-2 py-2'):
            # above the bar, over the end of the list: it never takes room from the text box
            with ui.element('div').classes('stop-float'):
                self.stop_button = ui.button('Stop', icon='stop', on_click=stop) \
                    .props('unelevated rounded no-caps no-wrap data-testid=stop aria-label=Stop').mark('stop') \
                    .classes('stop-button')
            with ui.column().classes('w-full max-w-3xl mx-auto gap-1'):
                with ui.row().classes('reply-chip w-full items-center no-wrap gap-1') \
                        .props('data-testid=replying-to').mark('replying-to') as self.reply_chip:
                    ui.icon('reply', size='18px').classes('reply-chip-icon')
                    self.reply_text = ui.label().classes('reply-chip-text')
                    ui.button(icon='close', on_click=self.cancel_reply) \
                        .props('flat round dense size=sm data-testid=cancel-reply aria-label="Cancel the reply"') \
                        .mark('cancel-reply').tooltip('Cancel the reply (Esc)')
                self.rejection = ui.label().classes('text-red-700 text-sm').props('data-testid=composer-error')
                self.rejection.set_visibility(False)
                with ui.row().classes('w-full items-end no-wrap gap-2'):
                    self.attachments = AttachmentPicker(hub.room_id)  # puts its tray of pending files above the row
                    self.input = ui.textarea(placeholder='Message the room') \
                        .props('autogrow autofocus outlined dense rows=1 data-testid=composer') \
                        .classes('flex-grow').mark('composer').style('max-height: 40vh; overflow: auto')
                    self.input.on('keydown.enter.exact.prevent', self.send)
                    for combo in ('ctrl', 'meta'):
                        self.input.on(f'keydown.enter.{combo}.prevent', self._send_by_shortcut)
                    self.ask_button = ui.button(icon='auto_awesome', on_click=self.send_and_ask) \
                        .props('round outline data-testid=ask-claude aria-label="Send and ask Claude"') \
                        .mark('ask-claude').tooltip('Send and ask Claude (Ctrl+Enter)')
                    ui.button(icon='send', on_click=self.send) \
                        .props('round unelevated data-testid=send aria-label=Send').mark('send')
                with ui.row().classes('composer-meta w-full items-center gap-3'):
                    self.reply_mode = ui.label().classes('reply-mode').props('data-testid=reply-mode') \
                        .mark('reply-mode')
                    self.room_usage = ui.label().props('data-testid=room-usage')
                self.people = People(hub.room_id, client, sharing, tools=tools, composer=self.input)
        self.show_reply_mode()
        self._show_reply()

    async def send(self) -> None:
        await self._post(ask_claude=False)

    async def send_and_ask(self) -> None:
        await self._post(ask_claude=True)

    async def _send_by_shortcut(self) -> None:
        await self._post(ask_claude=self.hub.reply_mode == 'mention')  # every message is answered in the other mode

    async def _post(self, *, ask_claude: bool) -> None:
        text = self.input.value or ''
        if not text.strip() and not self.attachments.pending:
            return  # blank messages are ignored; nothing to say about them
        if self.attachments.uploading:
            self.rejection.set_text('A file is still uploading; send again in a moment.')
            self.rejection.set_visibility(True)
            return
        try:
            await self.hub.post(text, author=self.people.name, sender=self.sender, author_id=self.person_id,
                                reply_to=self.replying_to.id if self.replying_to else None, ask_claude=ask_claude,
                                attachments=self.attachments.pending)
        except MessageRejected as e:  # the text stays, so nothing typed is lost
            self.rejection.set_text(str(e))
            self.rejection.set_visibility(True)
            return
        self.rejection.set_visibility(False)
        self.input.value = ''
        self.attachments.clear()
        self.cancel_reply()
        self.focus()
        ui.run_javascript('window.roomsScrollToEnd && window.roomsScrollToEnd()')

    def reply(self, message: Message) -> None:
        self.replying_to = message
        self._show_reply()
        self.focus()

    def focus(self) -> None:
        """Put the cursor in the text box, natively: Quasar's own focus() waits in a queue while a menu, dialog or
        tooltip is in transition, and then only the last focus asked for runs, so on a busy machine the click on
        Reply kept the focus."""
        self.input.client.run_javascript(f'document.getElementById("{self.input.html_id}")?.focus()')  # the textarea

    def cancel_reply(self) -> None:
        self.replying_to = None
        self._show_reply()

    def show_reply_mode(self) -> None:
        """Show whom Claude answers (called again when someone changes the room's settings)."""
        mode = self.hub.reply_mode
        self.reply_mode.set_text(REPLY_MODE_TEXT.get(mode, REPLY_MODE_TEXT['every']))
        self.reply_mode.props(f'data-mode={mode}')
        self.ask_button.set_visibility(mode == 'mention')

    def _show_reply(self) -> None:
        message = self.replying_to
        self.reply_chip.set_visibility(message is not None)
        if message is not None:
            who = (message.author or 'Someone') if message.role == 'user' else 'Claude'
            self.reply_text.set_text(f'Replying to {who}: {excerpt(message.content)}')
