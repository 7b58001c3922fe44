"""Export a room as JSON, import it as a new room (strictly checked), and search every room's messages."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import chromium, running_app
from conftest import ScriptedModel, wait_idle
from fastapi import FastAPI
from nicegui import ui
from nicegui.elements.mixins.text_element import TextElement
from nicegui.elements.upload_files import SmallFileUpload
from test_hub import make_rooms

from chat import api
from chat.config import Settings
from chat.errors import ImportRejected
from chat.models import Message, Person, Status
from chat.records import message_to_record
from chat.rooms import Rooms
from chat.transfer import MAX_IMPORT_BYTES, parse_export

UNICODE = 'Grüße, 你好, emoji 🎉, rtl שלום, <script>alert(1)</script> & "quotes"'

ANN = Person('a1b2c3d4e5f60718', 'Ann')
"""The author of the messages these tests edit."""


async def fill(rooms: Rooms, room_id: str, messages: list[Message]) -> None:
    hub = await rooms.get(room_id)
    for message in messages:
        hub._append(message)
    await hub.flush()


def sample_messages() -> list[Message]:
    return [
        Message(id='u1', seq=3, role='user', content=UNICODE, created_at=1000.5, author='Ann'),
        Message(id='a1', seq=4, role='assistant', content='Stopped **half**', status=Status.STOPPED,
                created_at=1001.0, model='claude-x'),
        Message(id='u2', seq=7, role='user', content='lone surrogate \ud800 kept', created_at=1002.0, author='Bob'),
        Message(id='a2', seq=8, role='assistant', content='It broke', status=Status.ERROR, created_at=1003.0,
                model='claude-x', error='The API is overloaded. Press Retry.'),
        Message(id='u3', seq=9, role='user', content='and then?', created_at=1004.0),
        Message(id='a3', seq=10, role='assistant', content='cut off mid', status=Status.STREAMING, created_at=1005.0,
                model='claude-x'),
    ]


async def test_export_json_round_trips_through_import_into_a_new_room(
        http: httpx.AsyncClient, rooms: Rooms, settings: Settings, model: ScriptedModel, data_dir: Path) -> None:
    await fill(rooms, 'source', sample_messages())
    response = await http.get('/api/rooms/source/export.json')
    assert response.status_code == 200 and response.headers['content-type'].startswith('application/json')
    export = response.json()
    hub = rooms.open_hub('source')
    assert hub is not None
    assert {k: export[k] for k in ('format', 'version', 'room', 'title')} == {
        'format': 'rooms-export', 'version': 1, 'room': 'source', 'title': hub.summary().title}
    assert isinstance(export['exported_at'], float)
    assert export['messages'] == [message_to_record(m) for m in hub.messages]

    created = await http.post('/api/rooms/import', content=response.content)
    assert created.status_code == 201, created.text
    new_id = created.json()['room']
    assert new_id != 'source' and created.json()['url'] == f'/room/{new_id}'
    imported = (await http.get(f'/api/rooms/{new_id}/messages')).json()['messages']
    expected = [{**record, 'seq': index} for index, record in enumerate(export['messages'], start=1)]
    expected[-1]['status'] = 'interrupted'  # a reply that was still streaming can never finish
    expected[2]['content'] = 'lone surrogate \ufffd kept'  # made well-formed where text enters a room
    assert imported == expected
    assert [m['status'] for m in imported] == ['complete', 'stopped', 'complete', 'error', 'complete', 'interrupted']
    assert imported[0]['content'] == UNICODE and imported[0]['author'] == 'Ann'
    assert imported[2]['content'] == 'lone surrogate \ufffd kept'
    copy = rooms.open_hub(new_id)
    assert copy is not None and copy.summary().title == f'{export["title"]} (imported)', \
        'the exported title comes along, marked so the copy can be told from its source'

    again = await http.post('/api/rooms/import', content=response.content)
    assert again.json()['room'] not in {new_id, 'source'}, 'every import makes a new room'
    source_now = (await http.get('/api/rooms/source/messages')).json()['messages']
    assert source_now == export['messages'], 'importing never touches the exported room'

    await rooms.close()  # a restart: the imported room is on disk, whole
    reopened = make_rooms(settings, model, data_dir)
    try:
        hub = await reopened.get(new_id)
        assert [message_to_record(m) for m in hub.messages] == expected
    finally:
        await reopened.close()


async def test_an_imported_room_is_titled_apart_from_its_source(http: httpx.AsyncClient, rooms: Rooms) -> None:
    """Regression (issue 12): an imported room had its source's title, so the list showed two rooms of one name."""
    await fill(rooms, 'source', [Message(id='s1', seq=1, role='user', content='## Plans for **June**')])
    exported = (await http.get('/api/rooms/source/export.json')).content
    first = (await http.post('/api/rooms/import', content=exported)).json()['room']
    again = (await http.post('/api/rooms/import', content=(await http.get(f'/api/rooms/{first}/export.json')).content))
    titles = {s.id: s.title for s in await rooms.summaries()}
    assert titles == {'source': 'Plans for June', first: 'Plans for June (imported)',
                      again.json()['room']: 'Plans for June (imported)'}, 'an import of an import is marked once'
    untitled = json.dumps(export_of(record(content='> **no** title here'), title=None)).encode()
    assert parse_export(untitled).title == 'no title here (imported)'


async def test_an_import_the_server_cannot_save_says_who_can_fix_it(
        http: httpx.AsyncClient, rooms: Rooms, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*_args: Any) -> None:
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(rooms, '_write_new_room', full)
    response = await http.post('/api/rooms/import', content=json.dumps(export_of(record())).encode())
    assert response.status_code == 507
    assert 'No space left on device' in response.json()['error'] and 'Whoever runs Rooms' in response.json()['error']


async def test_export_json_of_unknown_or_invalid_room_is_404_json(http: httpx.AsyncClient) -> None:
    for path in ('/api/rooms/nothing-here/export.json', '/api/rooms/a.b/export.json'):
        response = await http.get(path)
        assert response.status_code == 404 and 'error' in response.json(), path


async def test_versions_survive_the_round_trip_and_keep_seqs_unique(
        http: httpx.AsyncClient, rooms: Rooms, model: ScriptedModel) -> None:
    """Regenerated and edited messages keep earlier versions with their own messages: import renumbers those too."""
    hub = await rooms.get('branches')
    for text in ('one', 'two'):
        model.enqueue(f'answer to {text}')
        await hub.post(text, author_id=ANN.id)
        await wait_idle(hub)
    model.enqueue('answer to uno')
    hub.edit(hub.messages[0].id, 'uno', by=ANN)
    await wait_idle(hub)
    model.enqueue('answer to uno, again')
    hub.regenerate(hub.messages[-1].id)
    await wait_idle(hub)
    export = (await http.get('/api/rooms/branches/export.json')).json()

    new_id = (await http.post('/api/rooms/import', json=export)).json()['room']
    imported = await rooms.get(new_id)
    assert [m.content for m in imported.messages] == ['uno', 'answer to uno, again']
    assert [m.seq for m in imported.messages] == [1, 2]
    imported.select_version(imported.messages[0].id, 0)
    assert [m.content for m in imported.messages] == ['one', 'answer to one', 'two', 'answer to two']
    seqs = [m.seq for m in imported.messages]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    imported.select_version(imported.messages[0].id, 1)
    assert [m.content for m in imported.messages] == ['uno', 'answer to uno, again']
    imported.select_version(imported.messages[1].id, 0)
    assert imported.messages[1].content == 'answer to uno'
    model.enqueue('fine')
    await imported.post('more')
    await wait_idle(imported)
    all_seqs = [m.seq for m in imported.messages]
    assert all_seqs == sorted(set(all_seqs)), 'a new message never reuses a seq of a shelved one'


def export_of(*records: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {'format': 'rooms-export', 'version': 1, 'room': 'x', 'title': 't', 'exported_at': 1.0,
            'messages': list(records), **top}


def record(**fields: Any) -> dict[str, Any]:
    return {'id': 'm1', 'seq': 1, 'role': 'user', 'content': 'hi', 'status': 'complete', 'created_at': 1.0,
            'author': None, 'model': None, 'error': None, **fields}


BAD_IMPORTS: list[tuple[bytes, str]] = [
    (b'this is not json', 'not valid JSON'),
    (b'\xff\xfe{"a": 1}', 'not UTF-8'),
    (b'{"seq": ' + b'9' * 5000 + b'}', 'cannot be read (Exceeds the limit'),
    (json.dumps([1, 2]).encode(), 'not a Rooms export'),
    (json.dumps(export_of(record(), format='other')).encode(), 'not a Rooms export'),
    (json.dumps(export_of(record(), version=2)).encode(), 'version 2'),
    (json.dumps(export_of(record(), version=True)).encode(), 'version true'),
    (json.dumps(export_of()).encode(), 'no messages'),
    (json.dumps(export_of(messages='nope')).encode(), 'no "messages" list'),
    (json.dumps(export_of(record(seq='1'))).encode(), '"seq"'),
    (json.dumps(export_of(record(seq=True))).encode(), '"seq"'),
    (json.dumps(export_of(record(role='system'))).encode(), '"role"'),
    (json.dumps(export_of(record(status='done'))).encode(), '"status"'),
    (json.dumps(export_of(record(content=5))).encode(), '"content"'),
    (json.dumps(export_of(record(created_at='yesterday'))).encode(), '"created_at"'),
    (json.dumps(export_of(record(author=['x']))).encode(), '"author"'),
    (json.dumps(export_of(record(id='has space'))).encode(), '"id"'),
    (json.dumps(export_of(record(usage={'input_tokens': -1}))).encode(), '"usage"'),
    (json.dumps(export_of(record(versions=[{'content': 'x'}]))).encode(), 'version 1: it has no'),
    (json.dumps(export_of(record(version=3))).encode(), '"version"'),
    (json.dumps(export_of({'id': 'm1'})).encode(), 'it has no seq'),
    (json.dumps(export_of(record(), record(seq=2))).encode(), 'used twice'),
    (json.dumps(export_of(record(seq=5), record(id='m2', seq=5))).encode(), 'does not come after'),
    (json.dumps(export_of(record(), 'text')).encode(), 'Message 2: it is not an object'),
    (b'[' * 100_000 + b']' * 100_000, 'nested too deeply'),
]


ACTIONS = ('Export a room with its "Export as JSON" button', 'Export the room again', 'Update this Rooms',
           'Export a room that has messages')
"""What a refused import tells a person to do, one of these always."""


@pytest.mark.parametrize(('body', 'reason'), BAD_IMPORTS)
async def test_bad_import_is_refused_with_the_reason_and_creates_nothing(
        http: httpx.AsyncClient, rooms: Rooms, data_dir: Path, body: bytes, reason: str) -> None:
    await fill(rooms, 'existing', [Message(id='e1', seq=1, role='user', content='here before')])
    before = sorted(p.name for p in data_dir.iterdir())
    response = await http.post('/api/rooms/import', content=body)
    assert response.status_code == 400, response.text
    error = response.json()['error']
    assert reason in error
    assert any(action in error for action in ACTIONS), f'says what to do: {error}'
    assert 'lacks' not in error and '/api/' not in error, 'plain words'
    assert sorted(p.name for p in data_dir.iterdir()) == before
    assert [s.id for s in await rooms.summaries()] == ['existing']


async def test_oversized_import_is_refused_before_reading_it_all(http: httpx.AsyncClient, data_dir: Path) -> None:
    huge = b' ' * (MAX_IMPORT_BYTES + 1)
    response = await http.post('/api/rooms/import', content=huge)
    assert response.status_code == 413 and f'limit is {MAX_IMPORT_BYTES // 2**20} MB' in response.json()['error']

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the stream itself is cut off
        for _ in range(MAX_IMPORT_BYTES // 2**20 + 1):
            yield b' ' * (1024 * 1024)
    response = await http.post('/api/rooms/import', content=chunks())
    assert response.status_code == 413
    assert [p for p in data_dir.glob('*.json') if not p.name.startswith('.')] == [], 'no room was created'
    with pytest.raises(ImportRejected, match='limit'):
        parse_export(huge)


async def test_search_finds_words_in_open_and_closed_rooms_newest_first(
        settings: Settings, model: ScriptedModel, data_dir: Path) -> None:
    first = make_rooms(settings, model, data_dir)
    await fill(first, 'closed', [
        Message(id='c1', seq=1, role='user', content='Apple pie recipe please', created_at=100.0, author='Ann'),
        Message(id='c2', seq=2, role='assistant', content='Bake the PIE with apples.', created_at=101.0),
        Message(id='c3', seq=3, role='user', content='only pie here', created_at=102.0),
    ])
    await first.close()
    second = make_rooms(settings, model, data_dir)  # a restart: 'closed' is only on disk now
    try:
        await fill(second, 'open', [
            Message(id='o1', seq=1, role='user', content='my apple <b>pie</b> burned', created_at=200.0),
        ])
        app = FastAPI()
        api.register(app, second)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as http:
            found = (await http.get('/api/search', params={'q': 'pie APPLE'})).json()
            assert [(r['room'], r['message']) for r in found['results']] == [('open', 'o1'), ('closed', 'c2'),
                                                                             ('closed', 'c1')]
            assert found['truncated'] is False
            top = found['results'][0]
            assert top['url'] == '/room/open#m-o1' and top['title'] == 'my apple <b>pie</b> burned'
            assert top['snippet'] == 'my apple <b>pie</b> burned'
            assert [top['snippet'][a:b] for a, b in top['highlights']] == ['apple', 'pie']
            assert (await http.get('/api/search', params={'q': 'pie', 'limit': 2})).json()['truncated'] is True
            assert (await http.get('/api/search', params={'q': '   '})).json()['results'] == []
            assert (await http.get('/api/search', params={'q': 'apple pie cake'})).json()['results'] == []

        hub = await second.get('closed')  # a closed room that changed is read again, not served from the cache
        hub._append(Message(id='c4', seq=4, role='user', content='apple pie, second try', created_at=300.0))
        await second.close()
        third = make_rooms(settings, model, data_dir)
        third._search = second._search  # the same cache, now stale for 'closed'
        result = await third.search('apple pie')
        assert [hit.message_id for hit in result.hits] == ['c4', 'o1', 'c2', 'c1']
        await third.close()
    finally:
        await second.close()


async def test_long_messages_get_a_snippet_around_the_match() -> None:
    text = 'lorem ' * 100 + 'the needle is here' + ' ipsum' * 100
    rooms = make_rooms(Settings(data_dir=None, model='demo'), ScriptedModel())  # type: ignore[arg-type]
    await fill(rooms, 'long', [Message(id='l1', seq=1, role='user', content=text)])
    hit = (await rooms.search('NEEDLE')).hits[0]
    assert hit.snippet.startswith('… lorem') and hit.snippet.endswith('ipsum …') and len(hit.snippet) < 240
    assert [part for part, is_match in hit.segments() if is_match] == ['needle']
    await rooms.close()


async def test_search_snippets_are_plain_text_without_markdown() -> None:
    """Regression (issue 12): snippets showed raw `**`, `>` and backticks."""
    text = ('> **Quoted** advice: use `pip install rooms` and [the guide](https://example.com/guide)\n\n'
            '| tool | version |\n|---|---|\n| pip | 24 |\n\n```bash\npip --version\n```')
    rooms = make_rooms(Settings(data_dir=None, model='demo'), ScriptedModel())  # type: ignore[arg-type]
    await fill(rooms, 'md', [Message(id='md1', seq=1, role='assistant', content=text)])
    hit = (await rooms.search('PIP')).hits[0]
    assert hit.snippet == 'Quoted advice: use pip install rooms and the guide tool version pip 24 pip --version'
    assert [part for part, is_match in hit.segments() if is_match] == ['pip', 'pip', 'pip']
    assert (await rooms.search('example.com')).hits[0].snippet.startswith('Quoted advice'), \
        'a word only in a link target still finds the message'
    await rooms.close()


async def test_home_page_search_shows_linked_results_with_safe_highlights(app_users) -> None:
    rooms, new_user = app_users
    await fill(rooms, 'kitchen', [
        Message(id='k1', seq=1, role='user', content='Where is the <img src=x onerror=alert(1)> teapot?', author='Ann'),
        Message(id='k2', seq=2, role='assistant', content='The teapot is on the shelf.'),
    ])
    user = new_user()
    await user.open('/')
    user.find(marker='search').type('TEAPOT').trigger('keydown.enter')
    await user.should_see(' is on the shelf.')
    results = [e for e in user.client.layout.descendants() if e.props.get('data-testid') == 'search-result']
    assert [e.props['href'] for e in results] == ['/room/kitchen#m-k2', '/room/kitchen#m-k1']
    marks = [e for e in user.client.layout.descendants() if isinstance(e, TextElement) and e.tag == 'mark']
    assert [m.text for m in marks] == ['teapot', 'teapot']
    assert not [e for e in user.client.layout.descendants() if isinstance(e, ui.html) and 'onerror' in e.content]
    user.find(marker='search').clear().type('no such words')
    await asyncio.sleep(0.5)  # typing searches after a short pause, without Enter
    await user.should_see('No message contains all of: no such words')


async def test_home_page_import_opens_the_new_room_and_a_bad_file_creates_nothing(app_users) -> None:
    rooms, new_user = app_users
    good = json.dumps(export_of(record(content='imported hello'),
                                record(id='m2', seq=2, role='assistant', content='imported reply'))).encode()
    user = new_user()
    await user.open('/')
    upload = user.find(marker='import').elements.pop()
    assert upload.props['data-testid'] == 'import'
    await upload.handle_uploads([SmallFileUpload('bad.json', 'application/json', b'{"format": "rooms-export"')])
    await user.should_see('Nothing was imported from bad.json: This file is not a Rooms export: it is not valid JSON')
    assert await rooms.summaries() == []
    await upload.handle_uploads([SmallFileUpload('room.json', 'application/json', good)])
    await user.should_see('imported reply', retries=30)
    summaries = await rooms.summaries()
    assert [s.message_count for s in summaries] == [2]


@pytest.mark.browser
def test_in_chromium_import_by_upload_then_a_search_result_opens_the_room_at_that_message(tmp_path: Path) -> None:
    """The upload posts the file for real; the #m-<id> link loads earlier messages until it can scroll there."""
    records = [record(id=f'm{i}', seq=i + 1, role='user' if i % 2 == 0 else 'assistant', created_at=1000.0 + i,
                      content=f'message number {i}' + (' with the golden needle' if i == 5 else ''))
               for i in range(120)]
    export_file = tmp_path / 'long-room.json'
    export_file.write_text(json.dumps(export_of(*records)))
    with running_app(tmp_path / 'data') as app, chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on('pageerror', lambda error: errors.append(str(error)))
        page.goto(f'{app.url}/')
        page.wait_for_selector('[data-testid=connection][data-state=live]')
        with page.expect_file_chooser() as chooser:
            page.click('[data-testid=import-button]')
        chooser.value.set_files(str(export_file))
        page.wait_for_url(f'{app.url}/room/*', timeout=15_000)
        page.wait_for_selector('[data-testid=message][data-message-id=m119]')
        room_id = page.url.rsplit('/', 1)[-1]
        assert [m['id'] for m in app.messages(room_id)] == [f'm{i}' for i in range(120)]

        page.goto(f'{app.url}/')
        search = page.locator('input[data-testid=search]')
        search.fill('GOLDEN needle')
        search.press('Enter')
        result = page.locator('[data-testid=search-result]')
        result.wait_for()
        assert result.count() == 1 and result.locator('mark').all_inner_texts() == ['golden', 'needle']
        assert result.get_attribute('href') == f'/room/{room_id}#m-m5'
        result.click()
        target = page.locator('[data-testid=message][data-message-id=m5][data-anchored]')
        target.wait_for(timeout=15_000)
        page.wait_for_timeout(500)  # the page's own scroll-to-end must not take the reader away
        box = target.bounding_box()
        viewport = page.viewport_size
        assert box is not None and viewport is not None
        assert 0 <= box['y'] and box['y'] + box['height'] <= viewport['height'], box
        assert errors == []
