"""Attachments (issue 11 part 1, CONTRACT.md files API): upload, serve, limits and types decided by the bytes, messages
that carry files, what Claude gets through the real SDK against the fake, the demo's answer, export and import, trash,
and room links that reach only their own room's files."""
from __future__ import annotations

import base64
import hashlib
import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anthropic
import httpx
import pytest
import pytest_asyncio
from browser_support import AppProcess, running_app
from conftest import ScriptedModel, wait_idle
from PIL import Image

from chat.bench.fake_anthropic import FakeAnthropic
from chat.config import Settings
from chat.demo import Demo
from chat.files import API_EDGE, MAX_TEXT_BYTES, FileStore
from chat.links import RoomLinks
from chat.llm import Claude
from chat.models import Attachment, Message, Person
from chat.records import message_from_record, message_to_record
from chat.rooms import Rooms
from chat.store import RoomStore
from chat.turns import REQUEST_BYTES, Turn, build_turns, fit_turns

ANN = Person('a1b2c3d4e5f60718', 'Ann')
TOKEN = 'attachments-owner-token-0123456789'
PDF = (b'%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj '
       b'3 0 obj<</Type/Page/MediaBox[0 0 200 200]/Parent 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n')


def image(width: int, height: int, image_format: str = 'PNG', color: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    out = io.BytesIO()
    Image.new('RGB', (width, height), color).save(out, image_format)
    return out.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        return picture.size


# --- the files API, in-process ------------------------------------------------------------------------------------

async def upload(http: httpx.AsyncClient, room: str, name: str, data: bytes) -> httpx.Response:
    return await http.post(f'/api/rooms/{room}/files', files={'file': (name, data, 'application/octet-stream')})


def stored_names(data_dir: Path, room: str) -> list[str]:
    folder = data_dir / 'files' / room
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


async def test_a_file_is_kept_once_per_content_and_served_with_its_type(http: httpx.AsyncClient,
                                                                         data_dir: Path) -> None:
    png = image(40, 30)
    first = await upload(http, 'r1', 'dir/../photo.png', png)
    assert first.status_code == 201, first.text
    attachment = first.json()['attachment']
    file_id = hashlib.sha256(png).hexdigest()
    assert attachment == {'id': file_id, 'name': 'photo.png', 'media_type': 'image/png', 'size': len(png),
                          'url': f'/api/rooms/r1/files/{file_id}'}
    again = await upload(http, 'r1', 'same.png', png)
    assert again.json()['attachment']['id'] == file_id
    assert stored_names(data_dir, 'r1') == [file_id, f'{file_id}.json'], 'one copy, beside a small note'
    assert json.loads((data_dir / 'files' / 'r1' / f'{file_id}.json').read_text())['media_type'] == 'image/png'

    served = await http.get(attachment['url'])
    assert served.status_code == 200 and served.content == png
    assert served.headers['content-type'] == 'image/png'
    assert served.headers['content-disposition'].startswith('inline;')
    assert served.headers['x-content-type-options'] == 'nosniff'
    assert 'sandbox' in served.headers['content-security-policy']

    text = (await upload(http, 'r1', 'Notes für dich.md', '# Hi\n\nÜber **alles**\n'.encode())).json()['attachment']
    assert text['media_type'] == 'text/markdown'
    served = await http.get(text['url'])
    assert served.headers['content-type'] == 'text/markdown; charset=utf-8'
    assert served.headers['content-disposition'].startswith('attachment;'), 'text is downloaded, never shown inline'
    assert "filename*=UTF-8''Notes%20f%C3%BCr%20dich.md" in served.headers['content-disposition']

    pdf = (await upload(http, 'r1', 'report.pdf', PDF)).json()['attachment']
    served = await http.get(pdf['url'])
    assert (served.headers['content-type'], served.content) == ('application/pdf', PDF)
    assert served.headers['content-disposition'].startswith('inline;')


@pytest.mark.parametrize(('name', 'data', 'media_type'), [
    ('shot.txt', image(8, 8), 'image/png'),
    ('photo', image(8, 8, 'JPEG'), 'image/jpeg'),
    ('anim.png', image(8, 8, 'GIF'), 'image/gif'),
    ('pic.bin', image(8, 8, 'WEBP'), 'image/webp'),
    ('paper.txt', PDF, 'application/pdf'),
    ('main.py', b'print("hi")\n', 'text/plain'),
    ('fake.png', b'not an image at all', 'text/plain'),
    ('data.csv', b'a,b\n1,2\n', 'text/csv'),
    ('data.json', b'{"a": 1}', 'application/json'),
    ('README.MD', 'Grüße 🎉'.encode(), 'text/markdown'),
])
async def test_the_type_is_decided_by_the_bytes_not_the_name(http: httpx.AsyncClient, name: str, data: bytes,
                                                             media_type: str) -> None:
    response = await upload(http, 'types', name, data)
    assert response.status_code == 201, response.text
    assert response.json()['attachment']['media_type'] == media_type


async def test_refused_files_say_why_and_leave_nothing_behind(http: httpx.AsyncClient, data_dir: Path) -> None:
    kept = await upload(http, 'r2', 'kept.txt', b'kept')
    before = stored_names(data_dir, 'r2')
    binary = await upload(http, 'r2', 'notes.md', b'\x00\x01\x02binary')
    assert binary.status_code == 415
    assert 'PNG, JPEG, GIF, WebP' in binary.json()['error'] and 'PDF' in binary.json()['error']
    latin1 = await upload(http, 'r2', 'old.txt', 'Grüße'.encode('latin-1'))
    assert latin1.status_code == 415, 'text must be UTF-8'
    damaged = await upload(http, 'r2', 'cut.png', image(300, 300)[:200])
    assert damaged.status_code == 415 and 'damaged' in damaged.json()['error']
    big_text = await upload(http, 'r2', 'log.txt', b'x' * (MAX_TEXT_BYTES + 1))
    assert big_text.status_code == 413 and 'limit is 512 KB' in big_text.json()['error']
    empty = await upload(http, 'r2', 'empty.txt', b'')
    assert empty.status_code == 400 and 'empty' in empty.json()['error']
    not_multipart = await http.post('/api/rooms/r2/files', content=b'hello', headers={'content-type': 'text/plain'})
    assert not_multipart.status_code == 400
    wrong_field = await http.post('/api/rooms/r2/files', files={'upload': ('a.txt', b'a')})
    assert wrong_field.status_code == 400 and '"file"' in wrong_field.json()['error']
    huge = await http.post('/api/rooms/r2/files', content=b'x' * 100,
                           headers={'content-type': 'multipart/form-data; boundary=x',
                                    'content-length': str(30 * 1024 * 1024)})
    assert huge.status_code == 413 and 'over 20 MB' in huge.json()['error']

    async def endless() -> AsyncIterator[bytes]:  # no length given: refused once more than 20 MB arrived
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
        for _ in range(25):
            yield b'\x89PNG' * (256 * 1024)
    streamed = await http.post('/api/rooms/r2/files', content=endless(),
                               headers={'content-type': 'multipart/form-data; boundary=x'})
    assert streamed.status_code == 413
    assert kept.status_code == 201 and stored_names(data_dir, 'r2') == before, 'nothing half-stored'
    assert not list((data_dir / 'files').rglob('*.tmp'))


async def test_an_image_larger_than_the_api_takes_is_scaled_for_claude_not_refused(
        http: httpx.AsyncClient, rooms: Rooms) -> None:
    huge = image(8200, 400)
    response = await upload(http, 'r3', 'panorama.png', huge)
    assert response.status_code == 201, response.text
    attachment = response.json()['attachment']
    assert (await http.get(attachment['url'])).content == huge, 'the original is kept and served'
    preview = await http.get(f'{attachment["url"]}?preview=1')
    assert max(size_of(preview.content)) == API_EDGE
    media_type, data = rooms.store.files.for_model('r3', attachment['id'])  # type: ignore[misc]
    assert media_type == 'image/png' and size_of(data) == (API_EDGE, 76)
    small = (await upload(http, 'r3', 'icon.png', image(64, 64))).json()['attachment']
    assert rooms.store.files.for_model('r3', small['id']) == ('image/png', image(64, 64)), 'sent as it is'


async def test_unknown_files_are_404_and_a_room_sees_only_its_own(http: httpx.AsyncClient) -> None:
    own = (await upload(http, 'mine', 'a.txt', b'mine')).json()['attachment']
    for url in (f'/api/rooms/other/files/{own["id"]}', f'/api/rooms/mine/files/{"0" * 64}',
                '/api/rooms/mine/files/abc', f'/api/rooms/mine/files/{own["id"]}.json'):
        response = await http.get(url)
        assert response.status_code == 404 and 'error' in response.json(), url
    assert (await http.get('/api/rooms/mine/files/..%2F..%2Fetc%2Fpasswd')).status_code == 404
    assert (await http.get('/api/rooms/bad.id/files/x')).status_code == 404


async def test_a_message_carries_its_files_and_unknown_ids_are_refused(http: httpx.AsyncClient, rooms: Rooms,
                                                                       data_dir: Path, model: ScriptedModel) -> None:
    model.enqueue('seen')  # the scripted model's own echo would repeat the blocks it got
    png = (await upload(http, 'r4', 'cat.png', image(20, 20))).json()['attachment']
    notes = (await upload(http, 'r4', 'notes.md', b'# notes')).json()['attachment']
    posted = await http.post('/api/rooms/r4/messages', json={'text': 'look', 'attachments': [png['id'], notes['id']]})
    assert posted.status_code == 201, posted.text
    assert posted.json()['message']['attachments'] == [png, notes]
    await wait_idle(rooms.open_hub('r4'))  # type: ignore[arg-type]
    listed = (await http.get('/api/rooms/r4/messages')).json()['messages']
    assert listed[0]['attachments'] == [png, notes] and listed[1]['attachments'] == []
    room_file = (data_dir / 'r4.json').read_text()
    assert png['id'] in room_file and base64.b64encode(image(20, 20)).decode()[:40] not in room_file, \
        'the room file refers to its files, never holds them'

    only_files = await http.post('/api/rooms/r4/messages', json={'text': ' ', 'attachments': [png['id']]})
    assert only_files.status_code == 201 and only_files.json()['message']['content'] == ''
    for body, reason in (({'text': 'x', 'attachments': ['f1']}, 'no file'),
                         ({'text': 'x', 'attachments': [png['id'].replace('a', 'b').replace('0', '1')]}, 'no file'),
                         ({'text': 'x', 'attachments': png['id']}, 'list of file ids'),
                         ({'text': 'x', 'attachments': [1]}, 'list of file ids'),
                         ({'text': ' ', 'attachments': []}, 'empty')):
        refused = await http.post('/api/rooms/r4/messages', json=body)
        assert refused.status_code == 400 and reason in refused.json()['error'], (body, refused.text)
    other_room = await http.post('/api/rooms/r5/messages', json={'text': 'x', 'attachments': [png['id']]})
    assert other_room.status_code == 400, "another room's file is unknown here"
    many = [(await upload(http, 'r4', f'{n}.txt', f'file {n}'.encode())).json()['attachment']['id'] for n in range(11)]
    assert (await http.post('/api/rooms/r4/messages', json={'text': 'x', 'attachments': many})).status_code == 400


async def test_edit_regenerate_and_versions_keep_the_files(rooms: Rooms, model: ScriptedModel) -> None:
    attachment = rooms.store.files.put('r6', image(10, 10), 'dot.png')
    hub = await rooms.get('r6')
    model.enqueue('first answer')
    message = await hub.post('see this', author_id=ANN.id, attachments=[attachment.id])
    await wait_idle(hub)
    model.enqueue('second answer')
    hub.regenerate(hub.messages[-1].id)
    await wait_idle(hub)
    model.enqueue('third answer')
    hub.edit(message.id, '', by=ANN)  # a message of files alone may have no text
    await wait_idle(hub)
    assert hub.messages[0].attachments == (attachment,) and hub.messages[0].content == ''
    hub.select_version(message.id, 0)
    assert hub.messages[0].attachments == (attachment,) and hub.messages[0].content == 'see this'
    assert all(isinstance(turn.content, list) for turn in model.asked[0] if turn.role == 'user')
    assert model.asked[-1][0].files == (attachment,)


def test_records_keep_only_attachments_a_store_could_have_written() -> None:
    good = {'id': 'a' * 64, 'name': 'x\ny.png', 'media_type': 'image/png', 'size': 3,
            'url': f'/api/rooms/r1/files/{"a" * 64}'}
    record = message_to_record(Message(id='m1', seq=1, role='user', content='hi'))
    record['attachments'] = [good, good, {**good, 'id': 'b' * 64}, {**good, 'media_type': 'text/html'},
                             {**good, 'url': 'https://evil.example/x'}, {**good, 'id': '../x'}, {**good, 'size': -1},
                             'junk', None]
    message = message_from_record(record)
    assert message.attachments == (Attachment('a' * 64, 'x y.png', 'image/png', 3, good['url']),)
    assert message_from_record(message_to_record(message)) == message


# --- what Claude gets, through the real SDK against the fake -----------------------------------------------------

@pytest_asyncio.fixture
async def fake_api() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


async def test_claude_gets_image_pdf_and_text_blocks_through_the_sdk(fake_api: FakeAnthropic, tmp_path: Path) -> None:
    claude = Claude('claude-sonnet-5-5', api_key='sk-test', base_url=fake_api.base_url, max_retries=0, timeout=5)
    settings = Settings(data_dir=tmp_path, model='claude-sonnet-5-5', api_key='sk-test', base_url=fake_api.base_url)
    rooms = Rooms(RoomStore(tmp_path), lambda _name: claude, settings)
    try:
        files = rooms.store.files
        photo = files.put('r1', image(3000, 2000, 'JPEG'), 'photo.jpg')
        pdf = files.put('r1', PDF, 'report.pdf')
        code = files.put('r1', b'def f():\n    return 1\n', 'f.py')
        hub = await rooms.get('r1')
        await hub.post('no files yet', author='Ann')
        await wait_idle(hub)
        await hub.post('what are these?', author='Ann', attachments=[photo.id, pdf.id, code.id])
        await wait_idle(hub)
        assert hub.messages[-1].content.startswith('Echo: Ann: what are these?')
        assert '(+ image image/jpeg, document report.pdf, document f.py)' in hub.messages[-1].content
        first, second = fake_api.requests[-1]['messages'][0], fake_api.requests[-1]['messages'][2]
        assert isinstance(first['content'], str), 'a turn without files stays a plain string'
        image_block, pdf_block, text_block, words = second['content']
        assert image_block['source']['media_type'] == 'image/jpeg'
        assert max(size_of(base64.b64decode(image_block['source']['data']))) == API_EDGE, 'scaled for Claude'
        assert pdf_block == {'type': 'document', 'title': 'report.pdf', 'source': {
            'type': 'base64', 'media_type': 'application/pdf', 'data': base64.b64encode(PDF).decode()}}
        assert text_block['source'] == {'type': 'text', 'media_type': 'text/plain', 'data': 'def f():\n    return 1\n'}
        assert words['text'].startswith('Ann: what are these?\n[attached: photo.jpg (image/jpeg, ')
        assert words['cache_control'] == {'type': 'ephemeral'}, 'the newest turn still ends the cached prefix'
    finally:
        await rooms.close()
        await claude.close()


async def test_the_fake_refuses_what_the_api_refuses(fake_api: FakeAnthropic) -> None:
    client = anthropic.AsyncAnthropic(api_key='sk-test', base_url=fake_api.base_url, max_retries=0)
    png = base64.b64encode(image(8, 8)).decode()
    wide = base64.b64encode(image(8001, 2)).decode()
    cases = [
        ({'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', 'data': 'A' * (5 * 2**20 + 4)}},
         'image exceeds 5 MB maximum'),
        ({'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', 'data': wide}},
         'image dimensions exceed max allowed size: 8000 pixels'),
        ({'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/jpeg', 'data': png}},
         'appears to be a image/png image'),
        ({'type': 'document', 'source': {'type': 'base64', 'media_type': 'application/pdf', 'data': png}},
         'The PDF specified was not valid'),
        ({'type': 'text', 'text': ''}, 'text content blocks must be non-empty'),
        ({'type': 'video'}, "Input tag 'video'"),
    ]
    try:
        for block, message in cases:
            with pytest.raises(anthropic.BadRequestError) as refused:
                await client.messages.create(model='claude-sonnet-5-5', max_tokens=10,
                                             messages=[{'role': 'user', 'content': [block]}])
            assert refused.value.status_code == 400 and refused.value.body['error']['type'] == 'invalid_request_error'
            assert message in refused.value.body['error']['message'] and 'messages' in str(refused.value)
        content = [{'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', 'data': png}},
                   {'type': 'text', 'text': 'hi'}]
        ok = await client.messages.create(model='claude-sonnet-5-5', max_tokens=10,
                                          messages=[{'role': 'user', 'content': content}])
        assert ok.content[0].text == 'A fine title' and len(fake_api.blocks('image')) == 4, 'refused ones recorded too'
    finally:
        await client.close()


async def test_a_refused_file_shows_the_api_reason_in_the_reply(fake_api: FakeAnthropic, tmp_path: Path) -> None:
    claude = Claude('claude-sonnet-5-5', api_key='sk-test', base_url=fake_api.base_url, max_retries=0, timeout=5)
    settings = Settings(data_dir=tmp_path, model='claude-sonnet-5-5', api_key='sk-test', base_url=fake_api.base_url)
    rooms = Rooms(RoomStore(tmp_path), lambda _name: claude, settings)
    try:
        note = rooms.store.files.put('r1', b'%PDF-1.4 but cut', 'cut.pdf')
        hub = await rooms.get('r1')
        fake_api.enqueue_status(400, {'type': 'error', 'error': {
            'type': 'invalid_request_error', 'message': 'messages.0.content.0.document.source.base64.data: The PDF '
                                                        'specified was not valid.'}})
        await hub.post('read it', attachments=[note.id])
        await wait_idle(hub)
        reply = hub.messages[-1]
        assert reply.status == 'error' and '(400)' in (reply.error or '') and 'PDF specified was not valid' in \
            (reply.error or '')
    finally:
        await rooms.close()
        await claude.close()


async def test_the_demo_model_acknowledges_the_files() -> None:
    attachment = Attachment('c' * 64, 'plan_*v2*.pdf', 'application/pdf', 123_456, f'/api/rooms/r/files/{"c" * 64}')
    message = Message(id='m1', seq=1, role='user', content='here', author='Ann', attachments=(attachment,))
    turns = build_turns([message], lambda _a: ('application/pdf', PDF))
    reply = ''.join([chunk async for chunk in Demo(delay=0).stream(turns, '')])
    assert 'You attached 1 file' in reply and r'plan\_\*v2\*.pdf (application/pdf, 121 KB)' in reply
    assert '[attached:' not in reply, 'the quote of the question leaves the file list to the reply'


def test_turns_stay_strings_without_files_and_big_files_push_old_turns_out() -> None:
    plain = [Message(id=f'm{n}', seq=n, role='user' if n % 2 else 'assistant', content=f'text {n}') for n in (1, 2)]
    assert all(isinstance(turn.content, str) for turn in build_turns(plain, lambda _a: None))
    attachment = Attachment('d' * 64, 'big.pdf', 'application/pdf', 8 * 2**20, f'/api/rooms/r/files/{"d" * 64}')
    heavy = [Message(id=f'h{n}', seq=n, role='user' if n % 2 else 'assistant', content=f'part {n}',
                     attachments=(attachment,) if n % 2 else ()) for n in range(1, 6)]
    turns = build_turns(heavy, lambda _a: ('application/pdf', b'%PDF-' + b'x' * (8 * 2**20)))
    kept, left_out = fit_turns(turns, 10**9, 1000)
    assert left_out == 2 and sum(len(json.dumps(t.content)) for t in kept) < REQUEST_BYTES
    gone = build_turns(heavy[:1], lambda _a: None)
    assert gone[0].content[0] == {'type': 'text', 'text': '[big.pdf: this file is no longer available]'}
    assert isinstance(gone[0], Turn)


# --- export and import, trash --------------------------------------------------------------------------------------

async def test_export_carries_the_files_and_import_brings_them_to_the_new_room(
        http: httpx.AsyncClient, rooms: Rooms, model: ScriptedModel, data_dir: Path) -> None:
    photo = rooms.store.files.put('source', image(30, 20), 'photo.png')
    notes = rooms.store.files.put('source', b'# later notes', 'notes.md')
    hub = await rooms.get('source')
    first = await hub.post('the photo', author_id=ANN.id, attachments=[photo.id])
    await wait_idle(hub)
    await hub.post('and notes', attachments=[notes.id])
    await wait_idle(hub)
    hub.edit(first.id, 'the photo, again', by=ANN)  # the notes now live in a version of the first message only
    await wait_idle(hub)
    exported = (await http.get('/api/rooms/source/export.json')).json()
    assert set(exported['files']) == {photo.id, notes.id}
    assert base64.b64decode(exported['files'][notes.id]['data']) == b'# later notes'

    created = await http.post('/api/rooms/import', json=exported)
    assert created.status_code == 201, created.text
    new = created.json()['room']
    imported = (await http.get(f'/api/rooms/{new}/messages')).json()['messages']
    assert imported[0]['attachments'] == [{**message_to_record(first)['attachments'][0],
                                           'url': f'/api/rooms/{new}/files/{photo.id}'}]
    assert (await http.get(imported[0]['attachments'][0]['url'])).content == image(30, 20)
    copy = rooms.open_hub(new)
    assert copy is not None
    copy.select_version(copy.messages[0].id, 0)
    restored = [m for m in copy.messages if m.attachments and m.attachments[0].id == notes.id]
    assert restored and restored[0].attachments[0].url == f'/api/rooms/{new}/files/{notes.id}'
    assert (await http.get(restored[0].attachments[0].url)).content == b'# later notes'

    tampered = {**exported, 'files': {**exported['files'], photo.id: {
        **exported['files'][photo.id], 'data': base64.b64encode(image(31, 20)).decode()}}}
    refused = await http.post('/api/rooms/import', json=tampered)
    assert refused.status_code == 400 and 'do not match' in refused.json()['error']
    without = await http.post('/api/rooms/import', json={**exported, 'files': {}})
    assert without.status_code == 201, 'a file missing from the export is left out, the messages come'
    bare = (await http.get(f'/api/rooms/{without.json()["room"]}/messages')).json()['messages']
    assert bare[0]['attachments'] == []


async def test_a_deleted_room_takes_its_files_to_the_trash(http: httpx.AsyncClient, rooms: Rooms,
                                                           data_dir: Path) -> None:
    attachment = rooms.store.files.put('doomed', b'secret plans', 'plans.txt')
    hub = await rooms.get('doomed')
    await hub.post('plans', attachments=[attachment.id])
    await wait_idle(hub)
    await rooms.delete('doomed')
    assert not (data_dir / 'files' / 'doomed').exists()
    trashed = list((data_dir / 'trash').glob('doomed-*.files'))
    assert len(trashed) == 1 and (trashed[0] / attachment.id).read_bytes() == b'secret plans'
    assert (await http.get(attachment.url)).status_code == 404


def test_files_in_memory_work_like_files_on_disk() -> None:
    store = FileStore(None)
    attachment = store.put('r1', b'hello', 'a.txt')
    assert store.attachment('r1', attachment.id) == attachment and store.read('r1', attachment.id) == b'hello'
    store.trash('r1', None)
    assert store.attachment('r1', attachment.id) is None


# --- room links, against `python main.py --token` ---------------------------------------------------------------

@pytest.fixture(scope='module')
def token_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    with running_app(tmp_path_factory.mktemp('attach') / 'data', '--token', TOKEN, '--model', 'demo') as process:
        yield process


def test_a_room_link_reaches_only_its_own_rooms_files(token_app: AppProcess) -> None:
    owner = {'Authorization': f'Bearer {TOKEN}'}
    with httpx.Client(base_url=token_app.url, timeout=10) as http:
        ids = {}
        for room in ('alpha', 'beta'):
            response = http.post(f'/api/rooms/{room}/files', files={'file': (f'{room}.txt', room.encode())},
                                 headers=owner)
            assert response.status_code == 201, response.text
            ids[room] = response.json()['attachment']['id']
            posted = http.post(f'/api/rooms/{room}/messages', json={'text': room, 'attachments': [ids[room]]},
                               headers=owner)
            assert posted.status_code == 201
        guest = {'Authorization': f'Bearer {RoomLinks(token_app.data_dir).key("alpha")}'}
        assert http.get(f'/api/rooms/alpha/files/{ids["alpha"]}', headers=guest).content == b'alpha'
        assert http.post('/api/rooms/alpha/files', files={'file': ('g.txt', b'from a guest')},
                         headers=guest).status_code == 201
        assert http.get(f'/api/rooms/beta/files/{ids["beta"]}', headers=guest).status_code == 403
        assert http.post('/api/rooms/beta/files', files={'file': ('g.txt', b'x')}, headers=guest).status_code == 403
        assert http.get(f'/api/rooms/beta/files/{ids["beta"]}').status_code == 401
        assert http.get(f'/api/rooms/beta/files/{ids["beta"]}', headers=owner).content == b'beta'
        foreign = http.post('/api/rooms/alpha/files', files={'file': ('x.txt', b'x')},
                            headers={**guest, 'Origin': 'https://evil.example'})
        assert foreign.status_code == 403, 'another site cannot upload into a room'
