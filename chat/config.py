"""Settings: the only module that reads the command line and the environment."""
from __future__ import annotations

import argparse
import os
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from .errors import ConfigError
from .pricing import DEFAULT_PRICES, parse_prices

DEFAULT_MODEL = 'claude-sonnet-5-5'
"""The newest Sonnet in the SDK's model list that is not on its deprecation list."""
DEMO_MODEL = 'demo'


@dataclass(slots=True, frozen=True)
class Settings:
    host: str = '127.0.0.1'
    """Interface to bind; `--share` makes it 0.0.0.0."""
    port: int = 8080
    """TCP port of the web server."""
    data_dir: Path = Path('data')
    """Where room files live, one TinyDB file per room."""
    model: str = DEFAULT_MODEL
    """Default model of new rooms; `demo` is the built-in offline model."""
    share: bool = False
    """Serve the LAN: bind 0.0.0.0, require the token, print the links."""
    token: str | None = None
    """The access token; None means no token is checked."""
    native: bool = False
    """Open a desktop window instead of a browser tab."""
    open_browser: bool = True
    """Open a browser tab at start."""
    allowed_hosts: tuple[str, ...] = ()
    """Extra `Host` names the app answers to (--allow-host, env CHAT_ALLOWED_HOSTS): a reverse proxy, a LAN name."""
    api_key: str | None = field(default=None, repr=False)
    """ANTHROPIC_API_KEY; never shown or sent to a browser."""
    base_url: str | None = None
    """ANTHROPIC_BASE_URL: any Anthropic-compatible server."""
    max_message_chars: int = 100_000
    """Longer messages are refused before they reach the store or the model (env CHAT_MAX_MESSAGE_CHARS)."""
    max_tokens: int = 4096
    """Upper bound of one reply's length in tokens."""
    checkpoint_interval: float = 1.0
    """Seconds between saves of a growing reply: what a crash can lose at most."""
    demo_delay: float = 0.03
    """Seconds between words of the offline demo model."""
    system_prompt: str = 'You are Claude, a helpful assistant in a shared chat room. Answer in Markdown.'
    """Default system prompt of every room."""
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    """Dollars per million input/output tokens per model family (env CHAT_PRICES=sonnet=3/15,...)."""

    @property
    def uses_demo(self) -> bool:
        """True when replies come from the offline demo model (no key, or `--model demo`)."""
        return self.model == DEMO_MODEL or not self.api_key

    @property
    def token_required(self) -> bool:
        return self.token is not None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigError(f'{message} (see --help)')


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description='Rooms: real-time chat rooms with Claude.')
    parser.add_argument('--host', default=None, help='interface to bind (default 127.0.0.1)')
    parser.add_argument('--port', type=int, default=8080, help='port (default 8080)')
    parser.add_argument('--data-dir', default=None, help='where rooms are stored (env CHAT_DATA_DIR, default data)')
    parser.add_argument('--model', default=None, help=f'default model of new rooms (env CHAT_MODEL, default '
                        f'{DEFAULT_MODEL}); "demo" is the built-in offline model')
    parser.add_argument('--share', action='store_true', help='serve the LAN behind an access token')
    parser.add_argument('--token', default=None, help='the access token (env CHAT_TOKEN; default random per start)')
    parser.add_argument('--native', action='store_true', help='open in a native desktop window')
    parser.add_argument('--no-browser', action='store_true', help='do not open a browser tab at start')
    parser.add_argument('--allow-host', action='append', default=[], metavar='NAME',
                        help='an extra host name to answer to, e.g. behind a reverse proxy (repeatable; '
                        'env CHAT_ALLOWED_HOSTS, comma-separated)')
    return parser


def parse_settings(argv: Sequence[str], environ: Mapping[str, str] | None = None, prog: str = 'python main.py'
                   ) -> Settings:
    """Build Settings from argv and the environment; raises ConfigError with a one-line reason.

    :param prog: how the command was started, for --help (`rooms`, `python -m chat`)
    """
    env = os.environ if environ is None else environ
    args = _parser(prog).parse_args(list(argv))
    if not 0 < args.port < 65536:
        raise ConfigError(f'--port must be between 1 and 65535, not {args.port}')
    token = args.token or env.get('CHAT_TOKEN') or None
    if args.share and token is None:
        token = secrets.token_urlsafe(24)
    if token is not None and len(token) < 8:
        raise ConfigError('the access token must have at least 8 characters')
    limit = env.get('CHAT_MAX_MESSAGE_CHARS', '100000').strip()
    if not limit.isdigit() or int(limit) < 1:
        raise ConfigError(f'CHAT_MAX_MESSAGE_CHARS must be a positive whole number, not {limit!r}')
    try:
        prices = {**DEFAULT_PRICES, **parse_prices(env.get('CHAT_PRICES', ''))}
    except ValueError as e:
        raise ConfigError(f'CHAT_PRICES: {e}') from e
    model = (args.model or env.get('CHAT_MODEL') or DEFAULT_MODEL).strip()
    if not model:
        raise ConfigError('--model must not be empty')
    allowed_hosts = tuple(_host_names([*args.allow_host, *env.get('CHAT_ALLOWED_HOSTS', '').split(',')]))
    return Settings(
        host=args.host or ('0.0.0.0' if args.share else '127.0.0.1'),
        port=args.port,
        data_dir=Path(args.data_dir or env.get('CHAT_DATA_DIR') or 'data'),
        model=model,
        share=args.share,
        token=token,
        native=args.native,
        open_browser=not args.no_browser and not args.native,
        allowed_hosts=allowed_hosts,
        api_key=env.get('ANTHROPIC_API_KEY') or None,
        base_url=env.get('ANTHROPIC_BASE_URL') or None,
        prices=prices,
        max_message_chars=int(limit),
    )


HOST_NAME = re.compile(r'[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?)*|\[[0-9a-f:.]+\]')


def _host_names(values: Sequence[str]) -> list[str]:
    """`--allow-host` names, lower case; raises ConfigError for anything that is not a host name or address."""
    names = []
    for value in (v.strip().lower().rstrip('.') for v in values):
        if not value:
            continue
        if HOST_NAME.fullmatch(value) is None or len(value) > 253:
            raise ConfigError(f'--allow-host {value!r} is not a host name (give a name like rooms.example.org or an '
                              'address, without scheme or port)')
        names.append(value.strip('[]'))
    return names


def prepare_data_dir(path: Path) -> Path:
    """Create the data dir if missing and prove it is writable; raises ConfigError otherwise."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f'.write-test-{os.getpid()}'
        probe.write_bytes(b'')
        probe.unlink()
    except OSError as e:
        raise ConfigError(f'data dir {str(path)!r} is not usable: {e.strerror or e}') from e
    return path.resolve()
