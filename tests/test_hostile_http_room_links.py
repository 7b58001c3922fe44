"""Hostile HTTP with room links: a room key used where it does not belong (other rooms, wrong keys, renewed
keys, path tricks) and the token redirect that must stay on this site. The apps are in hostile_support."""
from __future__ import annotations

import json
import re
import urllib.parse
from pathlib import Path

import hostile_support
import httpx
import nicegui
import pytest
from browser_support import running_app
from hostile_support import ASSETS, TOKEN, Site, client, is_json_error, raw_request
from test_access import SOCKET_POLL

from chat.links import RoomLinks

sites = hostile_support.sites
token_site = hostile_support.token_site



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


def test_a_room_called_import_opens_with_its_room_link_but_cannot_import(token_site: Site) -> None:
    """`POST /api/rooms/import` makes a room (the owner's); a room whose id is `import` is a room like any other."""
    site = token_site
    assert site.post('import', 'hello from the import room').status_code == 201
    site.wait_idle('import')
    bearer = {'Authorization': f'Bearer {site.key("import")}'}
    for path in ('/room/import', '/api/rooms/import', '/api/rooms/import/messages', '/api/rooms/import/export.json'):
        response = site.anon.get(path, headers=bearer)
        assert response.status_code == 200, (path, response.status_code, response.text[:200])
    posted = site.anon.post('/api/rooms/import/messages', json={'text': 'by the room link'}, headers=bearer)
    assert posted.status_code == 201, posted.text
    site.wait_idle('import')
    export = site.owner.get('/api/rooms/A/export.json').content
    rooms_before = site.rooms()
    for target in ('/api/rooms/import', '/api/rooms/import/'):
        status, _, content = raw_request(site.port, 'POST', target, bearer, export)
        assert status == 403, (target, status, content[:200])
    assert site.rooms() == rooms_before, 'a room link imported a room'


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


# Path tricks with a room key ----------------------------------------------------------------------------------


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
