"""Rooms: `python main.py --help` lists the options (see README.md)."""
from __future__ import annotations

import socket
import sys

from nicegui import ui

from chat.app import build
from chat.config import Settings, parse_settings, prepare_data_dir
from chat.errors import ConfigError


def main(argv: list[str]) -> None:
    try:
        settings = parse_settings(argv)
        prepare_data_dir(settings.data_dir)
        ensure_port_free(settings.host, settings.port)
    except ConfigError as e:
        sys.exit(f'rooms: {e}')
    build(settings)
    announce(settings)
    ui.run(host=settings.host, port=settings.port, title='Rooms', reload=False, show=settings.open_browser,
           native=settings.native, show_welcome_message=False, uvicorn_logging_level='warning',
           favicon='💬')


def ensure_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            raise ConfigError(f'cannot listen on {host}:{port} ({e.strerror}); is Rooms already running? '
                              f'Pick another port with --port') from e


def announce(settings: Settings) -> None:
    shown_host = 'localhost' if settings.host in {'127.0.0.1', '0.0.0.0'} else settings.host
    model = ('the offline demo model (no ANTHROPIC_API_KEY set)' if settings.uses_demo
             else f'{settings.model}' + (f' via {settings.base_url}' if settings.base_url else ''))
    print(f'Rooms is running at http://{shown_host}:{settings.port}/', flush=True)
    print(f'  replies from: {model}', flush=True)
    print(f'  rooms saved in: {settings.data_dir.resolve()}', flush=True)
    print('  stop with Ctrl+C', flush=True)


# Only '__main__': with reload off, '__mp_main__' is the native window's child process, which must not serve again.
if __name__ == '__main__':
    main(sys.argv[1:])
