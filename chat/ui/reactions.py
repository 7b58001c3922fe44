"""Reactions on a message: the picker that adds one, and one chip per emoji in use that toggles your own."""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

from nicegui import ui

from ..models import REACTIONS

EMOJI_NAMES = {'👍': 'thumbs up', '❤️': 'heart', '😂': 'laughing', '🎉': 'celebrate', '🤔': 'thinking',
               '👀': 'looking', '🙏': 'thank you', '✅': 'done'}
"""What a screen reader says for each emoji (its own name for it varies by reader and is often long)."""


def reaction_picker(on_pick: Callable[[str], None]) -> ui.button:
    """The `react` action: a button opening a small menu of the reaction emoji (Tab moves through them, Esc closes).

    The emoji are made when the menu first opens: a picker under every message in every tab would otherwise be most
    of what showing a message costs the server (eight buttons each), for a menu most messages never open.
    """
    with ui.button(icon='add_reaction', color=None) \
            .props('flat dense no-caps data-testid=react aria-label="Add a reaction" aria-haspopup=menu') \
            .classes('msg-action').mark('react') as button:
        # above the button: the menu opens below it, and a tooltip there would cover the first emoji
        ui.tooltip('React').props('anchor="top middle" self="bottom middle"')
        # auto-close: a pick closes the menu in the browser at once, without waiting for the server
        menu = ui.menu().props('auto-close data-testid=reaction-picker').mark('reaction-picker')

    def fill() -> None:
        if menu.default_slot.children:
            return
        with menu, ui.row().classes('reaction-picker no-wrap gap-0'):
            for emoji in REACTIONS:
                pick = ui.button(emoji, on_click=partial(on_pick, emoji)) \
                    .props('flat dense no-caps role=menuitem data-testid=pick-reaction').mark('pick-reaction')
                pick.props['aria-label'] = f'React with {name_of(emoji)}'
                pick.props['data-emoji'] = emoji
    menu.on_value_change(lambda event: fill() if event.value else None)  # the browser says when it opens it
    return button


class ReactionChips:
    """The chips under one message; rebuilt only when who reacted with what changes, or who looks at them."""

    def __init__(self, on_toggle: Callable[[str], None]) -> None:
        self._on_toggle = on_toggle
        self.row = ui.row().classes('reactions gap-1').props('role=group aria-label="Reactions"')
        self._shown: object = None

    def show(self, reactions: dict[str, dict[str, str]], viewer_id: str | None) -> None:
        """Show `reactions` (emoji -> {participant id: name}); the viewer's own are pressed."""
        wanted = (tuple((emoji, tuple(people.items())) for emoji, people in reactions.items()), viewer_id)
        if wanted == self._shown:
            return  # another message's change, or a status change of this one: nothing to send to the browser
        self._shown = wanted
        self.row.clear()
        self.row.set_visibility(bool(reactions))
        with self.row:
            for emoji, people in reactions.items():
                self._chip(emoji, people, mine=viewer_id is not None and viewer_id in people)

    def _chip(self, emoji: str, people: dict[str, str], *, mine: bool) -> None:
        names = ', '.join(people.values())
        count = len(people)
        chip = ui.button(f'{emoji} {count}', on_click=partial(self._on_toggle, emoji)) \
            .props('flat dense no-caps data-testid=reaction').classes('reaction-chip').mark('reaction')
        with chip.props.suspend_updates():  # set as a dict: names and emoji are not for the props parser
            chip.props['data-emoji'] = emoji
            chip.props['data-count'] = str(count)
            chip.props['aria-pressed'] = 'true' if mine else 'false'
            chip.props['title'] = names  # a native tooltip: no component per chip
            chip.props['aria-label'] = f'{name_of(emoji)}, {count}: {names}' \
                                       f'{" (you reacted; press to take it back)" if mine else ""}'


def name_of(emoji: str) -> str:
    return EMOJI_NAMES.get(emoji, emoji)
