"""The native desktop window (`--native`): NiceGUI's native mode, pywebview with its Qt backend on Linux.

NiceGUI opens the window in a child process and stops the app (running `on_shutdown`, which saves every
room) when that process ends, i.e. when the window is closed. The server keeps listening on its host
while the window is open, so `--native --share` still serves the LAN.
"""
from __future__ import annotations

import os
import sys

from nicegui import app

from .. import share
from ..config import Settings

WINDOW_SIZE = (1100, 800)


def configure(settings: Settings) -> None:
    """Point the window at the app (with the token, which a window cannot be asked for) and pick the GUI backend."""
    if not settings.native:
        return
    app.native.window_args.update(url=share.native_window_url(settings), width=WINDOW_SIZE[0],
                                  height=WINDOW_SIZE[1])
    if sys.platform.startswith('linux'):
        # pywebview tries GTK first; the `native` extra installs Qt, which needs no system Python bindings
        app.native.start_args.setdefault('gui', 'qt')
        if hasattr(os, 'geteuid') and os.geteuid() == 0:
            # Qt WebEngine (Chromium) refuses to start as root with its sandbox on, as in containers and CI;
            # the window only ever shows this app's own pages
            os.environ.setdefault('QTWEBENGINE_DISABLE_SANDBOX', '1')
