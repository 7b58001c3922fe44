"""Page chrome shared by every page: header, connection state, styles."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from nicegui import app, ui

STATIC = Path(__file__).parent / 'static'
STATIC_URL = '/rooms-static'


def register_static() -> None:
    app.add_static_files(STATIC_URL, STATIC)


@contextmanager
def frame(title: str, *, demo: bool) -> Iterator[None]:
    """Header with the app name, the page title and the live connection state; the page goes inside."""
    ui.page_title(f'{title} · Rooms')
    ui.add_head_html(f'<link rel="stylesheet" href="{STATIC_URL}/rooms.css">'
                     f'<script src="{STATIC_URL}/room.js" defer></script>')
    with ui.header().classes('items-center gap-3 px-4 py-2 bg-slate-800'):
        ui.link('Rooms', '/').classes('text-lg font-bold text-white no-underline')
        ui.label(title).classes('text-white opacity-80 truncate').props('data-testid=page-title')
        ui.space()
        ui.html('<span class="conn-dot"></span><span class="conn-text">Connecting…</span>', sanitize=False) \
            .classes('connection text-white text-sm flex items-center gap-1') \
            .props('data-testid=connection data-state=connecting')
    if demo:
        banner = ui.row().classes('demo-banner w-full items-center gap-2 px-4 py-2')
        with banner.props('data-testid=demo-banner').mark('demo-banner'):
            ui.icon('science')
            ui.html('<b>Demo mode</b>: replies come from the built-in offline demo model, nothing leaves this '
                    'machine. Set <code>ANTHROPIC_API_KEY</code> and restart to talk to Claude.', sanitize=False)
    yield
