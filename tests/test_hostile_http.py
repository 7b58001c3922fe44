"""Hostile HTTP against the running app (`python main.py` in a subprocess): foreign hosts and origins, room links
used where they do not belong, open redirects, framing headers, hostile imports, floods and bad messages.

Nothing may answer 500, crash a room, leak another room or store half of something. Three apps serve the whole
module: one with `--token`, one without, and one with `--share --token --allow-host` (bound to 0.0.0.0, but reached
on 127.0.0.1 only). Every request carries a browser's User-Agent: NiceGUI answers Markdown to bot-like agents.
"""
from __future__ import annotations

import copy
import http.cookiejar
import json
import re
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nicegui
import pytest
from browser_support import AppProcess, running_app
from test_access import SOCKET_POLL, websocket_status

from chat import transfer
from chat.links import RoomLinks
from chat.share import lan_address

UA = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120 Safari/537.36'
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
    return httpx.Client(base_url=url, headers={'User-Agent': UA, **(headers or {})}, cookies=jar,
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
    lines += [f'User-Agent: {UA}', 'Connection: close', *(f'{k}: {v}' for k, v in (headers or {}).items())]
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
    return websocket_status(port, {'User-Agent': UA, **headers}, host)


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


# 1. A foreign Host --------------------------------------------------------------------------------------------

FOREIGN_HOSTS = ['evil.example', 'evil.example:{port}', '127.0.0.1.evil.example', '127.0.0.1.evil.example:{port}',
                 'localhost.evil.example', 'localhost.evil.example:{port}', 'EVIL.example.', 'localhost@evil.example',
                 '0.0.0.0:{port}', '[::2]:{port}', '10.11.12.13:{port}', '',
                 'localhost:{port}.evil.example', '127.0.0.1:1@evil.example', '[::1]evil.example']  # malformed


@pytest.mark.parametrize('host', FOREIGN_HOSTS)
@pytest.mark.parametrize('kind', ['token', 'open'])
def test_a_foreign_host_is_refused_on_every_route_and_changes_nothing(
        request: pytest.FixtureRequest, kind: str, host: str) -> None:
    site = site_of(request, kind)
    host = host.format(port=site.port)
    export = site.owner.get('/api/rooms/exported/export.json').content
    before = site.state('target')
    # a DNS-rebinding page sends its own name as Host, and its own origin: the same name
    headers = {**site.auth, 'Host': host}
    posting = {**headers, **({'Origin': f'http://{host}'} if host else {})}
    answers: list[tuple[str, httpx.Response]] = [
        (path, site.anon.get(path, headers=headers))
        for path in ['/', '/room/x', '/room/target', '/healthz', '/api/rooms', '/api/rooms/target/messages',
                     '/api/rooms/target/export.json', *ASSETS, SOCKET_POLL]]
    answers += [
        ('POST import', site.anon.post('/api/rooms/import', content=export, headers=posting)),
        ('POST message new room', site.anon.post('/api/rooms/x/messages', json={'text': 'rebound'}, headers=posting)),
        ('POST message', site.anon.post('/api/rooms/target/messages', json={'text': 'rebound'}, headers=posting)),
        ('PATCH room', site.anon.patch('/api/rooms/target', json={'title': 'rebound'}, headers=posting)),
        ('POST renew', site.anon.post('/api/rooms/target/share/renew', headers=posting)),
    ]
    problems = [f'{label}: {r.status_code} {r.text[:120]!r}' for label, r in answers if r.status_code != 403]
    problems += [f'{label}: not a JSON error: {r.text[:120]!r}' for label, r in answers
                 if r.status_code == 403 and r.request.url.path.startswith('/api/') and not is_json_error(r)]
    if (status := upgrade_status(site.port, host, {**site.auth, 'Origin': f'http://{host}'})) != 403:
        problems.append(f'websocket upgrade: {status}')
    assert not problems, f'Host {host!r}: {problems}'
    assert site.state('target') == before
    assert 'x' not in site.rooms()


@pytest.mark.parametrize('kind', ['token', 'open'])
def test_a_request_without_any_host_is_refused(request: pytest.FixtureRequest, kind: str) -> None:
    site = site_of(request, kind)
    before = site.state('target')
    for method, path, body in [('GET', '/', b''), ('GET', '/api/rooms', b''), ('GET', ASSET_CSS, b''),
                               ('POST', '/api/rooms/x/messages', b'{"text": "no host"}')]:
        status, _, _ = raw_request(site.port, method, path, site.auth, body, host=None, version='HTTP/1.0')
        assert status == 403, (method, path, status)
    assert upgrade_status(site.port, None, site.auth) in {400, 403}
    assert site.state('target') == before and 'x' not in site.rooms()


# 2. The host names the app answers to -------------------------------------------------------------------------

LOOPBACK_HOSTS = ['localhost:{port}', '127.0.0.1:{port}', '[::1]:{port}', 'app.localhost:{port}', 'LocalHost:{port}',
                  '127.0.0.1']


def assert_answers(site: Site, host: str) -> None:
    """Pages, the API, assets and both socket transports answer normally under this `Host`."""
    headers = {**site.auth, 'Host': host}
    for path in ('/', '/room/target'):
        page = site.anon.get(path, headers=headers)
        assert page.status_code == 200 and page.headers['content-type'].startswith('text/html'), (host, path)
    listing = site.anon.get('/api/rooms', headers=headers)
    assert listing.status_code == 200 and 'target' in {room['id'] for room in listing.json()['rooms']}, host
    for asset in ASSETS:
        assert site.anon.get(asset, headers=headers).status_code == 200, (host, asset)
    poll = site.anon.get(SOCKET_POLL, headers={**headers, 'Origin': f'http://{host}'})
    assert poll.status_code == 200 and poll.text.startswith('0{"sid"'), (host, poll.status_code, poll.text[:100])
    assert upgrade_status(site.port, host, {**site.auth, 'Origin': f'http://{host}'}) == 101, host
    stop = site.anon.post('/api/rooms/target/stop', headers={**headers, 'Origin': f'http://{host}'})
    assert stop.status_code == 200 and stop.json() == {'stopped': False}, (host, stop.text)


@pytest.mark.parametrize('host', LOOPBACK_HOSTS)
@pytest.mark.parametrize('kind', ['token', 'open', 'share'])
def test_loopback_names_are_answered(request: pytest.FixtureRequest, kind: str, host: str) -> None:
    site = site_of(request, kind)
    assert_answers(site, host.format(port=site.port))


def machine_hosts() -> list[str]:
    hostname = socket.gethostname()
    names = [hostname] if hostname.lower() not in {'localhost', ''} else []
    return names + ([lan] if (lan := lan_address()) is not None else [])


def test_the_share_app_answers_its_allowed_name_and_this_machines_names(share_site: Site) -> None:
    for name in [ALLOWED_NAME, ALLOWED_NAME.upper(), *machine_hosts()]:
        for host in (name, f'{name}:{share_site.port}'):
            assert_answers(share_site, host)


def assert_refused_names(site: Site, names: list[str]) -> None:
    for name in names:
        for host in (name, f'{name}:{site.port}'):
            for path in ('/', '/api/rooms', SOCKET_POLL):
                response = site.anon.get(path, headers={**site.auth, 'Host': host})
                assert response.status_code == 403, (host, path, response.status_code)
            assert upgrade_status(site.port, host, site.auth) == 403, host


@pytest.mark.parametrize('kind', ['token', 'open'])
def test_without_share_this_machines_name_and_unlisted_names_are_refused(request: pytest.FixtureRequest,
                                                                         kind: str) -> None:
    hostname = socket.gethostname()
    names = [ALLOWED_NAME, *([hostname] if hostname.lower() not in {'localhost', ''} else [])]
    assert_refused_names(site_of(request, kind), names)


@pytest.mark.parametrize('kind', ['token', 'open'])
def test_without_share_the_lan_address_is_refused(request: pytest.FixtureRequest, kind: str) -> None:
    if (lan := lan_address()) is None:
        pytest.skip('this machine has no LAN address')
    assert_refused_names(site_of(request, kind), [lan])


# 3. A foreign Origin or Referer -------------------------------------------------------------------------------

FOREIGN_ORIGINS = ['http://evil.example', 'https://evil.example', 'null', 'http://evil.example:{port}',
                   'http://127.0.0.1:{port}.evil.example', 'http://localhost.evil.example:{port}', 'http://127.0.0.1:1',
                   'http://127.0.0.1', 'http://localhost:{port}', 'http://[::1]:{port}',
                   'http://127.0.0.1:{port}@evil.example', 'file://', 'chrome-extension://abcdefghijklmnop', '']
FOREIGN_REFERERS = ['http://evil.example/', 'http://evil.example:{port}/room/target',
                    'https://127.0.0.1.evil.example/room/target', 'http://127.0.0.1:{port}.evil.example/',
                    'http://localhost:{port}/room/target', 'about:blank']
STATE_CHANGING = [
    ('POST', '/api/rooms/import', 'EXPORT'),
    ('POST', '/api/rooms/target/messages', {'text': 'forged'}),
    ('POST', '/api/rooms/forged/messages', {'text': 'forged'}),
    ('PATCH', '/api/rooms/target', {'title': 'forged title', 'max_tokens': 7}),
    ('POST', '/api/rooms/target/stop', None),
    ('POST', '/api/rooms/target/share/renew', None),
]


def foreign_headers(site: Site) -> list[dict[str, str]]:
    sets = [{'Origin': origin.format(port=site.port)} for origin in FOREIGN_ORIGINS]
    sets += [{'Referer': referer.format(port=site.port)} for referer in FOREIGN_REFERERS]
    sets.append({'Origin': 'http://evil.example', 'Referer': f'{site.origin}/room/target'})  # the Origin decides
    return sets


@pytest.mark.parametrize(('method', 'path', 'body'), STATE_CHANGING, ids=[f'{m} {p}' for m, p, _ in STATE_CHANGING])
@pytest.mark.parametrize('kind', ['token', 'open'])
def test_a_foreign_origin_or_referer_changes_nothing(request: pytest.FixtureRequest, kind: str, method: str,
                                                     path: str, body: dict[str, Any] | str | None) -> None:
    site = site_of(request, kind)
    content = (site.owner.get('/api/rooms/exported/export.json').content if body == 'EXPORT'
               else b'' if body is None else json.dumps(body).encode())
    before = site.state('target')
    problems = []
    for extra in foreign_headers(site):
        response = site.anon.request(method, path, content=content,
                                     headers={**site.auth, 'Content-Type': 'application/json', **extra})
        if response.status_code != 403 or not is_json_error(response):
            problems.append(f'{extra}: {response.status_code} {response.text[:100]!r}')
    assert not problems, problems
    assert site.state('target') == before
    assert 'forged' not in site.rooms()


@pytest.mark.parametrize('kind', ['token', 'open'])
def test_same_origin_pages_and_scripts_without_origin_may_change_things(request: pytest.FixtureRequest,
                                                                        kind: str) -> None:
    site = site_of(request, kind)
    room = f'same-origin-{kind}'
    variants = [{'Origin': site.origin}, {'Referer': f'{site.origin}/room/{room}'}, {}]
    for number, extra in enumerate(variants):
        response = site.anon.post(f'/api/rooms/{room}/messages', json={'text': f'hello {number}'},
                                  headers={**site.auth, **extra})
        assert response.status_code == 201, (extra, response.text)
    assert [m['content'] for m in site.messages(room) if m['role'] == 'user'] == ['hello 0', 'hello 1', 'hello 2']
    for extra in variants:
        title = f'title {len(extra)} {list(extra)}'
        response = site.anon.patch(f'/api/rooms/{room}', json={'title': title}, headers={**site.auth, **extra})
        assert response.status_code == 200 and response.json()['settings']['title'] == title, response.text
        assert site.rooms()[room][0] == title
        assert site.anon.post(f'/api/rooms/{room}/stop', headers={**site.auth, **extra}).status_code == 200
        key = site.key(room)
        renewed = site.anon.post(f'/api/rooms/{room}/share/renew', headers={**site.auth, **extra})
        assert renewed.status_code == 200 and site.key(room) != key, renewed.text
        export = site.owner.get('/api/rooms/exported/export.json').content
        imported = site.anon.post('/api/rooms/import', content=export, headers={**site.auth, **extra})
        assert imported.status_code == 201 and imported.json()['room'] in site.rooms(), imported.text


@pytest.mark.parametrize('kind', ['token', 'open'])
def test_a_foreign_stop_does_not_stop_a_reply(request: pytest.FixtureRequest, kind: str) -> None:
    site = site_of(request, kind)
    room = f'stopper-{kind}'

    def streaming_reply() -> None:
        assert site.post(room, 'write me a reply').status_code == 201
        deadline = time.monotonic() + 10
        while not site.owner.get(f'/api/rooms/{room}').json()['streaming']:
            assert time.monotonic() < deadline, 'the reply never started'
            time.sleep(0.01)

    streaming_reply()
    for extra in ({'Origin': 'http://evil.example'}, {'Origin': 'null'}, {'Referer': 'http://evil.example/x'}):
        refused = site.anon.post(f'/api/rooms/{room}/stop', headers={**site.auth, **extra})
        assert refused.status_code == 403 and is_json_error(refused)
    site.wait_idle(room)
    assert site.messages(room)[-1]['status'] == 'complete', 'a foreign stop stopped the reply'
    streaming_reply()
    stopped = site.anon.post(f'/api/rooms/{room}/stop', headers={**site.auth, 'Origin': site.origin})
    assert stopped.status_code == 200 and stopped.json() == {'stopped': True}
    site.wait_idle(room)
    assert site.messages(room)[-1]['status'] == 'stopped'


@pytest.mark.parametrize('kind', ['token', 'open'])
def test_a_socket_with_a_foreign_origin_is_refused(request: pytest.FixtureRequest, kind: str) -> None:
    site = site_of(request, kind)
    for origin in ['http://evil.example', 'null', f'http://evil.example:{site.port}', f'http://localhost:{site.port}',
                   'http://127.0.0.1:1', f'https://127.0.0.1:{site.port}.evil.example', '']:
        assert websocket_status(site.port, {**site.auth, 'Origin': origin}) == 403, origin
        poll = site.anon.get(SOCKET_POLL, headers={**site.auth, 'Origin': origin})
        assert poll.status_code == 403 and is_json_error(poll), (origin, poll.status_code, poll.text[:100])
    assert websocket_status(site.port, {**site.auth, 'Origin': site.origin}) == 101
    assert websocket_status(site.port, site.auth) == 101
    assert site.anon.get(SOCKET_POLL, headers={**site.auth, 'Origin': site.origin}).status_code == 200


# 4. Room links ------------------------------------------------------------------------------------------------


def room_cookie(site: Site, room: str, response: httpx.Response) -> str:
    """The `Cookie` header value a browser sends after this 303: the room cookie it set (and only that)."""
    name = f'rooms_room_{site.port}_{room}'
    set_cookies = response.headers.get_list('set-cookie')
    assert not any(c.startswith(f'rooms_access_{site.port}=') for c in set_cookies), 'a room key set the owner cookie'
    mine = [c for c in set_cookies if c.startswith(f'{name}=')]
    assert len(mine) == 1, set_cookies
    pair, *flags = [part.strip() for part in mine[0].split(';')]
    assert {'httponly', 'samesite=lax', 'path=/'} <= {flag.lower() for flag in flags}
    assert site.key(room) not in pair, 'the cookie spells out the key'
    return pair


def key_of(share_url: str) -> str:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(share_url).query)['token'][0]


def client_id_of(page: httpx.Response) -> str:
    found = re.search(r'''["']client_id["']:\s*["']([^"']+)["']''', page.text)
    assert found is not None, 'no client id in the page'
    return found[1]


ROOM_A_GETS = ['/room/A', '/api/rooms/A', '/api/rooms/A/messages', '/api/rooms/A/export.json',
               '/api/rooms/A/export.md', *ASSETS]
NOT_ROOM_A = ['/', '/api/rooms', '/api/search?q=hello', '/api/search?q=x', '/room/B', '/room/new-room',
              '/api/rooms/B', '/api/rooms/B/messages', '/api/rooms/B/export.json', '/api/rooms/B/export.md']
NOT_ROOM_A_WRITES = [('POST', '/api/rooms/A/share/renew', None), ('POST', '/api/rooms/import', 'EXPORT'),
                     ('POST', '/api/rooms/B/messages', {'text': 'sneaking in'}),
                     ('PATCH', '/api/rooms/B', {'title': 'x'}),
                     ('POST', '/api/rooms/B/stop', None), ('POST', '/api/rooms/B/share/renew', None),
                     ('POST', '/api/rooms/new-room/messages', {'text': 'sneaking in'})]


def test_a_room_key_opens_its_room_and_nothing_else(token_site: Site) -> None:
    site = token_site
    key = site.key('A')
    described = site.owner.get('/api/rooms/A').json()
    assert key_of(described['share_url']) == key and described['share_url'].split('?')[0].endswith('/room/A')
    entered = site.anon.get(f'/room/A?token={key}')
    assert entered.status_code == 303 and entered.headers['location'] == '/room/A'
    cookie = {'Cookie': room_cookie(site, 'A', entered)}
    bearer = {'Authorization': f'Bearer {key}'}
    export = site.owner.get('/api/rooms/exported/export.json').content
    b_before = site.state('B', busy=('A',))
    for label, credential in (('cookie', cookie), ('bearer', bearer)):
        for path in ROOM_A_GETS:
            response = site.anon.get(path, headers=credential)
            assert response.status_code == 200, (label, path, response.status_code, response.text[:200])
            assert 'hello from B' not in response.text, (label, path)
        assert 'share_url' not in site.anon.get('/api/rooms/A', headers=credential).json(), 'the owner only'
        for path in NOT_ROOM_A:
            response = site.anon.get(path, headers=credential)
            assert response.status_code == 403, (label, path, response.status_code)
            assert 'hello from B' not in response.text and key not in response.text
            if path.startswith('/api/'):
                assert is_json_error(response), (label, path, response.text[:200])
        for method, path, body in NOT_ROOM_A_WRITES:
            content = export if body == 'EXPORT' else b'' if body is None else json.dumps(body).encode()
            response = site.anon.request(method, path, content=content, headers=credential)
            assert response.status_code == 403 and is_json_error(response), (label, method, path, response.text)
        posted = site.anon.post('/api/rooms/A/messages', json={'text': f'by the room link ({label})'},
                                headers=credential)
        assert posted.status_code == 201, (label, posted.text)
    for path in NOT_ROOM_A:  # the key in the URL: refused before any redirect, and no cookie for it
        response = site.anon.get(path + ('&' if '?' in path else '?') + f'token={key}')
        assert response.status_code == 403 and 'set-cookie' not in response.headers, (path, response.status_code)
    assert site.state('B', busy=('A',)) == b_before and site.key('A') == key
    assert 'new-room' not in site.rooms()
    site.wait_idle('A')


def test_a_room_key_reaches_the_live_updates_of_its_own_tabs_only(token_site: Site) -> None:
    site = token_site
    bearer = {'Authorization': f'Bearer {site.key("A")}'}
    tab_of_a = client_id_of(site.owner.get('/room/A'))
    tab_of_b = client_id_of(site.owner.get('/room/B'))
    tab_of_home = client_id_of(site.owner.get('/'))
    assert site.anon.get(f'{SOCKET_POLL}&client_id={tab_of_a}', headers=bearer).status_code == 200
    for tab in (tab_of_b, tab_of_home):
        refused = site.anon.get(f'{SOCKET_POLL}&client_id={tab}', headers=bearer)
        assert refused.status_code == 403 and 'hello from B' not in refused.text, (tab, refused.status_code)
        route = site.anon.get(f'/_nicegui/client/{tab}/upload/1', headers=bearer)
        assert route.status_code == 403, (tab, route.status_code)


@pytest.mark.parametrize('how', ['query', 'bearer'])
def test_a_wrong_or_truncated_room_key_is_401(token_site: Site, how: str) -> None:
    site = token_site
    key_a, key_b = site.key('A'), site.key('B')
    mac_a, mac_b = key_a.split('.', 1)[1], key_b.split('.', 1)[1]
    wrong = [key_a[:-1], key_a + 'x', 'A.' + 'x' * 24, f'A.{mac_b}', f'B.{mac_a}', f'A.{mac_a.swapcase()}',
             'A', 'A.', f'.{mac_a}', f'a.{mac_a}', f'A.{mac_a[:-1]}%', f'A..{mac_a}', f'A/{mac_a}']
    for bad in wrong:
        for path in ('/room/A', '/api/rooms/A/messages'):
            if how == 'query':
                response = site.anon.get(path, params={'token': bad})
            else:
                response = site.anon.get(path, headers={'Authorization': f'Bearer {bad}'})
            assert response.status_code == 401, (bad, path, response.status_code)
            assert 'set-cookie' not in response.headers and 'hello from A' not in response.text


def test_the_key_of_one_room_sets_no_cookie_on_another(token_site: Site) -> None:
    site = token_site
    for path in ('/room/B', '/api/rooms/B/messages', '/room/B/'):
        response = site.anon.get(path, params={'token': site.key('A')})
        assert response.status_code == 403, (path, response.status_code)
        assert 'set-cookie' not in response.headers and 'hello from B' not in response.text


def test_a_renewed_link_shuts_the_old_key_and_cookie_out(token_site: Site) -> None:
    site = token_site
    old = site.key('R')
    old_cookie = {'Cookie': room_cookie(site, 'R', site.anon.get(f'/room/R?token={old}'))}
    assert site.anon.get('/room/R', headers=old_cookie).status_code == 200
    renewed = site.owner.post('/api/rooms/R/share/renew')
    assert renewed.status_code == 200, renewed.text
    new = key_of(renewed.json()['share_url'])
    assert new != old and new == site.key('R') and new.startswith('R.')
    assert key_of(site.owner.get('/api/rooms/R').json()['share_url']) == new
    for path in ('/room/R', '/api/rooms/R/messages', '/api/rooms/R/export.json', *ASSETS):
        assert site.anon.get(path, params={'token': old}).status_code == 401, path
        assert site.anon.get(path, headers={'Authorization': f'Bearer {old}'}).status_code == 401, path
        assert site.anon.get(path, headers=old_cookie).status_code in {401, 403}, path
    entered = site.anon.get(f'/room/R?token={new}')
    assert entered.status_code == 303 and entered.headers['location'] == '/room/R'
    assert site.anon.get('/room/R', headers={'Cookie': room_cookie(site, 'R', entered)}).status_code == 200
    assert site.anon.get('/api/rooms/R/messages', headers={'Authorization': f'Bearer {new}'}).status_code == 200


def minimal_export(text: str = 'imported for the restart') -> bytes:
    records = [{'id': 'm1', 'seq': 1, 'role': 'user', 'content': text, 'status': 'complete', 'created_at': 1.0e9},
               {'id': 'm2', 'seq': 2, 'role': 'assistant', 'content': 'ok', 'status': 'complete',
                'created_at': 1.0e9 + 1, 'model': 'demo'}]
    return json.dumps({'format': 'rooms-export', 'version': 1, 'title': 'restart', 'messages': records}).encode()


def test_room_keys_survive_a_restart_with_another_owner_token(tmp_path: Path) -> None:
    data = tmp_path / 'data'
    first_token, second_token = 'first-owner-token-0123456789', 'second-owner-token-0123456789'
    with running_app(data, '--token', first_token, '--model', 'demo') as first, \
            client(first.url, {'Authorization': f'Bearer {first_token}'}) as web:
        room = web.post('/api/rooms/import', content=minimal_export()).json()['room']
        original = RoomLinks(data).key(room)
        current = key_of(web.post(f'/api/rooms/{room}/share/renew').json()['share_url'])
        assert current != original
    with running_app(data, '--token', second_token, '--model', 'demo') as second, \
            client(second.url) as web:
        entered = web.get(f'/room/{room}', params={'token': current})
        assert entered.status_code == 303 and entered.headers['location'] == f'/room/{room}'
        cookie = next(c.split(';', 1)[0] for c in entered.headers.get_list('set-cookie')
                      if c.startswith(f'rooms_room_{second.port}_{room}='))
        assert web.get(f'/room/{room}', headers={'Cookie': cookie}).status_code == 200
        messages = web.get(f'/api/rooms/{room}/messages', headers={'Authorization': f'Bearer {current}'})
        assert messages.status_code == 200 and messages.json()['messages'][0]['content'] == 'imported for the restart'
        assert web.get(f'/room/{room}', params={'token': original}).status_code == 401, 'a renewed key came back'
        assert web.get('/', params={'token': first_token}).status_code == 401, 'the old owner token still works'
        assert web.get('/', headers={'Authorization': f'Bearer {second_token}'}).status_code == 200


# 5. No open redirect ------------------------------------------------------------------------------------------

REDIRECT_PATHS = ['/%5Cevil.com', '//evil.com', '/%2F%2Fevil.com', '/%2F/evil.com', '///evil.com', '/\\evil.com',
                  '/\\\\evil.com', '//\\evil.com', '/%5C%5Cevil.com', '/%5C/evil.com', '/.//evil.com', '/%09/evil.com',
                  '/%0d%0aSet-Cookie:%20evil=1', '//evil.com/%2e%2e', '//127.0.0.1@evil.com', '/https://evil.com',
                  '/room/A/..//evil.com']


@pytest.mark.parametrize('path', REDIRECT_PATHS)
def test_the_token_redirect_stays_on_this_site(token_site: Site, path: str) -> None:
    site = token_site
    for query, rest in ((f'token={TOKEN}', ''), (f'x=1&token={TOKEN}', '?x=1')):
        status, headers, _ = raw_request(site.port, 'GET', f'{path}?{query}')
        assert status == 303, (path, status)
        location = headers['location']
        assert location.endswith(rest) and '\r' not in location and '\n' not in location, location
        assert location.startswith('/') and not location.startswith(('//', '/\\')), location
        assert not any(c.startswith('evil') for c in headers.get_list('set-cookie')), headers
        if path == '/%5Cevil.com':
            assert location == '/%5Cevil.com' + rest
        base = f'http://{site.host}/'
        for candidate in (location, location.replace('\\', '/'), location.replace('\t', '')):
            followed = urllib.parse.urlsplit(urllib.parse.urljoin(base, candidate))
            assert (followed.scheme, followed.netloc) == ('http', site.host), (path, location, followed)


# 6. Framing and sniffing headers on every answer --------------------------------------------------------------


def assert_guarded(label: str, headers: httpx.Headers) -> None:
    assert headers.get('x-frame-options', '').upper() == 'DENY', (label, dict(headers))
    assert "frame-ancestors 'none'" in headers.get('content-security-policy', ''), (label, dict(headers))
    assert headers.get('referrer-policy'), (label, dict(headers))
    assert headers.get('x-content-type-options', '').lower() == 'nosniff', (label, dict(headers))


def test_every_kind_of_answer_forbids_framing_and_sniffing(token_site: Site, open_site: Site) -> None:
    site = token_site
    key_a = {'Authorization': f'Bearer {site.key("A")}'}
    cases: list[tuple[str, int, httpx.Response]] = [
        ('page', 200, site.owner.get('/')),
        ('room page', 200, site.owner.get('/room/A')),
        ('API', 200, site.owner.get('/api/rooms')),
        ('API room', 200, site.owner.get('/api/rooms/A')),
        ('export.md', 200, site.owner.get('/api/rooms/A/export.md')),
        ('export.json', 200, site.owner.get('/api/rooms/A/export.json')),
        ('room.js', 200, site.owner.get('/rooms-static/room.js')),
        ('nicegui.css', 200, site.owner.get(ASSET_CSS)),
        ('socket poll', 200, site.owner.get(SOCKET_POLL)),
        ('healthz', 200, site.anon.get('/healthz')),
        ('401 page', 401, site.anon.get('/')),
        ('401 API', 401, site.anon.get('/api/rooms')),
        ('401 asset', 401, site.anon.get('/rooms-static/room.js')),
        ('403 host', 403, site.owner.get('/', headers={'Host': 'evil.example'})),
        ('403 host API', 403, site.owner.get('/api/rooms', headers={'Host': 'evil.example'})),
        ('403 origin', 403, site.owner.post('/api/rooms/A/stop', headers={'Origin': 'http://evil.example'})),
        ('403 room link', 403, site.anon.get('/', headers=key_a)),
        ('404 page', 404, site.owner.get('/room/a.b')),
        ('404 other page', 404, site.owner.get('/no-such-page')),
        ('404 API', 404, site.owner.get('/api/rooms/nothing/messages')),
        ('405 API', 405, site.owner.delete('/api/rooms')),
        ('303', 303, site.anon.get(f'/room/A?token={TOKEN}')),
        ('400 import', 400, site.owner.post('/api/rooms/import', content=b'not json')),
        ('400 message', 400, site.owner.post('/api/rooms/A/messages', json={'text': ' '})),
        ('open page', 200, open_site.owner.get('/')),
        ('open API', 200, open_site.owner.get('/api/rooms')),
        ('open 404', 404, open_site.owner.get('/api/rooms/nothing/export.md')),
        ('open 403', 403, open_site.owner.get('/', headers={'Host': 'evil.example'})),
    ]
    for label, status, response in cases:
        assert response.status_code == status, (label, response.status_code, response.text[:200])
        assert_guarded(label, response.headers)
    status, headers, _ = raw_request(site.port, 'POST', '/api/rooms/import',
                                     {**site.auth, 'Content-Length': str(MAX_IMPORT + 1)}, host='')
    assert status == 413
    assert_guarded('413 import', headers)


# 7. Hostile imports -------------------------------------------------------------------------------------------

Builder = Callable[[dict[str, Any]], bytes]
OK, BAD, EITHER = frozenset({201}), frozenset({400}), frozenset({201, 400})
M0, M1 = ('messages', 0), ('messages', 1)
VERSION = ('messages', 1, 'versions', 0)
TAIL = (*VERSION, 'tail', 0)
DEEP = '[' * 10_000 + ']' * 10_000
SPLICE = 'SPLICE-HERE-0f1e2d'
LONE_ESCAPE = re.compile(r'\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])'
                         r'|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}')
"""A JSON or JavaScript escape of a lone surrogate: a high one without its low one, or a low one alone."""


def encoded(doc: Any) -> bytes:
    return json.dumps(doc).encode()  # NaN and Infinity as Python writes them


def versioned(doc: dict[str, Any]) -> dict[str, Any]:
    """The export with an older version of its reply that has two messages after it (as a regenerate leaves it)."""
    doc = copy.deepcopy(doc)
    user, reply = doc['messages']
    tail = [{**user, 'id': 'tail-user', 'seq': 10, 'content': 'an older question', 'author': 'Ann'},
            {**reply, 'id': 'tail-reply', 'seq': 11, 'content': 'an older answer'}]
    reply['versions'] = [{'content': 'the first reply', 'status': 'complete', 'model': 'demo', 'error': None,
                          'created_at': reply['created_at'], 'author': None, 'usage': None, 'tail': tail}]
    reply['version'] = 1
    return doc


def same(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)


def changed(path: tuple[Any, ...], value: Any, base: Callable[[dict[str, Any]], dict[str, Any]] = same,
            delete: bool = False) -> Builder:
    def build(doc: dict[str, Any]) -> bytes:
        doc = base(doc)
        target = doc
        for key in path[:-1]:
            target = target[key]
        if delete:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return encoded(doc)
    return build


def spliced(path: tuple[Any, ...], raw: str, base: Callable[[dict[str, Any]], dict[str, Any]] = same) -> Builder:
    """The JSON text with `raw` written by hand where the value at `path` was (lone surrogate escapes, deep nests)."""
    def build(doc: dict[str, Any]) -> bytes:
        text = changed(path, SPLICE, base)(doc).decode()
        assert text.count(f'"{SPLICE}"') == 1
        return text.replace(f'"{SPLICE}"', raw).encode()
    return build


def raw_body(data: bytes) -> Builder:
    return lambda doc: data


def nested_versions(depth: int) -> Builder:
    """A reply with versions whose messages have versions, `depth` levels deep."""
    def build(doc: dict[str, Any]) -> bytes:
        doc = copy.deepcopy(doc)
        user, reply = doc['messages']

        def message(level: int) -> dict[str, Any]:
            record = {**reply, 'id': f'deep-{level}', 'seq': 1, 'versions': [], 'version': 0}
            if level < depth:
                record['versions'] = [{'content': f'level {level}', 'status': 'complete', 'model': None,
                                       'error': None, 'created_at': 1.0e9, 'author': None,
                                       'tail': [message(level + 1)]}]
                record['version'] = 1
            return record
        doc['messages'] = [user, {**message(0), 'seq': 2}]
        return encoded(doc)
    return build


def odd_values(path: tuple[Any, ...], values: list[Any], expected: frozenset[int] = BAD,
               base: Callable[[dict[str, Any]], dict[str, Any]] = same) -> list[Any]:
    name = '.'.join(str(p) for p in path)
    return [pytest.param(changed(path, value, base), expected, id=f'{name}={value!r}'[:60]) for value in values]


SURROGATES = ['"a\\ud800b"', '"\\udc00"', '"x\\ud800"', '"\\ud800\\ud800"', '"\\ude00\\ud83d"', '"\\udfff tail"']

IMPORT_CASES = [
    pytest.param(encoded, OK, id='the export itself'),
    pytest.param(lambda doc: encoded(versioned(doc)), OK, id='with a version'),
    pytest.param(lambda doc: b'\xef\xbb\xbf' + encoded(doc), OK, id='UTF-8 BOM'),
    pytest.param(changed(('extra',), {'nested': [1, {'a': None}]}), OK, id='unknown top field'),
    pytest.param(changed((*M0, 'extra'), [1, 2, 3]), OK, id='unknown message field'),
    pytest.param(changed((*M1, 'status'), 'streaming'), OK, id='a streaming reply'),
    pytest.param(changed((*M1, 'content'), '<script>alert(1)</script>\x00\x1b[31m\u202e'), OK, id='markup content'),
    pytest.param(changed((*M0, 'content'), '\U0001F600 \ud83d\ude00'.encode('utf-16', 'surrogatepass')
                         .decode('utf-16')), OK, id='emoji'),
    pytest.param(changed((*M0, 'seq'), 0), OK, id='seq 0'),
    pytest.param(changed((*M0, 'created_at'), 0), OK, id='created_at 0'),
    pytest.param(changed((*M1, 'versions'), []), OK, id='versions empty'),
    # the document
    *[pytest.param(raw_body(data), BAD, id=f'document {data!r}'[:40])
      for data in (b'[]', b'5', b'"rooms-export"', b'null', b'true', b'{}', b'[{"format": "rooms-export"}]')],
    pytest.param(changed(('format',), None, delete=True), BAD, id='format missing'),
    *odd_values(('format',), ['Rooms-Export', 5, None, ['rooms-export']]),
    *odd_values(('version',), [2, 0, True, '1', None, [1], 10**30]),
    *odd_values(('title',), [5, [], {}, None, True, 'x' * 100_000, '\x00\n\u2028<b>t</b>'], EITHER),
    # the list of messages
    pytest.param(changed(('messages',), None, delete=True), BAD, id='messages missing'),
    *odd_values(('messages',), [{}, 'x', 5, None, [], True, {'0': {}}]),
    *odd_values(M0, [[], 5, 'x', None, True, 1.5, {}]),
    # fields of a message
    *[pytest.param(changed((*M0, name), None, delete=True), BAD, id=f'{name} missing')
      for name in ('id', 'seq', 'role', 'content', 'status', 'created_at')],
    *odd_values((*M0, 'id'), [5, None, 'a.b', '', 'x' * 65, '../../etc/passwd', 'a b', ['m']]),
    pytest.param(lambda doc: changed((*M1, 'id'), doc['messages'][0]['id'])(doc), BAD, id='id used twice'),
    *odd_values((*M0, 'seq'), ['1', True, False, 1.5, -1, 10**30, 2**53 + 1, None, [1], float('nan')]),
    pytest.param(spliced((*M0, 'seq'), '1' * 5000), BAD, id='seq of 5000 digits'),
    pytest.param(lambda doc: changed((*M1, 'seq'), doc['messages'][0]['seq'])(doc), BAD, id='seq repeated'),
    *odd_values((*M0, 'created_at'), ['now', float('nan'), float('inf'), float('-inf'), -1, 10**30, 1e300, True,
                                      None, [], '1700000000']),
    pytest.param(spliced((*M0, 'created_at'), '1e400'), BAD, id='created_at 1e400'),
    pytest.param(spliced((*M0, 'created_at'), '9' * 5000), BAD, id='created_at of 5000 digits'),
    *odd_values((*M0, 'content'), [5, [], None, {}, True, 1.5, ['text']]),
    *odd_values((*M0, 'role'), ['system', 'USER', '', 5, None, ['user'], 'user '], BAD),
    *odd_values((*M1, 'status'), ['done', 'COMPLETE', '', 5, None, ['complete']]),
    *[value for name in ('author', 'model', 'error')
      for value in odd_values((*M1, name), [5, [], {}, True, 1.5])],
    *odd_values((*M0, 'author'), ['x' * 201]),
    *odd_values((*M0, 'author'), ['Ann\nBob\x00', ' ', '\u202eevil'], OK),
    *odd_values((*M1, 'versions'), [{}, [1, 2], ['x'], [None], 'x', 5, [[]], True]),
    *odd_values((*M1, 'version'), [-1, 99, '0', True, 1.5, None], EITHER),
    *odd_values((*M1, 'version'), [2, -1, '1', True, 1.5], BAD, base=versioned),
    *odd_values((*M1, 'usage'), ['x', [1], {'input_tokens': -1}, {'input_tokens': '1'}, {'input_tokens': 1.5},
                                 {'input_tokens': 10**30}, {'output_tokens': None}, 5]),
    *odd_values((*M1, 'left_out'), [-1, '1', 1.5, True, 10**30]),
    # versions and the messages after them
    pytest.param(changed((*VERSION, 'tail'), None, base=versioned, delete=True), BAD, id='tail missing'),
    *odd_values((*VERSION, 'tail'), [{}, 5, 'x', None, [1], [None], [[]], True], base=versioned),
    *odd_values((*VERSION, 'content'), [5, None, []], base=versioned),
    *odd_values((*VERSION, 'status'), ['x', 5, None], base=versioned),
    *odd_values((*VERSION, 'created_at'), [float('nan'), -5, 'then'], base=versioned),
    *odd_values((*VERSION, 'author'), [5, ['x'], 'x' * 201], base=versioned),
    *odd_values((*VERSION, 'model'), [[], 5], base=versioned),
    *odd_values((*VERSION, 'error'), [{}, 5], base=versioned),
    *odd_values((*TAIL, 'content'), [5, None, {}], base=versioned),
    *odd_values((*TAIL, 'seq'), ['x', -1, 1.5, 10**30], base=versioned),
    *odd_values((*TAIL, 'role'), ['system'], base=versioned),
    *odd_values((*TAIL, 'status'), ['x'], base=versioned),
    *odd_values((*TAIL, 'versions'), [{}, [5]], base=versioned),
    pytest.param(lambda doc: changed((*TAIL, 'id'), doc['messages'][0]['id'], base=versioned)(doc), BAD,
                 id='tail id used twice'),
    pytest.param(nested_versions(50), OK, id='versions 50 deep'),
    pytest.param(nested_versions(51), BAD, id='versions 51 deep'),
    pytest.param(nested_versions(100), BAD, id='versions 100 deep'),
    # lone surrogates, written by hand (json.dumps would not)
    *[pytest.param(spliced(path, raw, base), OK, id=f'surrogate {raw} in {".".join(map(str, path))}')
      for path, base in [((*M0, 'content'), same), ((*M0, 'author'), same), ((*M1, 'model'), same),
                         ((*M1, 'error'), same), (('title',), same), ((*VERSION, 'content'), versioned),
                         ((*VERSION, 'author'), versioned), ((*VERSION, 'model'), versioned),
                         ((*VERSION, 'error'), versioned), ((*TAIL, 'content'), versioned),
                         ((*TAIL, 'author'), versioned), ((*TAIL, 'model'), versioned)]
      for raw in (SURROGATES if path == (*M0, 'content') else SURROGATES[:1])],
    pytest.param(lambda doc: encoded(versioned(doc)).replace(b'"tail-user"', b'"tail-user", "\\ud800": "\\udc00"'),
                 EITHER, id='surrogate as a key'),
    pytest.param(spliced((*M1, 'usage'), '{"\\ud800": 1}'), EITHER, id='surrogate as a usage key'),
    *[pytest.param(spliced(path, '"\\ud800"'), BAD, id=f'surrogate as {path[-1]}')
      for path in [(*M0, 'id'), (*M0, 'role'), (*M1, 'status'), ('format',)]],
    pytest.param(lambda doc: encoded(doc).replace(f'"{doc["messages"][0]["content"]}"'.encode(),
                                                  b'"CESU \xed\xa0\x80 bytes"', 1), BAD, id='surrogate as raw bytes'),
    # nesting
    pytest.param(raw_body(DEEP.encode()), BAD, id='10000 deep list'),
    pytest.param(raw_body(('{"a":' * 10_000 + '0' + '}' * 10_000).encode()), BAD, id='10000 deep object'),
    *[pytest.param(spliced(path, DEEP, base), BAD, id=f'10000 deep in {".".join(map(str, path))}')
      for path, base in [((*M0, 'content'), same), ((*M0, 'author'), same), (('title',), same), (('messages',), same),
                         ((*M1, 'versions'), same), ((*M1, 'usage'), same), ((*VERSION, 'tail'), versioned),
                         ((*TAIL, 'content'), versioned), (('extra',), same)]],
    # not UTF-8, not JSON
    pytest.param(lambda doc: json.dumps(doc).encode('utf-16'), BAD, id='UTF-16'),
    pytest.param(lambda doc: json.dumps(doc).encode('utf-32'), BAD, id='UTF-32'),
    pytest.param(lambda doc: spliced((*M0, 'content'), '"caf\u00e9"')(doc).decode().encode('latin-1'), BAD,
                 id='Latin-1'),
    *[pytest.param(raw_body(data), BAD, id=f'not JSON {data[:20]!r}')
      for data in (b'', b' ', b'hello', b'{', b'}', b'\x00' * 10, b'\x80\x81', b'NaN', b'Infinity', b'-',
                   b'{"format": "rooms-export"', b"{'format': 'rooms-export'}", b'\xff\xfe{\x00}\x00')],
    pytest.param(lambda doc: encoded(doc)[: len(encoded(doc)) // 2], BAD, id='cut in half'),
    pytest.param(lambda doc: encoded(doc) + b' x', BAD, id='trailing garbage'),
    pytest.param(lambda doc: encoded(doc) + encoded(doc), BAD, id='two documents'),
]


@pytest.fixture(scope='module')
def export_doc(token_site: Site) -> dict[str, Any]:
    doc = token_site.owner.get('/api/rooms/exported/export.json').json()
    assert doc['format'] == 'rooms-export' and [m['role'] for m in doc['messages']] == ['user', 'assistant']
    return doc


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


@pytest.mark.parametrize(('build', 'expected'), IMPORT_CASES)
def test_a_hostile_import_is_refused_whole_or_makes_a_healthy_room(
        token_site: Site, export_doc: dict[str, Any], build: Builder, expected: frozenset[int]) -> None:
    site = token_site
    body = build(export_doc)
    rooms_before, files_before = site.rooms(), site.files()
    response = site.owner.post('/api/rooms/import', content=body, headers={'Content-Type': 'application/json'})
    assert response.status_code in expected, (response.status_code, response.text[:300])
    if response.status_code == 201:
        room = response.json()['room']
        assert room not in rooms_before and response.json()['url'] == f'/room/{room}'
        assert_healthy_room(site, room)
        rooms_after = site.rooms()
        assert {k: v for k, v in rooms_after.items() if k != room} == rooms_before, 'an import changed another room'
        assert rooms_after[room][1] >= 1
    else:
        assert is_json_error(response), response.text[:300]
        assert site.rooms() == rooms_before and site.files() == files_before, 'a refused import left something'


def test_an_import_of_5000_messages_is_accepted_and_opens(token_site: Site, export_doc: dict[str, Any]) -> None:
    site = token_site
    user, reply = export_doc['messages']
    records = [{**(user if n % 2 == 0 else reply), 'id': f'm{n}', 'seq': n + 1, 'content': f'message {n}'}
               for n in range(5000)]
    response = site.owner.post('/api/rooms/import', content=encoded({**export_doc, 'messages': records}))
    assert response.status_code == 201, response.text[:300]
    room = response.json()['room']
    started_at = time.monotonic()
    messages = assert_healthy_room(site, room)
    assert len(messages) == 5000 and messages[-1]['content'] == 'message 4999'
    assert site.rooms()[room][1] == 5000
    assert time.monotonic() - started_at < 30


def test_an_import_over_the_limit_is_413_and_creates_nothing(token_site: Site) -> None:
    site = token_site
    rooms_before, files_before = site.rooms(), site.files()
    # a declared length over the limit is refused before the body is read
    status, headers, content = raw_request(
        site.port, 'POST', '/api/rooms/import',
        {**site.auth, 'Content-Type': 'application/json', 'Content-Length': str(MAX_IMPORT + 1)},
        body=b'{"format": "rooms-export", "version": 1, "messages": [')
    assert status == 413 and is_json_error((status, headers, content)), (status, content[:200])

    def streamed() -> Iterator[bytes]:  # no length: refused once more than the limit arrived
        yield b'{"format": "rooms-export", "version": 1, "messages": [{"content": "'
        for _ in range(MAX_IMPORT // 2**20 + 1):
            yield b'a' * (1024 * 1024)
        yield b'"}]}'
    response = site.owner.post('/api/rooms/import', content=streamed())
    assert response.status_code == 413 and is_json_error(response), response.text[:200]
    whole = b'{"format": "rooms-export", "version": 1, "messages": [], "pad": "' + b'p' * MAX_IMPORT + b'"}'
    response = site.owner.post('/api/rooms/import', content=whole)
    assert response.status_code == 413 and is_json_error(response), response.text[:200]
    assert site.rooms() == rooms_before and site.files() == files_before


# 8. A flood ---------------------------------------------------------------------------------------------------


def test_a_flood_from_one_script_is_cut_at_twenty_and_the_room_keeps_working(token_site: Site) -> None:
    site = token_site
    room = 'flood'
    answers = [site.post(room, f'flood {n}') for n in range(25)]
    assert [r.status_code for r in answers] == [201] * 20 + [429] * 5, [(r.status_code, r.text[:80]) for r in answers]
    for refused in answers[20:]:
        assert is_json_error(refused) and 'wait' in refused.json()['error'].lower(), refused.text
        assert refused.headers.get('retry-after', '').isdigit()
        assert_guarded('429', refused.headers)
    users = [m['content'] for m in site.messages(room) if m['role'] == 'user']
    assert users == [f'flood {n}' for n in range(20)]
    other = site.owner.post(f'/api/rooms/{room}/messages', json={'text': 'another person'},
                            headers={'Cookie': f'rooms_participant={"P" * 11}{"q-" * 5}_'})
    assert other.status_code == 201, 'another sender was limited too'
    assert site.post('flood-elsewhere', 'the same script in another room').status_code == 201
    assert site.owner.get(f'/room/{room}').status_code == 200
    site.wait_idle(room, 'flood-elsewhere', timeout=30)
    users = [m['content'] for m in site.messages(room) if m['role'] == 'user']
    assert users == [f'flood {n}' for n in range(20)] + ['another person']
    assert_healthy_room(site, room)


# 9. Bad messages, bad settings, bad room ids -----------------------------------------------------------------

BAD_MESSAGES: list[Any] = [
    {'text': '   '}, {'text': ''}, {'text': '\n\t \r\n'}, {'text': '\u3000\u00a0\u2003'}, {'text': 'x' * 100_001},
    {'text': ' ' + 'y' * 100_001 + ' '}, {'text': 5}, {'text': None}, {'text': ['a']}, {'text': {'a': 'b'}},
    {'text': True}, {'text': 1.5}, {}, {'TEXT': 'hi'}, ['hi'], 'hi', None, 5, {'text': 'hi', 'author': 5},
    {'text': 'hi', 'author': ['a']}, {'text': 'hi', 'attachments': ['f1']},
]
RAW_BAD_MESSAGES = [b'', b'hello', b'{"text": "hi', b'{"text": "\xff"}', b'{"text": NaN}', DEEP.encode(),
                    b'{"text": ' + DEEP.encode() + b'}', b'{"text": "' + b'z' * (1024 * 1024 + 10) + b'"}',
                    b'\xef\xbb\xbf{"text": "   "}']
BAD_SETTINGS: list[Any] = [
    {'title': 5}, {'title': ['x']}, {'system_prompt': {}}, {'model': 5}, {'max_tokens': 'x'}, {'max_tokens': 10**30},
    {'max_tokens': True}, {'max_tokens': 0}, {'max_tokens': -1}, {'max_tokens': 1.5}, {'max_tokens': 128_001},
    {'max_tokens': float('nan')}, {'unknown': 1}, {}, [], 'x', None, 5, {'reply_mode': 'sometimes'},
    {'reply_mode': 5}, {'thinking_budget': 1000}, {'thinking_budget': 64_000}, {'thinking_budget': True},
    {'thinking_budget': '2048'}, {'web_search': 'yes'}, {'web_search': 1},
    {'title': 'half', 'bogus': 1}, {'title': 'half', 'max_tokens': 'x'}, {'title': 'half', 'max_tokens': 10**6},
    {'title': 'half', 'reply_mode': 'everyone'}, {'system_prompt': 'half', 'model': ['x']},
]
INVALID_ROOM_IDS = ['a.b', '%2e%2e', '..', '.', 'x' * 65, '%00', 'a%20b', '%C3%A9t%C3%A9', '%5C', '~', 'a%0Ab',
                    'a%2e', 'a%2Fb']


def test_bad_messages_are_400_and_store_nothing(token_site: Site) -> None:
    site = token_site
    before = site.state('kept')
    problems = []
    for room in ('kept', 'fresh9'):
        bodies = [json.dumps(body).encode() for body in BAD_MESSAGES] + RAW_BAD_MESSAGES
        for body in bodies:
            response = site.owner.post(f'/api/rooms/{room}/messages', content=body,
                                       headers={'Content-Type': 'application/json'})
            if response.status_code != 400 or not is_json_error(response):
                problems.append(f'{room} {body[:60]!r}: {response.status_code} {response.text[:100]!r}')
    assert not problems, problems
    assert site.state('kept') == before and 'fresh9' not in site.rooms()
    assert site.owner.get('/api/rooms/fresh9').status_code == 404


def test_bad_settings_are_400_and_change_nothing(token_site: Site) -> None:
    site = token_site
    before = site.state('kept')
    problems = []
    for body in [json.dumps(body).encode() for body in BAD_SETTINGS] + [b'', b'not json', DEEP.encode()]:
        response = site.owner.patch('/api/rooms/kept', content=body, headers={'Content-Type': 'application/json'})
        if response.status_code != 400 or not is_json_error(response):
            problems.append(f'{body[:60]!r}: {response.status_code} {response.text[:100]!r}')
        missing = site.owner.patch('/api/rooms/fresh9', content=body, headers={'Content-Type': 'application/json'})
        if missing.status_code not in {400, 404} or not is_json_error(missing):
            problems.append(f'fresh9 {body[:60]!r}: {missing.status_code} {missing.text[:100]!r}')
    assert not problems, problems
    assert site.state('kept') == before, 'a refused change was half made'
    assert 'fresh9' not in site.rooms()


@pytest.mark.parametrize('kind', ['token', 'open'])
def test_invalid_room_ids_are_404_and_store_nothing(request: pytest.FixtureRequest, kind: str) -> None:
    site = site_of(request, kind)
    before = site.state('kept')
    problems = []
    for room_id in INVALID_ROOM_IDS:
        for method, suffix, body in [('POST', '/messages', b'{"text": "hello"}'), ('GET', '/messages', b''),
                                     ('GET', '', b''), ('PATCH', '', b'{"title": "x"}'), ('POST', '/stop', b''),
                                     ('POST', '/share/renew', b''), ('GET', '/export.json', b''),
                                     ('GET', '/export.md', b'')]:
            answer = raw_request(site.port, method, f'/api/rooms/{room_id}{suffix}',
                                 {**site.auth, 'Content-Type': 'application/json'}, body)
            unrouted = '/' in urllib.parse.unquote(room_id)  # no route matches: a 404 of any kind
            if answer[0] not in {400, 404} or not (unrouted or is_json_error(answer)):
                problems.append(f'{method} {room_id}{suffix}: {answer[0]} {answer[2][:80]!r}')
        page = raw_request(site.port, 'GET', f'/room/{room_id}', site.auth)
        if page[0] != 404:
            problems.append(f'page {room_id}: {page[0]}')
    assert not problems, problems
    assert site.state('kept') == before
    assert not any(path.name.startswith('..') or path.is_dir() for path in site.app.data_dir.iterdir())


# More: no CORS for other sites, and path tricks with a room key ----------------------------------------------


@pytest.mark.parametrize('kind', ['token', 'open'])
def test_no_answer_lets_another_site_read_it(request: pytest.FixtureRequest, kind: str) -> None:
    """GETs are not refused for a foreign Origin (a script may send one), but no answer carries CORS headers that
    would let the page of another site read it."""
    site = site_of(request, kind)
    evil = {**site.auth, 'Origin': 'http://evil.example'}
    for path in ['/', '/room/target', '/api/rooms', '/api/rooms/target', '/api/rooms/target/messages',
                 '/api/rooms/target/export.json', '/api/search?q=hello', '/healthz', *ASSETS]:
        response = site.anon.get(path, headers=evil)
        allowed = response.headers.get('access-control-allow-origin')
        assert allowed in (None, site.origin), (path, allowed)
    for method, path in [('OPTIONS', '/api/rooms/import'), ('OPTIONS', '/api/rooms/target/messages'),
                         ('OPTIONS', '/api/rooms/target'), ('OPTIONS', SOCKET_POLL)]:
        response = site.anon.request(method, path, headers={**evil, 'Access-Control-Request-Method': 'POST',
                                                             'Access-Control-Request-Headers': 'content-type'})
        assert response.status_code < 500
        assert response.headers.get('access-control-allow-origin') in (None, site.origin), (path, response.headers)


ROOM_KEY_TRICKS = [
    ('POST', '/api/rooms/A/share/renew/'), ('POST', '/api/rooms/A/share/%72enew'),
    ('POST', '/api/rooms/A//share/renew'),
    ('POST', '/api/rooms/A/share/renew?x=1'), ('POST', '/api/rooms/A/../A/share/renew'),
    ('POST', '/api/rooms/A/%2e%2e/import'), ('POST', '/api/rooms/A/../import'), ('POST', '/api/rooms/import/'),
    ('POST', '/api/rooms/%69mport'), ('POST', '/api/rooms/A/../B/messages'), ('GET', '/api/rooms/A/../B/messages'),
    ('GET', '/api/rooms/A/%2e%2e/B/messages'), ('GET', '/room/A/../B'), ('GET', '/room/A/%2e%2e/B'),
    ('GET', '/api/rooms/A/..%2FB/messages'), ('GET', '/room/A%2F..%2FB'), ('GET', '/api/rooms/A/../../api/rooms'),
    ('GET', '/api/rooms/A%2F..%2F..%2Frooms'), ('GET', '/%2Fapi/rooms'), ('GET', '//api/rooms'), ('GET', '/api//rooms'),
    ('GET', '/api/rooms/'), ('GET', '/api/rooms/A/../../search?q=hello'), ('GET', '/API/rooms'),
    ('GET', '/api/search/?q=hello'), ('GET', '/rooms-static/../api/rooms'), ('GET', '/_nicegui/../api/rooms'),
    ('GET', '/rooms-static/%2e%2e/api/rooms'), ('GET', '/rooms-static/..%2F..%2Fchat%2Faccess.py'),
    ('GET', f'/_nicegui/{nicegui.__version__}/static/..%2F..%2F..%2Fchat%2Faccess.py'),
]


@pytest.mark.parametrize(('method', 'target'), ROOM_KEY_TRICKS, ids=[f'{m} {t}' for m, t in ROOM_KEY_TRICKS])
def test_path_tricks_take_a_room_key_nowhere_else(token_site: Site, method: str, target: str) -> None:
    site = token_site
    key = site.key('A')
    before = site.state('B', busy=('A',))
    body = b'{"text": "tricked"}' if target.endswith('messages') else b''
    for credential in ({'Authorization': f'Bearer {key}'},
                       {'Cookie': room_cookie(site, 'A', site.anon.get(f'/room/A?token={key}'))}):
        status, _, content = raw_request(site.port, method, target, credential, body)
        assert status in {400, 401, 403, 404, 405, 307, 308}, (target, status, content[:200])
        assert b'hello from B' not in content and b'hello from target' not in content, (target, content[:200])
        assert b'Gate' not in content and b'hmac' not in content, 'source code was served'
    assert site.key('A') == key, 'a room key renewed its own link'
    assert site.state('B', busy=('A',)) == before


SEARCHES = ['q=%ED%A0%80', 'q=%00', 'q=%ff%fe', 'q=' + 'a%20' * 3000, 'q=' + '(' * 5000, 'q=%5C', 'q=.*', 'q=%2A%3F',
            'q=hello&limit=99999999999999999999999999', 'q=hello&limit=-5', 'q=hello&limit=0', 'q=hello&q=x',
            'q=' + 'x' * 60_000, 'q=%F0%9F%98%80', 'q=%E2%80%AE', 'q=<script>', 'limit=abc', 'q=hello&limit=1e3']


def test_hostile_searches_never_fail(token_site: Site) -> None:
    for query in SEARCHES:
        response = token_site.owner.get(f'/api/search?{query}')
        assert response.status_code in {200, 400, 422}, (query[:60], response.status_code, response.text[:200])
        document = json.loads(response.content.decode('utf-8'))
        assert not lone_surrogates(document), query[:60]
        if response.status_code == 200:
            assert isinstance(document['results'], list) and len(document['results']) <= 200
