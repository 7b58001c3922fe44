"""Shared harness of the hostile HTTP tests (tests/test_hostile_http_*.py): the running apps (`python main.py` in a
subprocess), raw HTTP, and the checks several of those modules make.

Three apps serve each test module that asks for them: one with `--token`, one without, and one with
`--share --token --allow-host` (bound to 0.0.0.0, but reached on 127.0.0.1 only). Every request carries a browser's
User-Agent: NiceGUI answers Markdown to bot-like agents. Nothing may answer 500, crash a room, leak another room or
store half of something.
"""
from __future__ import annotations

import http.cookiejar
import json
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nicegui
import pytest
from browser_support import USER_AGENT, AppProcess, running_app
from test_access import websocket_status

from chat import transfer
from chat.links import RoomLinks

TOKEN = 'Owner-t0ken_for-hostile-http-01'
ALLOWED_NAME = 'rooms.example.test'
ASSET_CSS = f'/_nicegui/{nicegui.__version__}/static/nicegui.css'
ASSETS = ['/rooms-static/room.js', ASSET_CSS]
ROOMS = ('target', 'A', 'B', 'R', 'kept', 'exported')
"""Rooms every app gets at start (a message each, answered by the demo model)."""
MAX_IMPORT = transfer.MAX_IMPORT_BYTES


# The apps -----------------------------------------------------------------------------------------------------


@dataclass
class Site:
    """A running app with two clients: `owner` (the owner token as Bearer when the token is on) and `anon`."""

    app: AppProcess
    token: str | None
    owner: httpx.Client
    anon: httpx.Client

    @property
    def port(self) -> int:
        return self.app.port

    @property
    def host(self) -> str:
        return f'127.0.0.1:{self.port}'

    @property
    def origin(self) -> str:
        return f'http://{self.host}'

    @property
    def auth(self) -> dict[str, str]:
        return {'Authorization': f'Bearer {self.token}'} if self.token else {}

    def rooms(self) -> dict[str, tuple[str, int]]:
        response = self.owner.get('/api/rooms')
        assert response.status_code == 200, response.text
        return {room['id']: (room['title'], room['message_count']) for room in response.json()['rooms']}

    def messages(self, room: str) -> list[dict[str, Any]]:
        response = self.owner.get(f'/api/rooms/{room}/messages')
        if response.status_code == 404:
            return []
        assert response.status_code == 200, response.text
        return response.json()['messages']

    def files(self, busy: tuple[str, ...] = ()) -> list[str]:
        """What the data dir holds (room files, the links file), but for the files of `busy` rooms and the temp
        files of a write under way."""
        names = (str(path.relative_to(self.app.data_dir)) for path in self.app.data_dir.rglob('*'))
        return sorted(name for name in names if not re.fullmatch(r'\..*\.tmp', name)
                      and not any(name.startswith((f'{room}.', f'.{room}.')) for room in busy))

    def key(self, room: str) -> str:
        return RoomLinks(self.app.data_dir).key(room)  # read afresh: the app may have renewed it

    def post(self, room: str, text: str, **headers: str) -> httpx.Response:
        return self.owner.post(f'/api/rooms/{room}/messages', json={'text': text}, headers=headers)

    def wait_idle(self, *rooms: str, timeout: float = 20.0) -> None:
        """Until each room's last message is a finished reply (the demo model answers every message)."""
        deadline = time.monotonic() + timeout
        for room in rooms:
            while True:
                messages = self.messages(room)
                described = self.owner.get(f'/api/rooms/{room}').json()
                if messages and messages[-1]['role'] == 'assistant' and messages[-1]['status'] != 'streaming' \
                        and not described['streaming']:
                    break
                assert time.monotonic() < deadline, f'room {room} never became idle: {messages}'
                time.sleep(0.05)

    def state(self, *rooms: str, busy: tuple[str, ...] = ()) -> dict[str, Any]:
        """Everything a refused request must leave as it was (but for `busy` rooms that change meanwhile)."""
        return {
            'rooms': {room: summary for room, summary in self.rooms().items() if room not in busy},
            'files': self.files(busy),
            'messages': {room: [(m['id'], m['content'], m['status']) for m in self.messages(room)] for room in rooms},
            'settings': {room: self.owner.get(f'/api/rooms/{room}').json().get('settings') for room in rooms},
            'keys': {room: self.key(room) for room in rooms},
        }


def client(url: str, headers: dict[str, str] | None = None) -> httpx.Client:
    """A client with a browser's User-Agent that keeps no cookie: each request sends only what the test gives it."""
    jar = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(base_url=url, headers={'User-Agent': USER_AGENT, **(headers or {})}, cookies=jar,
                        follow_redirects=False, timeout=30)


def started(app: AppProcess, token: str | None) -> Site:
    site = Site(app, token, client(app.url, {'Authorization': f'Bearer {token}'} if token else {}), client(app.url))
    for room in ROOMS:
        assert site.post(room, f'hello from {room}').status_code == 201
    site.wait_idle(*ROOMS)
    return site


@contextmanager
def serving(tmp: Path, token: str | None, *args: str) -> Iterator[Site]:
    with running_app(tmp / 'data', *args) as app:
        site = started(app, token)
        try:
            yield site
        finally:
            site.owner.close()
            site.anon.close()
            alive = app.process.poll() is None
            log = app.log
            assert alive, f'the app died: {log[-3000:]}'
            assert 'Traceback' not in log and ' 500' not in log, f'the app logged a crash: {log[-5000:]}'


SITE_ARGS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    'token': (TOKEN, ('--token', TOKEN, '--model', 'demo')),
    'open': (None, ('--model', 'demo')),
    'share': (TOKEN, ('--share', '--token', TOKEN, '--allow-host', ALLOWED_NAME, '--model', 'demo')),
}


@pytest.fixture(scope='module')
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Site]]:
    """The three apps, started side by side: each start (and its first replies) takes seconds."""
    folders = {kind: tmp_path_factory.mktemp(kind) for kind in SITE_ARGS}
    with ExitStack() as stack, ThreadPoolExecutor(len(SITE_ARGS)) as pool:
        def start(kind: str) -> Site:
            token, args = SITE_ARGS[kind]
            return stack.enter_context(serving(folders[kind], token, *args))
        yield dict(zip(SITE_ARGS, pool.map(start, SITE_ARGS), strict=True))


@pytest.fixture(scope='module')
def token_site(sites: dict[str, Site]) -> Site:
    return sites['token']


@pytest.fixture(scope='module')
def open_site(sites: dict[str, Site]) -> Site:
    return sites['open']


@pytest.fixture(scope='module')
def share_site(sites: dict[str, Site]) -> Site:
    return sites['share']


def site_of(request: pytest.FixtureRequest, kind: str) -> Site:
    return request.getfixturevalue(f'{kind}_site')


# Raw HTTP -----------------------------------------------------------------------------------------------------


def raw_request(port: int, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b'',
                host: str | None = '', version: str = 'HTTP/1.1') -> tuple[int, httpx.Headers, bytes]:
    """One request written byte for byte (httpx would normalise the path); host '' means 127.0.0.1:port, None none."""
    lines = [f'{method} {target} {version}']
    if host is not None:
        lines.append(f'Host: {host or f"127.0.0.1:{port}"}')
    lines += [f'User-Agent: {USER_AGENT}', 'Connection: close', *(f'{k}: {v}' for k, v in (headers or {}).items())]
    if (body or method in {'POST', 'PUT', 'PATCH'}) and 'content-length' not in {k.lower() for k in headers or {}}:
        lines.append(f'Content-Length: {len(body)}')
    with socket.create_connection(('127.0.0.1', port), timeout=15) as connection:
        connection.sendall(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1') + body)
        chunks = []
        while data := connection.recv(65536):
            chunks.append(data)
    head, _, content = b''.join(chunks).partition(b'\r\n\r\n')
    status_line, *header_lines = head.decode('latin-1').split('\r\n')
    pairs = [tuple(part.strip() for part in line.split(':', 1)) for line in header_lines]
    return int(status_line.split()[1]), httpx.Headers(pairs), content


def upgrade_status(port: int, host: str | None, headers: dict[str, str]) -> int:
    """test_access.websocket_status with any `Host` (None: no Host line at all)."""
    return websocket_status(port, {'User-Agent': USER_AGENT, **headers}, host)


def is_json_error(response: httpx.Response | tuple[int, httpx.Headers, bytes]) -> bool:
    """An answer whose body is a JSON object with an "error" string."""
    if isinstance(response, tuple):
        _, headers, content = response
    else:
        headers, content = response.headers, response.content
    if not headers.get('content-type', '').startswith('application/json'):
        return False
    try:
        document = json.loads(content)
    except ValueError:
        return False
    return isinstance(document, dict) and isinstance(document.get('error'), str) and bool(document['error'])


def lone_surrogates(value: Any) -> list[str]:
    """Every string in a parsed JSON document that holds a lone UTF-16 surrogate."""
    if isinstance(value, str):
        return [value] if any('\ud800' <= char <= '\udfff' for char in value) else []
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in lone_surrogates(key) + lone_surrogates(item)]
    if isinstance(value, list):
        return [s for item in value for s in lone_surrogates(item)]
    return []


# Checks shared by several modules -----------------------------------------------------------------------------


def assert_guarded(label: str, headers: httpx.Headers) -> None:
    assert headers.get('x-frame-options', '').upper() == 'DENY', (label, dict(headers))
    assert "frame-ancestors 'none'" in headers.get('content-security-policy', ''), (label, dict(headers))
    assert headers.get('referrer-policy'), (label, dict(headers))
    assert headers.get('x-content-type-options', '').lower() == 'nosniff', (label, dict(headers))


DEEP = '[' * 10_000 + ']' * 10_000
LONE_ESCAPE = re.compile(r'\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])'
                         r'|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}')
"""A JSON or JavaScript escape of a lone surrogate: a high one without its low one, or a low one alone."""


def assert_healthy_room(site: Site, room: str) -> list[dict[str, Any]]:
    """The room's page, its API, the room list and the home page answer 200 in UTF-8, without lone surrogates."""
    for path in (f'/room/{room}', '/', f'/api/rooms/{room}/messages', '/api/rooms', f'/api/rooms/{room}',
                 f'/api/rooms/{room}/export.json', f'/api/rooms/{room}/export.md', '/api/search?q=the'):
        response = site.owner.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:300])
        text = response.content.decode('utf-8')  # strict: a lone surrogate cannot be in UTF-8
        assert LONE_ESCAPE.search(text) is None, (path, LONE_ESCAPE.search(text))
        if path.startswith('/api/') and not path.endswith('.md'):
            assert not lone_surrogates(json.loads(text)), (path, lone_surrogates(json.loads(text))[:3])
    messages = site.messages(room)
    assert [m['seq'] for m in messages] == list(range(1, len(messages) + 1))
    assert all(m['status'] != 'streaming' for m in messages)
    assert site.app.process.poll() is None
    return messages
