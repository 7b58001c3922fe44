"""Attachments (issue 11 part 1, CONTRACT.md files API): upload, serve, limits and types decided by the bytes, a room
seeing only its own files, trash, and room links that reach only their own room's files. Messages that carry files,
export and import: test_attachments_messages.py; what Claude gets: test_attachments_claude.py."""
from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from attachment_support import PDF, image, size_of, stored_names, upload
from browser_support import AppProcess, running_app
from conftest import wait_idle

from chat.files import API_EDGE, MAX_TEXT_BYTES, FileStore
from chat.links import RoomLinks
from chat.rooms import Rooms

TOKEN = 'attachments-owner-token-0123456789'


# --- the files API, in-process ------------------------------------------------------------------------------------

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


# --- trash, and files kept in memory ----------------------------------------------------------------------------------

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
