"""Hostile HTTP input to the API: a flood of messages, bad messages, bad settings, bad room ids and hostile
searches. The apps are in hostile_support."""
from __future__ import annotations

import json
import urllib.parse
from typing import Any

import hostile_support
import pytest
from hostile_support import (
    DEEP,
    Site,
    assert_guarded,
    assert_healthy_room,
    is_json_error,
    lone_surrogates,
    raw_request,
    site_of,
)

sites = hostile_support.sites
token_site = hostile_support.token_site
open_site = hostile_support.open_site



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


# Hostile searches ---------------------------------------------------------------------------------------------


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
