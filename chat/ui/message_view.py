"""One message on the room page: header, the message it replies to, sanitised markdown body, error, reactions and
actions."""
from __future__ import annotations

import json
import re
import time
import zlib
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

from nicegui import ui

from ..models import Message, Person, Status
from ..pricing import Prices, describe, estimate
from .attachments import show_attachments
from .message_body import MessageBody
from .people import stored_name
from .reactions import ReactionChips, reaction_picker
from .reply_parts import ReplyParts
from .theme import dialog_card

STATUS_LABELS = {
    Status.STREAMING: 'writing…',
    Status.STOPPED: 'stopped',
    Status.INTERRUPTED: 'interrupted',
    Status.ERROR: 'failed',
    Status.COMPLETE: '',
}


class Messages(Protocol):
    """A room's messages by id (the hub)."""

    def get(self, message_id: str) -> Message | None: ...

    @property
    def max_tokens(self) -> int:
        """The room's limit of tokens for one reply, named when a reply reaches it."""


class Intents(Protocol):
    """What a person can ask of a message; the room view forwards each to the hub."""

    def retry(self, message: Message) -> None: ...
    def resume(self, message: Message) -> None: ...
    def regenerate(self, message: Message) -> None: ...
    def edit(self, message: Message, text: str) -> None: ...
    def select_version(self, message: Message, position: int) -> None: ...
    def can_edit(self, message: Message) -> bool: ...
    def react(self, message: Message, emoji: str) -> None: ...
    def reply(self, message: Message) -> None: ...

    @property
    def person(self) -> Person:
        """Who looks at the message: their own reactions are pressed, mentions of them and replies to them stand out."""

    person_id: str | None
    hub: Messages
    """The room's messages, to tell whose message a reply quotes."""


def message_body(room_id: str, message: Message) -> MessageBody:
    return MessageBody(room=room_id, msgid=message.id, text=message.content,
                       streaming=message.status == Status.STREAMING)


class MessageView:
    """Renders a message and follows its status; text deltas reach the body directly (see live.py)."""

    body_factory: ClassVar[Callable[[str, Message], Any]] = staticmethod(message_body)
    """Makes the element that shows a message's text (the benchmark swaps in its naive baseline here)."""

    def __init__(self, message: Message, room_id: str, intents: Intents, *, is_last: bool, prices: Prices) -> None:
        self.message = message
        self._intents = intents
        self._prices = prices
        who = message.author or 'Someone' if message.role == 'user' else 'Claude'
        with ui.element('div').classes('msg').props('data-testid=message') as self.frame:
            # room.js groups a person's consecutive messages and marks new days from these two
            self.frame.props['data-author-key'] = author_key(message)
            self.frame.props['data-ts'] = f'{message.created_at:.0f}'
            avatar(message, who)
            with ui.element('div').classes('msg-main'):
                self._head(message, who)
                if message.reply_to:
                    self._quote(message.reply_to)
                self.parts = ReplyParts(room_id, message) if message.role == 'assistant' else None
                self.body = self.body_factory(room_id, message)
                self.body.props('data-testid=message-content')
                self.waiting = ui.label('Waiting for Claude…').classes('msg-waiting typing-dots') \
                    .props('data-testid=waiting')
                if self.parts is not None:
                    self.parts.add_sources()
                if message.attachments:  # they never change: an edit keeps them, a version shares them
                    show_attachments(message.attachments)
                self.error = ui.label().classes('msg-error').props('data-testid=error')
                self.left_out = ui.label().classes('msg-note').props('data-testid=context-notice')
                self.ended = ui.label().classes('msg-note').props('data-testid=cut-off role=note')
                self.reactions = ReactionChips(lambda emoji: self._intents.react(self.message, emoji))
                self.actions = ui.row().classes('msg-actions').props('role=group aria-label="Message actions"')
        self._actions_shown: tuple[object, ...] | None = None
        self.refresh(message, is_last=is_last)

    def _head(self, message: Message, who: str) -> None:
        with ui.row().classes('msg-head'):
            ui.label(who).classes('msg-author').props('data-testid=message-author')
            if message.role == 'assistant' and message.model:
                ui.label(message.model).classes('msg-meta msg-model').props('data-testid=message-model')
            stamp = time.strftime('%H:%M', time.localtime(message.created_at))
            full = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(message.created_at))
            # room.js turns the stamp into "3 min ago" and the title into the reader's own date and time
            ui.label(stamp).classes('msg-meta msg-time').props(f'title="{full}" data-ts={message.created_at:.0f}')
            self.edited = ui.label('edited').classes('msg-meta italic').props('data-testid=edited') \
                .tooltip('The author changed this message after sending it')
            self.status = ui.label().classes('msg-meta msg-status italic').props('data-testid=message-status')
            self.usage = ui.label().classes('msg-meta').props('data-testid=usage')

    def refresh(self, message: Message, *, is_last: bool) -> None:
        """Show the message's current status, error and actions (not its text: that streams on its own)."""
        self.message = message
        viewer = self._viewer()
        hooks = {'data-role': message.role, 'data-status': str(message.status), 'data-message-id': message.id,
                 'data-mention': 'true' if self._concerns(message, viewer) else 'false',
                 'data-own': 'true' if viewer.id is not None and message.author_id == viewer.id else 'false',
                 'data-cut-off': 'true' if message.cut_off else 'false'}  # rooms.css: its Continue always shows
        if any(self.frame.props.get(name) != value for name, value in hooks.items()):
            self.frame.props.update(hooks)  # one update of the element, only when a hook changed
        self.status.set_text(f'retrying: {message.note}' if message.note else
                             message.activity or STATUS_LABELS[message.status]
                             if message.status != Status.STREAMING else STATUS_LABELS[message.status])
        self.edited.set_visibility(message.edited)
        self.usage.set_text(describe(message.usage, estimate(message.model, message.usage, self._prices))
                            if message.usage else '')
        self.left_out.set_text(f'{message.left_out} earlier message{"s" if message.left_out > 1 else ""} were left '
                               "out of this reply's request to fit the model's context window."
                               if message.left_out else '')
        self.left_out.set_visibility(bool(message.left_out))
        ended = self._why_ended(message)
        self.ended.set_text(ended)
        self.ended.set_visibility(bool(ended))
        self.error.set_text(message.error or '')
        self.error.set_visibility(message.status == Status.ERROR)
        self.body.set_text_silently(message.content)
        self.show_waiting(message.status == Status.STREAMING and not message.content and not message.thinking)
        if self.parts is not None:
            self.parts.refresh(message)
        self.reactions.show(message.reactions, viewer.id)
        actions = self._wanted_actions(message, is_last)
        if actions == self._actions_shown:
            return  # a status change elsewhere in the room must not rebuild these buttons in every tab
        self._actions_shown = actions
        self.actions.clear()
        if message.status == Status.STREAMING:
            return
        with self.actions:
            if message.versions:
                self._version_switch(message)
            if message.content.strip():  # a reply that failed before its first word has nothing to copy
                self._button('Copy', 'content_copy', 'copy', self._copy)
            if self._intents.can_edit(message):
                self._button('Edit', 'edit', 'edit', self._open_editor)
            self._button('Reply', 'reply', 'reply', lambda: self._intents.reply(self.message))
            reaction_picker(lambda emoji: self._intents.react(self.message, emoji))
            if message.can_resume:
                self._button('Retry', 'refresh', 'retry', lambda: self._intents.retry(self.message))
            if message.can_continue and message.content.strip():
                self._button('Continue', 'play_arrow', 'continue', lambda: self._intents.resume(self.message))
            if not message.can_resume and message.role == 'assistant' and is_last:
                self._button('Regenerate', 'autorenew', 'regenerate', lambda: self._intents.regenerate(self.message))

    def show_waiting(self, waiting: bool) -> None:
        """Until a reply's first text arrives it says it waits for Claude, not an empty "writing…" bubble."""
        if waiting != self.waiting.visible or waiting == self.status.visible:
            self.waiting.set_visibility(waiting)
            self.status.set_visibility(not waiting)

    @staticmethod
    def _wanted_actions(message: Message, is_last: bool) -> tuple[object, ...]:
        """Everything the action buttons depend on: they are rebuilt only when this changes."""
        # (only a reply's actions depend on being last: its Regenerate)
        return (message.status == Status.STREAMING, len(message.versions), message.version, message.role,
                message.can_resume, message.can_continue, bool(message.content.strip()),
                is_last and message.role == 'assistant', message.author_id)

    def _why_ended(self, message: Message) -> str:
        """Why a complete reply ended early, in words that say who can do what; '' when it simply finished."""
        if message.status != Status.COMPLETE or message.stop_reason is None:
            return ''
        if message.stop_reason == 'refusal':
            return ('Claude declined to go on with this reply, so it ends here. Asking in other words, or about '
                    'something else, may get an answer.')
        return (f"Claude reached this room's limit of {self._intents.hub.max_tokens:,} tokens for one reply. Continue "
                "writes the rest; the room's settings can raise the limit.")

    def _quote(self, quoted: dict[str, object]) -> None:
        """The message this one replies to: a link that scrolls to it (room.js loads earlier messages to find it)."""
        target = f'#m-{quoted["id"]}'
        with ui.link(target=target).classes('reply-quote').props('data-testid=reply-quote').mark('reply-quote') \
                .on('click', js_handler=f'() => {{ if (location.hash === {json.dumps(target)}) '
                                        "window.dispatchEvent(new HashChangeEvent('hashchange')) }") as link:
            ui.label(f'{quoted["author"] or "Someone"}:').classes('reply-quote-author')
            ui.label(str(quoted['excerpt'])).classes('reply-quote-text')
        link.props['title'] = 'Show the message this replies to'

    def _viewer(self) -> Person:
        try:
            return self._intents.person
        except AttributeError:  # the room view builds its history before its composer, which holds the name
            return Person(self._intents.person_id, stored_name(self.frame.client))

    def _concerns(self, message: Message, viewer: Person) -> bool:
        """A message by someone else that mentions the viewer by name or replies to one of their messages."""
        if message.role != 'user' or (viewer.id is not None and message.author_id == viewer.id):
            return False
        if viewer.name and mentions(message.content, viewer.name):
            return True
        if viewer.id is None or not message.reply_to:
            return False
        quoted = self._intents.hub.get(message.reply_to['id'])
        return quoted is not None and quoted.author_id == viewer.id

    def _button(self, text: str, icon: str, testid: str, action: Callable[[], None]) -> None:
        ui.button(text, icon=icon, on_click=action, color=None) \
            .props(f'flat dense no-caps data-testid={testid} title={text}').classes('msg-action').mark(testid)

    def _version_switch(self, message: Message) -> None:
        count, shown = len(message.versions) + 1, message.version
        with ui.row().classes('items-center gap-0'):
            ui.button(icon='chevron_left', on_click=lambda: self._intents.select_version(self.message, shown - 1),
                      color=None) \
                .props('flat dense round data-testid=version-prev aria-label="Previous version"') \
                .classes('msg-action').mark('version-prev').set_enabled(shown > 0)
            ui.label(f'{shown + 1} / {count}').classes('msg-meta').props('data-testid=version') \
                .props(f'aria-label="Version {shown + 1} of {count}"')
            ui.button(icon='chevron_right', on_click=lambda: self._intents.select_version(self.message, shown + 1),
                      color=None) \
                .props('flat dense round data-testid=version-next aria-label="Next version"') \
                .classes('msg-action').mark('version-next').set_enabled(shown + 1 < count)

    def _copy(self) -> None:
        ui.run_javascript(f'window.roomsCopy({json.dumps(self.message.content)})')
        ui.notify('Copied', timeout=1000)

    def _open_editor(self) -> None:
        with dialog_card('Edit your message') as (dialog, card):
            card.classes('w-full max-w-2xl')
            ui.label('Saving answers it again from here; the current version stays one click away.') \
                .classes('text-sm text-gray-500')
            editor = ui.textarea(value=self.message.content).classes('w-full').mark('edit-input') \
                .props('autogrow autofocus outlined data-testid=edit-input aria-label="Your message"')

            def save() -> None:
                dialog.close()
                self._intents.edit(self.message, editor.value or '')
            editor.on('keydown.ctrl.enter', save)
            with ui.row().classes('w-full justify-end'):
                ui.button('Cancel', on_click=dialog.close).props('flat')
                ui.button('Save and answer', on_click=save).props('data-testid=edit-save').mark('edit-save')
        dialog.open()


AVATAR_COLOURS = ('#b91c1c', '#c2410c', '#a16207', '#4d7c0f', '#15803d', '#0f766e', '#0369a1', '#1d4ed8',
                  '#6d28d9', '#a21caf', '#be185d', '#475569')
"""Backgrounds for a person's initials: each keeps white text above 4.5:1."""


def author_key(message: Message) -> str:
    """Who wrote a message, for its avatar colour and for grouping: the participant id, else the name."""
    if message.role == 'assistant':
        return 'claude'
    return message.author_id or f'name:{(message.author or "").casefold()}'


def avatar(message: Message, who: str) -> None:
    """Initials on a colour of their own (the same for a person in every room and tab), or Claude's mark."""
    if message.role == 'assistant':
        with ui.element('div').classes('msg-avatar msg-avatar-claude').props('aria-hidden=true'):
            ui.icon('auto_awesome', size='18px')
        return
    colour = AVATAR_COLOURS[zlib.crc32(author_key(message).encode()) % len(AVATAR_COLOURS)]
    ui.label(initials(who) if message.author else '?').classes('msg-avatar') \
        .props('aria-hidden=true').style(f'background: {colour}')


def initials(name: str) -> str:
    words = [word for word in re.split(r'[\s._-]+', name) if word]
    return ''.join(word[0] for word in words[:2]).upper() or '?'


def mentions(text: str, name: str) -> bool:
    """True when `text` mentions `name` as `@name`: in any case, the whole name, any blanks between its words."""
    words = name.split()
    if not words:
        return False
    pattern = r'(?<![\w@])@' + r'\s+'.join(map(re.escape, words)) + r'(?!\w)'
    return re.search(pattern, text, re.IGNORECASE) is not None
