"""The command line: `rooms`, `python -m chat` and `python main.py` all run `main` (see README.md)."""
from __future__ import annotations

import contextlib
import socket
import sys
from pathlib import Path

from fastapi.middleware.gzip import GZipMiddleware
from nicegui import ui
from starlette.types import ASGIApp

from . import share
from .app import build
from .config import Settings, parse_settings, prepare_data_dir
from .errors import ConfigError
from .links import RoomLinks
from .store import RoomStore
from .ui import native


def run() -> None:
    """The `rooms` console script."""
    main(sys.argv[1:], prog='rooms')


def main(argv: list[str], prog: str = 'python main.py') -> None:
    # --native opens the window in a child process (multiprocessing spawn) that re-runs the entry script (main.py,
    # bin/rooms) as '__mp_main__': each entry calls main() only under `if __name__ == '__main__'`, never there.
    try:
        settings = parse_settings(argv, prog=prog)
        prepare_data_dir(settings.data_dir)
        ensure_port_free(settings.host, settings.port)
    except ConfigError as e:
        sys.exit(f'rooms: {e}')
    links = RoomLinks(settings.data_dir)
    build(settings, links)
    native.configure(settings)
    announce(settings, links)
    ui.run(host=settings.host, port=settings.port, title='Rooms', reload=False, language='en-US',
           show=share.start_path(settings) if settings.open_browser else False,
           native=settings.native, show_welcome_message=False, uvicorn_logging_level='warning', favicon='💬',
           tailwind=False,  # its classes come compiled in chat/ui/static/tailwind.css, not compiled on every load
           gzip_middleware_factory=fast_gzip,
           ws_per_message_deflate=False)  # deltas are tiny: compressing each costs more than it saves


def fast_gzip(app: ASGIApp) -> GZipMiddleware:
    """Starlette's default level 9 takes longer to compress Quasar's 500 kB than a LAN takes to send it."""
    return GZipMiddleware(app, minimum_size=1000, compresslevel=1)


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise ConfigError(f'cannot listen on {host}:{port} ({e.strerror}); is Rooms already running? '
                              f'Pick another port with --port') from e


def announce(settings: Settings, links: RoomLinks) -> None:
    lan = share.lan_host(settings) if settings.share else None
    print(share.startup_message(settings, lan, share.new_room_id(), links, recent_rooms(settings.data_dir)), flush=True)


def recent_rooms(data_dir: Path, count: int = 10) -> list[str]:
    """The ids of the rooms written to most recently, newest first: the ones whose links the owner may want now."""
    store = RoomStore(data_dir)
    stamped = []
    for room_id in store.room_ids():
        with contextlib.suppress(OSError):
            stamped.append((store.path_of(room_id).stat().st_mtime, room_id))
    return [room_id for _, room_id in sorted(stamped, reverse=True)[:count]]
