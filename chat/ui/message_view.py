"""One message on the room page: header, sanitised markdown body, error and actions."""
from __future__ import annotations

import time
from collections.abc import Callable

from nicegui import ui

from ..models import Message, Status
from .message_body import MessageBody

STATUS_LABELS = {
    Status.STREAMING: 'writing…',
    Status.STOPPED: 'stopped',
    Status.INTERRUPTED: 'interrupted',
    Status.ERROR: 'failed',
    Status.COMPLETE: '',
}

Action = Callable[[Message], None]


class MessageView:
    """Renders a message and follows its status; text deltas reach the body directly (see live.py)."""

    def __init__(self, message: Message, room_id: str, *, on_retry: Action, on_continue: Action) -> None:
        self.message = message
        self._on_retry = on_retry
        self._on_continue = on_continue
        with ui.element('div').classes('msg flex flex-col gap-1 w-full').props('data-testid=message') as self.frame:
            with ui.row().classes('msg-head items-center'):
                who = message.author or 'Someone' if message.role == 'user' else 'Claude'
                ui.label(who).classes('font-semibold').props('data-testid=message-author')
                if message.role == 'assistant' and message.model:
                    ui.label(message.model).classes('opacity-70').props('data-testid=message-model')
                stamp = time.strftime('%H:%M', time.localtime(message.created_at))
                ui.label(stamp).classes('opacity-70').tooltip(time.strftime('%Y-%m-%d %H:%M:%S',
                                                                          time.localtime(message.created_at)))
                self.status = ui.label().classes('opacity-80 italic').props('data-testid=message-status')
            self.body = MessageBody(room=room_id, msgid=message.id, text=message.content,
                                    streaming=message.status == Status.STREAMING)
            self.body.props('data-testid=message-content')
            self.error = ui.label().classes('msg-error').props('data-testid=error')
            self.actions = ui.row().classes('gap-2')
        self.refresh(message)

    def refresh(self, message: Message) -> None:
        """Show the message's current status, error and actions (not its text: that streams on its own)."""
        self.message = message
        self.frame.props(f'data-role={message.role} data-status={message.status} data-message-id={message.id}')
        self.status.set_text(f'retrying: {message.note}' if message.note else STATUS_LABELS[message.status])
        self.error.set_text(message.error or '')
        self.error.set_visibility(message.status == Status.ERROR)
        self.body.set_text_silently(message.content)
        self.actions.clear()
        if message.can_resume:
            with self.actions:
                ui.button('Retry', icon='refresh', on_click=lambda: self._on_retry(self.message)) \
                    .props('flat dense size=sm data-testid=retry')
                if message.content.strip():
                    ui.button('Continue', icon='play_arrow', on_click=lambda: self._on_continue(self.message)) \
                        .props('flat dense size=sm data-testid=continue')
