"""People in a room, for one tab: this browser's display name, who is here now, who is typing, the Share button.

The display name is kept in the browser, in a plain cookie (`rooms_name`) the page reads when it is built, so
a browser picks its name once for every room and tab, and the server keeps nothing about it.
"""
from __future__ import annotations

import json
from urllib.parse import unquote

from nicegui import ui
from nicegui.client import Client
from nicegui.events import ValueChangeEventArguments

from .. import models
from .presence import NO_NAME, PRESENCE, describe_typing
from .share_dialog import Sharing, share_button

NAME_COOKIE = 'rooms_name'
MAX_NAME = 40
"""The hub keeps at most this many characters of an author's name."""


class People:
    """Built inside the composer's column; adds its buttons to the header's tools row."""

    def __init__(self, room_id: str, client: Client, sharing: Sharing, *, tools: ui.row,
                 composer: ui.textarea) -> None:
        self.room_id = room_id
        self.client = client
        self.presence = PRESENCE.room(room_id)
        self.name: str | None = stored_name(client)
        with tools:
            share_button(sharing)
            self.name_button = ui.button(icon='person', on_click=self._edit_name) \
                .props('flat dense no-caps color=white data-testid=my-name') \
                .mark('my-name').tooltip('Your name in this room (click to change)')
        self._name_prompt()
        with ui.row().classes('w-full items-center gap-3 text-xs text-gray-500 no-wrap') \
                .props('data-testid=presence-bar'):
            self.here = ui.label().props('data-testid=presence').mark('presence')
            self.typing = ui.label().classes('italic truncate').props('data-testid=typing').mark('typing')
            # whom the composer's @ list offers (room.js reads it): kept here, not on the text box, because
            # updating the text box would send back its value and wipe what is being typed
            self.mentionable = ui.element('span').classes('hidden').props('data-testid=mention-names')
            self.mentionable.props['data-names'] = '[]'
        composer.on_value_change(self._on_typing)
        self._show_name()
        client.on_connect(self._join)
        client.on_disconnect(self._leave)
        client.on_delete(self._leave)

    # the name -----------------------------------------------------------------------------------------------

    def _name_prompt(self) -> None:
        # in the composer bar, above the text box: it never covers the composer, even on a phone
        with ui.row().classes('w-full items-center name-prompt').props('data-testid=name-prompt') as self.prompt:
            self.prompt_label = ui.label('What should others in the room call you?') \
                .classes('text-sm').props('data-testid=name-prompt-text')
            with ui.row().classes('name-prompt-fields items-center no-wrap gap-2'):
                self.name_input = ui.input(label='Your name', value=self.name or '') \
                    .props(f'dense outlined maxlength={MAX_NAME} data-testid=name-input aria-label="Your name"') \
                    .classes('flex-grow').mark('name-input')
                self.name_input.on('keydown.enter.prevent', self._save_name)
                # colours that keep 4.5:1 in both themes (the default primary is too light for white text)
                ui.button('Save', on_click=self._save_name, color='blue-9') \
                    .props('unelevated dense no-caps data-testid=name-save').classes('px-2').mark('name-save')
                ui.button('Not now', on_click=lambda: self.prompt.set_visibility(False), color=None) \
                    .props('flat dense no-caps data-testid=name-later')
        self.prompt.move(target_index=0)  # above the composer, where it is seen without scrolling
        self.prompt.set_visibility(self.name is None)

    def _edit_name(self) -> None:
        self.name_input.value = self.name or ''
        self.prompt_label.set_text('Your name in every room:')
        self.prompt.set_visibility(True)
        self.name_input.run_method('focus')

    def _save_name(self) -> None:
        name = clean_name(self.name_input.value or '')
        if not name:
            ui.notify('Type a name first (or press "Not now")', type='warning')
            return
        self.name = name
        self.prompt.set_visibility(False)
        self._show_name()
        self.presence.rename(self.client.id, name)
        ui.run_javascript(f'document.cookie = "{NAME_COOKIE}=" + encodeURIComponent({json.dumps(name)})'
                          ' + "; path=/; max-age=31536000; samesite=lax"')

    def _show_name(self) -> None:
        self.name_button.set_text(self.name or 'Pick a name')
        # the accessible name starts with the visible one, as speech input expects (a phone shows the icon only)
        self.name_button.props['aria-label'] = f'{self.name}, your name in this room' if self.name else 'Pick a name'

    # presence -------------------------------------------------------------------------------------------------

    def _join(self) -> None:
        if self.client.id not in self.presence.members:
            self.presence = PRESENCE.room(self.room_id)  # the entry is dropped while a room is empty
            self.presence.join(self.client.id, self.name, self._render)

    def _leave(self) -> None:
        PRESENCE.leave(self.room_id, self.client.id)

    def _on_typing(self, event: ValueChangeEventArguments) -> None:
        if event.value:
            self.presence.typing(self.client.id)
        else:  # sent, or cleared
            self.presence.stopped_typing(self.client.id)

    def _render(self) -> None:
        names = [f'{name} (you)' if client_id == self.client.id else name
                 for client_id, name in ((c, m.name) for c, m in self.presence.members.items())]
        self.here.set_text(f'Here now ({len(names)}): {", ".join(names)}')
        self.here.props(f'data-count={len(names)}')
        self.typing.set_text(describe_typing(self.presence.typing_names(except_client=self.client.id)))
        self.mentionable.props['data-names'] = json.dumps(self.mentionable_names())

    def mentionable_names(self) -> list[str]:
        """The others here with a name, for the composer's @ list (Claude is always offered too, by room.js)."""
        names = {member.name for client_id, member in self.presence.members.items()
                 if client_id != self.client.id and member.name not in (NO_NAME, self.name)}
        return sorted(names, key=str.casefold)


def stored_name(client: Client) -> str | None:
    request = getattr(client, 'request', None)
    raw = request.cookies.get(NAME_COOKIE) if request is not None else None
    if not raw:
        return None
    return clean_name(unquote(raw)) or None


def clean_name(name: str) -> str:
    """One line of printable text, at most MAX_NAME characters; 'Someone' is what nobody is called."""
    name = ' '.join((models.clean_name(name, MAX_NAME) or '').split())  # a run of blanks reads as one
    return '' if name == NO_NAME else name
