"""The room JSON API (CONTRACT.md "JSON API"): read and change a room, post as a script, stop; people's fields
travel through export and import."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import USER_AGENT, AppProcess, running_app

BROWSER = {'User-Agent': USER_AGENT}


@pytest.fixture(scope='module')
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    with running_app(tmp_path_factory.mktemp('api') / 'data', '--model', 'demo') as process:
        yield process


@pytest.fixture
def http(app: AppProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.url, headers=BROWSER, timeout=10) as client:
        yield client


def settle(http: httpx.Client, room: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        messages = http.get(f'/api/rooms/{room}/messages').json()['messages']
        busy = http.get(f'/api/rooms/{room}').json()['streaming']
        if messages and messages[-1]['status'] != 'streaming' and not busy:
            return messages
        time.sleep(0.05)
    raise TimeoutError(room)


def test_a_script_posts_reads_and_changes_a_room(http: httpx.Client) -> None:
    assert http.get('/api/rooms/botroom').status_code == 404
    posted = http.post('/api/rooms/botroom/messages', json={'text': 'hello from a bot', 'author': 'Bot'})
    assert posted.status_code == 201
    message = posted.json()['message']
    assert (message['role'], message['content'], message['author'], message['author_id']) == \
        ('user', 'hello from a bot', 'Bot', None)
    assert message['reactions'] == {} and message['edited'] is False and message['reply_to'] is None
    messages = settle(http, 'botroom')
    assert [m['role'] for m in messages] == ['user', 'assistant'], 'answered like a message from a tab'
    room = http.get('/api/rooms/botroom').json()
    assert room['id'] == 'botroom' and room['message_count'] == 2 and room['streaming'] is False
    assert room['settings']['reply_mode'] == 'every' and room['settings']['model'] == 'demo'
    assert 'share_url' not in room, 'no token, no room link'
    changed = http.patch('/api/rooms/botroom', json={'title': 'Bots only', 'reply_mode': 'mention'})
    assert changed.status_code == 200
    assert changed.json()['settings']['title'] == 'Bots only' and changed.json()['settings']['reply_mode'] == 'mention'
    assert http.get('/api/rooms/botroom').json()['title'] == 'Bots only'
    http.post('/api/rooms/botroom/messages', json={'text': 'just chatting'})
    asked = http.post('/api/rooms/botroom/messages',
                      json={'text': 'please answer', 'ask_claude': True, 'reply_to': messages[0]['id']})
    assert asked.status_code == 201 and asked.json()['message']['ask_claude'] is True
    assert asked.json()['message']['reply_to']['id'] == messages[0]['id']
    after = settle(http, 'botroom')
    assert [m['role'] for m in after] == ['user', 'assistant', 'user', 'user', 'assistant']
    assert http.post('/api/rooms/botroom/stop').json() == {'stopped': False}


def test_bad_values_change_nothing(http: httpx.Client) -> None:
    http.post('/api/rooms/strict/messages', json={'text': 'first'})
    settle(http, 'strict')
    for body in ({'reply_mode': 'sometimes'}, {'max_tokens': 0}, {'title': 5}, {'nonsense': 1}, {'web_search': 'on'},
                 {'thinking_budget': 100}):
        response = http.patch('/api/rooms/strict', json=body)
        assert response.status_code == 400 and response.json()['error'], body
    for body in ({'text': 'x', 'reply_to': 'missing'}, {'text': 'x', 'ask_claude': 'yes'}, {'text': '   '},
                 {'text': 'x', 'attachments': ['f1']}):
        response = http.post('/api/rooms/strict/messages', json=body)
        assert response.status_code == 400 and response.json()['error'], body
    assert len(http.get('/api/rooms/strict/messages').json()['messages']) == 2
    assert http.get('/api/rooms/strict').json()['settings']['reply_mode'] == 'every'
    for route in ('/api/rooms/missing', '/api/rooms/missing/stop'):
        method = http.get if route.endswith('missing') else http.post
        assert method(route).status_code == 404


def test_people_fields_travel_through_export_and_import(http: httpx.Client) -> None:
    with httpx.Client(base_url=str(http.base_url), headers={**BROWSER, 'Cookie': 'rooms_participant=' + 'p' * 22},
                      timeout=10) as browser_like:
        first = browser_like.post('/api/rooms/travel/messages', json={'text': 'mine', 'author': 'Ann'}).json()
    assert first['message']['author_id'] is not None, 'a browser (participant cookie) is an author'
    settle(http, 'travel')
    http.post('/api/rooms/travel/messages', json={'text': 'answering', 'reply_to': first['message']['id']})
    settle(http, 'travel')
    http.patch('/api/rooms/travel', json={'reply_mode': 'mention', 'system_prompt': 'Be brief.'})
    exported = http.get('/api/rooms/travel/export.json').json()
    assert exported['messages'][0]['author_id'] == first['message']['author_id']
    imported = http.post('/api/rooms/import', json=exported).json()['room']
    settings = http.get(f'/api/rooms/{imported}').json()['settings']
    assert (settings['reply_mode'], settings['system_prompt']) == ('mention', 'Be brief.'), 'settings travel too'
    messages = http.get(f'/api/rooms/{imported}/messages').json()['messages']
    assert [m['author_id'] for m in messages] == [None] * 4, 'nobody here wrote an imported message'
    assert messages[0]['author'] == 'Ann' and messages[2]['reply_to']['id'] == messages[0]['id']
