"""Page chrome shared by every page: header, connection state, styles."""
from __future__ import annotations

import html
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nicegui import app, context, ui
from nicegui.client import Client

from ..config import Settings

STATIC = Path(__file__).parent / 'static'
STATIC_URL = '/rooms-static'
PRIMARY = '#2563eb'
"""Buttons' blue: white on it keeps 5:1 (Quasar's default is 3:1); rooms.css lightens it as text on dark."""


def register_static() -> None:
    app.add_static_files(STATIC_URL, STATIC)


@dataclass(slots=True)
class Header:
    title: ui.label
    tools: ui.row
    nav: ui.row
    """At the header's start, before the app name: the room switcher's button."""


_HEADERS: weakref.WeakKeyDictionary[Client, Header] = weakref.WeakKeyDictionary()


def header_of(client: Client) -> Header:
    """The header `frame()` built for this tab, for parts of a page built after it."""
    return _HEADERS[client]


@contextmanager
def frame(title: str, *, demo: str | None) -> Iterator[Header]:
    """Header with the app name, the page title and the live connection state; the page goes inside.

    Yields the header's title label, a row where a page puts its own buttons and one for its navigation.
    :param demo: why replies come from the demo model (`demo_reason`), shown in a banner; None when Claude answers
    """
    ui.page_title(f'{title} · Rooms')
    ui.add_head_html(f'<link rel="stylesheet" href="{STATIC_URL}/tailwind.css">'
                     f'<link rel="stylesheet" href="{STATIC_URL}/rooms.css">'
                     f'<script src="{STATIC_URL}/room.js" defer></script>'
                     f'<script src="{STATIC_URL}/attention.js" defer></script>')
    ui.colors(primary=PRIMARY, dark='#1b1e25', dark_page='#14161b')
    with ui.header().classes('app-header items-center no-wrap gap-2'):
        nav = ui.row().classes('items-center gap-1 header-nav')
        ui.link('Rooms', '/').classes('header-brand')
        title_label = ui.label(title).classes('header-title').props('data-testid=page-title')
        tools = ui.row().classes('header-tools items-center no-wrap gap-1')
        # room.js shows the theme in force in the icon, the label and aria-pressed (pressed: dark), and cycles it
        ui.button(icon='brightness_auto', on_click=lambda: ui.run_javascript('window.roomsCycleTheme()')) \
            .props('flat round dense color=white data-testid=theme-toggle aria-label="Theme: system" '
                   'aria-pressed=mixed title="Theme: as the system (click for dark)"')
        ui.button(icon='keyboard', on_click=shortcuts_dialog().open) \
            .props('flat round dense color=white data-testid=shortcuts aria-label="Keyboard shortcuts"') \
            .classes('header-shortcuts').tooltip('Keyboard shortcuts (?)')
        ui.html('<span class="conn-dot"></span><span class="conn-text">Connecting…</span>', sanitize=False) \
            .classes('connection text-white text-sm flex items-center gap-1') \
            .props('data-testid=connection data-state=connecting')
    if demo:
        banner = ui.row().classes('demo-banner w-full items-center no-wrap gap-2 px-4 py-2')
        with banner.props('data-testid=demo-banner').mark('demo-banner'):
            ui.icon('science')
            ui.html('<b>Demo mode</b>: replies come from the built-in offline demo model, nothing leaves this '
                    f'machine. {html.escape(demo)}', sanitize=False).classes('min-w-0')
    header = _HEADERS[context.client] = Header(title_label, tools, nav)
    yield header


def demo_reason(settings: Settings) -> str | None:
    """Why every reply comes from the offline demo model and who can change that; None when Claude answers."""
    if not settings.uses_demo:
        return None
    if not settings.api_key:
        return 'No API key is set: whoever runs Rooms can set ANTHROPIC_API_KEY and restart it to talk to Claude.'
    return ('Rooms was started with the demo model (--model demo): whoever runs it can restart it with a Claude model '
            'to talk to Claude.')


SHORTCUTS = [
    ('Enter', 'send the message'),
    ('Shift+Enter', 'new line in the message'),
    ('/', 'focus the message box'),
    ('Ctrl+Enter', 'send and ask Claude (in rooms where Claude answers mentions)'),
    ('@', 'mention Claude or someone here: arrows choose, Enter or Tab inserts'),
    ('Esc', 'close a dialog, menu or list; with none open, stop the reply (in the message box it first drops the '
            'quoted message)'),
    ('Alt+N', 'start a new room'),
    ('Ctrl+K', 'search rooms (home page)'),
    ('Alt+K', 'switch rooms: arrows move, Enter opens'),
    ('?', 'show this list'),
]


@contextmanager
def dialog_card(title: str) -> Iterator[tuple[ui.dialog, ui.card]]:
    """A dialog with a card inside, under a title that is its accessible name: Quasar puts role=dialog on the dialog's
    own element, which needs a name for screen readers to say what opened (axe: aria-dialog-name)."""
    with ui.dialog() as dialog, ui.card() as card:
        heading = ui.label(title).classes('text-lg font-semibold self-start').props('role=heading aria-level=2')
        dialog.props(f'aria-labelledby={heading.html_id}')
        yield dialog, card


def shortcuts_dialog() -> ui.dialog:
    """The keyboard shortcuts, opened from the header or with `?` (room.js clicks the header button)."""
    with dialog_card('Keyboard shortcuts') as (dialog, card):
        card.props('data-testid=shortcuts-dialog')
        for keys, meaning in SHORTCUTS:
            with ui.row().classes('w-full no-wrap items-baseline gap-3'):  # a key column: a phone wraps the meaning
                ui.html(f'<kbd>{keys}</kbd>', sanitize=False).style('flex: none; width: 6.5rem')
                ui.label(meaning).classes('min-w-0')
        ui.button('Close', on_click=dialog.close).props('flat')
    return dialog
