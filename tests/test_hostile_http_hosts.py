"""Hostile HTTP: a foreign Host, the host names the app answers to, a foreign Origin or Referer, framing and
sniffing headers on every answer, and no CORS for other sites. The apps are in hostile_support."""
from __future__ import annotations

import json
import socket
import time
from typing import Any

import hostile_support
import httpx
import pytest
from hostile_support import (
    ALLOWED_NAME,
    ASSET_CSS,
    ASSETS,
    MAX_IMPORT,
    TOKEN,
    Site,
    assert_guarded,
    is_json_error,
    raw_request,
    site_of,
    upgrade_status,
)
from test_access import SOCKET_POLL, websocket_status

from chat.share import lan_address

sites = hostile_support.sites
token_site = hostile_support.token_site
open_site = hostile_support.open_site
share_site = hostile_support.share_site



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



# 6. Framing and sniffing headers on every answer --------------------------------------------------------------




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


# No CORS for other sites --------------------------------------------------------------------------------------


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
