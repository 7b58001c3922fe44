"""A room's settings panel: title, system prompt, model, reply mode, max tokens, thinking and web search; changes reach
every tab through the hub."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from nicegui import ui

from ..catalog import ModelCatalog
from ..config import DEMO_MODEL
from ..errors import MessageRejected
from ..hub import RoomHub
from ..llm import MAX_SEARCHES
from ..models import THINKING_BUDGETS, Person
from ..pricing import SEARCH_PRICE
from .share_dialog import Sharing
from .theme import demo_reason, dialog_card

REPLY_MODE_LABELS = {'every': 'every message', 'mention': 'only messages that mention @claude'}


class Viewer(Protocol):
    @property
    def person(self) -> Person: ...


async def open_room_settings(hub: RoomHub, catalog: ModelCatalog, delete: Callable[[Person], Awaitable[None]] | None,
                             sharing: Sharing, viewer: Viewer) -> None:
    """:param delete: None for a tab that may not delete the room (it came in with a room link)
    :param viewer: the tab, whose person is named to everyone when they change or delete the room"""
    names = await catalog.names()
    reason = demo_reason(hub.settings)
    demo = reason is not None
    if hub.model_name not in names and not demo:
        names.append(hub.model_name)
    labels = {name: 'demo (offline demo model)' if name == DEMO_MODEL else name for name in names}
    with dialog_card('Room settings') as (dialog, card):
        card.classes('w-full max-w-xl').props('data-testid=room-settings-dialog')
        ui.label('Changes apply to everyone in this room, from the next reply on.').classes('text-sm text-gray-500')
        title = ui.input('Title', value=hub.summary().title).classes('w-full') \
            .props('data-testid=settings-title').mark('settings-title')
        system = ui.textarea('System prompt', value=hub.system_prompt).classes('w-full') \
            .props('autogrow data-testid=settings-system').mark('settings-system')
        model = ui.select(labels, value=DEMO_MODEL if demo else hub.model_name, label='Model').classes('w-full') \
            .props('data-testid=settings-model').mark('settings-model')
        if demo:
            model.disable()
            ui.label(f'Here every reply comes from the offline demo model, whatever model is picked. {reason}') \
                .classes('text-sm').props('data-testid=settings-demo').mark('settings-demo')
        reply_mode = ui.select(REPLY_MODE_LABELS, value=hub.reply_mode, label='Claude answers').classes('w-full') \
            .props('data-testid=settings-reply-mode').mark('settings-reply-mode')
        max_tokens = ui.number('Max tokens per reply', value=hub.max_tokens, min=1, max=128_000, step=256,
                               precision=0).classes('w-full').props('data-testid=settings-max-tokens') \
            .mark('settings-max-tokens')
        low, high = THINKING_BUDGETS
        thinking = ui.number('Thinking budget (tokens; 0 = off)', value=hub.room_settings.thinking_budget, min=0,
                             max=high, step=1024, precision=0).classes('w-full') \
            .props(f'data-testid=settings-thinking hint="Claude thinks visibly before it answers: {low:,} to '
                   f'{high:,} tokens, billed as output tokens on top of max tokens."').mark('settings-thinking')
        cannot_think = ui.label().classes('text-sm').props('data-testid=settings-thinking-note')

        def show_thinking_support() -> None:
            name = DEMO_MODEL if demo else model.value
            able = catalog.can_think(name)
            cannot_think.set_text(f'{name} cannot think: the thinking budget is not used with it.' if able is False
                                  else '')
            cannot_think.set_visibility(able is False)
        model.on_value_change(show_thinking_support)
        show_thinking_support()
        web_search = ui.switch('Let Claude search the web and cite its sources', value=hub.room_settings.web_search) \
            .props('data-testid=settings-web-search').mark('settings-web-search')
        ui.label(f'Up to {MAX_SEARCHES} searches per reply, ${SEARCH_PRICE * 1000:.0f} per 1,000 searches on top of '
                 'the tokens. The demo model cannot search.').classes('text-sm opacity-80')

        fields = {'title': title, 'system_prompt': system, 'model': model, 'max_tokens': max_tokens,
                  'reply_mode': reply_mode, 'thinking_budget': thinking, 'web_search': web_search}
        opened = {name: field.value for name, field in fields.items()}

        def save() -> None:
            """Send only what was changed here: someone else's change in another tab since this dialog opened stays,
            and an automatic title stays automatic."""
            defaults = hub.settings
            stored = {
                'title': title.value,
                'system_prompt': None if system.value == defaults.system_prompt else system.value,
                'model': None if model.value == defaults.model else model.value,
                'max_tokens': None if not max_tokens.value or max_tokens.value == defaults.max_tokens
                else int(max_tokens.value),
                'reply_mode': None if reply_mode.value == 'every' else reply_mode.value,
                'thinking_budget': int(thinking.value or 0), 'web_search': bool(web_search.value)}
            changes = {name: value for name, value in stored.items() if fields[name].value != opened[name]}
            try:
                if changes:
                    hub.configure(by=viewer.person, **changes)
            except MessageRejected as e:
                ui.notify(str(e), type='warning')
                return
            dialog.close()
        if sharing.can_renew:
            async def renew() -> None:
                await sharing.renew()
                ui.notify('New room link made: the old one no longer opens this room. Share the new one from '
                          'the Share button.', type='positive')
            with ui.row().classes('w-full items-center no-wrap gap-2'):
                ui.label('Room link: a new one shuts out everyone who came in with the old one.') \
                    .classes('text-sm text-gray-600')
                ui.button('New link', icon='autorenew', on_click=renew) \
                    .props('outline no-caps no-wrap data-testid=settings-new-link').style('flex-shrink: 0') \
                    .mark('settings-new-link')
        with ui.row().classes('w-full items-center gap-2'):
            if delete is not None:
                ui.button('Delete room', icon='delete',
                          on_click=lambda: confirm_delete(dialog, lambda: delete(viewer.person))) \
                    .props('flat color=negative data-testid=delete-room').mark('delete-room')
            with ui.row().classes('items-center no-wrap gap-2').style('margin-left: auto'):  # together on phones
                ui.button('Cancel', on_click=dialog.close).props('flat')
                ui.button('Save', on_click=save).props('data-testid=settings-save').mark('settings-save')
    dialog.open()


def confirm_delete(settings_dialog: ui.dialog, delete: Callable[[], Awaitable[None]]) -> None:
    with dialog_card('Delete this room for everyone?') as (dialog, _card):
        ui.label('Its file is kept in the trash folder of the data dir.').classes('text-sm text-gray-600')

        async def confirmed() -> None:
            dialog.close()
            settings_dialog.close()
            await delete()
        with ui.row().classes('w-full justify-end'):
            ui.button('Cancel', on_click=dialog.close).props('flat')
            ui.button('Delete', on_click=confirmed).props('color=negative data-testid=delete-confirm') \
                .mark('delete-confirm')
    dialog.open()
