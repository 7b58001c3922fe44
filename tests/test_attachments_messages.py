"""Attachments (issue 11 part 1): messages that carry files, edit/regenerate/versions that keep them, the records
they are saved as, and export and import that carry the files to a new room."""
from __future__ import annotations

import base64
from pathlib import Path

import httpx
from attachment_support import ANN, image, upload
from conftest import ScriptedModel, api_client, wait_idle

from chat.config import Settings
from chat.models import Attachment, Message
from chat.records import message_from_record, message_to_record
from chat.rooms import Rooms
from chat.store import RoomStore


async def test_a_message_carries_its_files_and_unknown_ids_are_refused(
        http: httpx.AsyncClient, rooms: Rooms, data_dir: Path, model: ScriptedModel, settings: Settings) -> None:
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

    restarted = Rooms(RoomStore(data_dir), lambda _name: model, settings)  # a new process on the same data dir
    try:
        async with api_client(restarted, settings, data_dir) as again:
            after = (await again.get('/api/rooms/r4/messages')).json()['messages']
            assert after[0]['attachments'] == [png, notes], 'a restart finds the files of the message'
            served = await again.get(png['url'])
            assert (served.status_code, served.content, served.headers['content-type']) == (200, image(20, 20),
                                                                                             'image/png')
            assert (await again.get(notes['url'])).content == b'# notes'
    finally:
        await restarted.close()

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


# --- export and import ---------------------------------------------------------------------------------------------

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

