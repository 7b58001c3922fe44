"""Nothing a user did is lost: a renamed room keeps its title, whatever an import accepts opens, unsaved writes are
retried instead of dropped."""
from __future__ import annotations

import asyncio
import dataclasses
import errno
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import ScriptedModel, wait_idle
from fastapi import FastAPI
from test_export_import_search import export_of, record
from test_hub import make_rooms
from test_room_users import simulated_app
from test_store_faults import Disk, FullableStorage

from chat import api, transfer, writer
from chat.config import Settings
from chat.errors import ImportRejected
from chat.models import RoomSettings
from chat.records import message_from_record, message_to_record
from chat.rooms import Rooms
from chat.store import RoomStore

LONE = '\ud800'
"""A lone surrogate: valid in JSON (as \\ud800), no UTF-8 form, refused by orjson (NiceGUI's page encoder)."""


# titles -------------------------------------------------------------------------------------------------------


async def test_a_renamed_room_keeps_its_title_once_closed_evicted_or_restarted(
        settings: Settings, model: ScriptedModel, tmp_path: Path) -> None:
    """Regression: summaries of closed rooms were built without their settings, so the first words came back."""
    rooms = make_rooms(settings, model, tmp_path)
    hub = await rooms.get('club')
    await hub.post('first words of the room')
    await wait_idle(hub)
    hub.configure(title='Book club')
    await hub.flush()
    await rooms.evict_idle(max_idle=0)
    assert rooms.open_hub('club') is None, 'evicted'
    await assert_titled(rooms, 'Book club')
    await rooms.close()
    restarted = make_rooms(settings, model, tmp_path)
    await assert_titled(restarted, 'Book club')
    await restarted.close()


async def assert_titled(rooms: Rooms, title: str) -> None:
    assert [s.title for s in await rooms.summaries()] == [title]
    assert {hit.title for hit in (await rooms.search('first words')).hits} == {title}


# hostile imports ----------------------------------------------------------------------------------------------


def shelved(**fields: Any) -> dict[str, Any]:
    """A version of a message, as versions.py keeps it."""
    return {'content': 'older text', 'status': 'complete', 'model': None, 'error': None, 'created_at': 1.0,
            'author': None, 'usage': None, 'tail': [], **fields}


def everywhere(value: str) -> dict[str, Any]:
    """An export with `value` in every string field at every level, versions' tails included."""
    tail = record(id='t1', seq=9, role='assistant', content=value, author=value, model=value, error=value,
                  status='error')
    return export_of(
        record(content=value, author=value, **{f'unknown {value}': value}),
        record(id='m2', seq=2, role='assistant', content=value, model=value, error=value, status='error',
               versions=[shelved(content=value, model=value, error=value, author=value, tail=[tail])], version=1),
        title=value, room=value, **{value: value})


def as_body(document: Any) -> bytes:
    return json.dumps(document).encode()


def deep(opening: str, closing: str, depth: int = 10_000) -> bytes:
    return (opening * depth + closing * depth).encode()


def with_raw(field: str, literal: str, *, in_tail: bool = False) -> bytes:
    """An export whose `field` holds a raw JSON literal (NaN, Infinity, a 400-digit number) json.dumps cannot write."""
    target = record(**{'id': 't1', 'seq': 9, field: '@@'})
    document = export_of(record(versions=[shelved(tail=[target])], version=1) if in_tail else target)
    return json.dumps(document).replace('"@@"', literal).encode()


def nested_versions(depth: int) -> dict[str, Any]:
    message = record(id=f'd{depth}', seq=depth + 1)
    for level in range(depth):
        message = record(id=f'd{level}', seq=level + 1, versions=[shelved(tail=[message])], version=1)
    return message


HOSTILE: dict[str, bytes] = {
    'lone surrogates everywhere': as_body(everywhere(f'a{LONE}b')),
    'lone surrogate as the whole title': as_body(everywhere(LONE)),
    'control characters in names': as_body(everywhere('Ann\n\x00\x1b[31m\u2028x\t')),
    'numbers where strings go': as_body(export_of(record(author=5, model=1.5, error=7), title=5)),
    'a number as content of a version': as_body(export_of(record(versions=[shelved(content=5)], version=1))),
    'a list where a message goes': as_body(export_of([record()])),
    'a list where a version goes': as_body(export_of(record(versions=[[shelved()]], version=1))),
    'an object where a tail goes': as_body(export_of(record(versions=[shelved(tail={})], version=1))),
    'a list where usage goes': as_body(export_of(record(usage=[1, 2]))),
    'an object as the title': as_body(export_of(record(), title={'a': 1})),
    'null where a message goes': as_body(export_of(None)),
    'null content': as_body(export_of(record(content=None))),
    'null versions and version': as_body(export_of(record(versions=None, version=None))),
    'null tail': as_body(export_of(record(versions=[shelved(tail=None)], version=1))),
    'a bool seq': as_body(export_of(record(seq=True))),
    'a bool time': as_body(export_of(record(created_at=False))),
    'a bool left_out': as_body(export_of(record(left_out=True))),
    'a huge seq': as_body(export_of(record(seq=10**30))),
    'a time far in the future': as_body(export_of(record(created_at=10**30))),
    'a 400-digit time': with_raw('created_at', '1' + '0' * 400),
    'huge token counts': as_body(export_of(record(usage={'input_tokens': 10**400}))),
    'a huge left_out in a tail': with_raw('left_out', '9' * 400, in_tail=True),
    'a text left_out in a tail': as_body(export_of(record(versions=[shelved(tail=[record(
        id='t1', seq=9, left_out='many')])], version=1))),
    'NaN time': with_raw('created_at', 'NaN'),
    'NaN seq': with_raw('seq', 'NaN'),
    'NaN left_out': with_raw('left_out', 'NaN'),
    'Infinity left_out': with_raw('left_out', 'Infinity'),
    'NaN time in a tail': with_raw('created_at', 'NaN', in_tail=True),
    'negative seq': as_body(export_of(record(seq=-1))),
    'negative time': as_body(export_of(record(created_at=-5))),
    'negative left_out': as_body(export_of(record(left_out=-3))),
    'negative tokens': as_body(export_of(record(usage={'output_tokens': -1}))),
    'negative version': as_body(export_of(record(versions=[shelved()], version=-1))),
    '10,000 nested lists': deep('[', ']'),
    '10,000 nested objects': deep('{"a":', '}'),
    '10,000 nested lists inside a message': json.dumps(export_of(record(extra='@@'))).replace(
        '"@@"', deep('[', ']').decode()).encode(),
    'versions nested 60 deep': as_body(export_of(nested_versions(60))),
    '5,000 messages': as_body(export_of(*(record(id=f'm{i}', seq=i + 1) for i in range(5_000)))),
}
ACCEPTED = {'lone surrogates everywhere', 'lone surrogate as the whole title', 'control characters in names',
            'an object as the title', '5,000 messages'}
"""The documents above a room can hold once cleaned; every other one is refused with a reason."""


def test_parse_export_accepts_only_what_a_room_can_hold() -> None:
    """Every hostile document is either refused with a reason or becomes messages that encode for a page."""
    accepted = set()
    for name, body in HOSTILE.items():
        try:
            parsed = transfer.parse_export(body)
        except ImportRejected as e:
            assert str(e), name
            continue
        accepted.add(name)
        for message in parsed.messages:
            assert_renders(message_to_record(message), name)
        orjson.dumps(parsed.title)
    assert accepted == ACCEPTED


def test_the_title_is_parsed_with_the_messages_and_cleaned_like_them() -> None:
    parsed = transfer.parse_export(as_body(export_of(record(), title=f' Big\nroom{LONE} ')))
    assert (len(parsed.messages), parsed.title) == (1, 'Big room\ufffd (imported)')


def test_every_door_into_a_room_cleans_text_the_same_way(tmp_path: Path) -> None:
    """Regression: names and titles from a settings edit, a post or a room file kept lone surrogates and newlines."""
    assert RoomSettings().updated(title=f'Book\nclub{LONE}', system_prompt=f' Be\nbrief{LONE} ') == RoomSettings(
        title='Book club\ufffd', system_prompt='Be\nbrief\ufffd')
    (tmp_path / 'r1.json').write_text(json.dumps({
        'settings': {'1': {'title': f'Old\ttitle{LONE}', 'max_tokens': 10**30}},
        'messages': {'1': record(author=f'Ann\n{LONE}', model=['odd'], error=f'why{LONE}', usage={'input_tokens': -1},
                                 left_out=float('nan'), created_at=10**30)}}))
    _, loaded = RoomStore(tmp_path).open('r1')
    assert loaded.settings == RoomSettings(title='Old title\ufffd')
    [message] = loaded.messages
    assert (message.author, message.model, message.error, message.usage, message.left_out, message.created_at) == (
        'Ann \ufffd', None, 'why\ufffd', None, 0, 0.0)


async def test_a_posted_author_is_one_clean_line(settings: Settings, model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    message = await hub.post('hello', author=f'  Ann\n{LONE}{"x" * 50}')
    assert message.author == f'Ann \ufffd{"x" * 35}'
    await wait_idle(hub)


def test_messages_in_versions_are_converted_like_the_room_file_converts_messages() -> None:
    """Regression: versions' tails were kept as imported, unconverted: flipping to one showed (or broke on) raw data."""
    tail = record(id='t1', seq=9, role='assistant', content=f'kept {LONE}', author=None, extra='dropped')
    del tail['model']
    [message] = transfer.parse_export(json.dumps(export_of(record(
        versions=[shelved(content=f'old {LONE}', author=f'Ann{LONE}', tail=[tail])], version=1))).encode()).messages
    [version] = message.versions
    assert (version['content'], version['author']) == ('old \ufffd', 'Ann\ufffd')
    [kept] = version['tail']
    assert kept == message_to_record(message_from_record(kept)) and kept['content'] == 'kept \ufffd'
    assert 'extra' not in kept and kept['model'] is None


@pytest.fixture
async def http_rooms(settings: Settings, model: ScriptedModel, tmp_path: Path) -> AsyncIterator[
        tuple[httpx.AsyncClient, Rooms]]:
    rooms = make_rooms(settings, model, tmp_path)
    app = FastAPI()
    api.register(app, rooms)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url='http://test') as client:
        yield client, rooms
    await rooms.close()


async def test_whatever_the_api_imports_opens_renders_and_flips(http_rooms: tuple[httpx.AsyncClient, Rooms]) -> None:
    """Regression: a lone surrogate in an author or title was accepted, then the room's page answered 500."""
    http, rooms = http_rooms
    accepted = set()
    for name, body in HOSTILE.items():
        response = await http.post('/api/rooms/import', content=body)
        assert response.status_code in {201, 400}, f'{name}: {response.status_code} {response.text}'
        if response.status_code == 400:
            assert response.json()['error'], name
            continue
        hub = await rooms.get(response.json()['room'])
        orjson.dumps(dataclasses.asdict(hub.summary()))
        api.encode_messages(hub.room_id, hub.messages)
        for shown in hub.messages:
            assert_renders(message_to_record(shown), name)
        for message in [m for m in hub.messages if m.versions]:
            for position in range(len(message.versions) + 1):  # every version, with the messages after it
                hub.select_version(message.id, position)
                for shown in hub.messages:
                    assert_renders(message_to_record(shown), name)
        assert (await http.get(f'/api/rooms/{hub.room_id}/messages')).status_code == 200, name
        accepted.add(name)
    assert accepted == ACCEPTED
    assert (await http.get('/api/rooms')).status_code == 200


async def test_an_import_with_lone_surrogates_opens_on_the_room_and_home_pages(settings: Settings) -> None:
    """The pages themselves (NiceGUI encodes them with orjson) answer 200 for what the import accepted."""
    async with simulated_app(replace(settings, demo_delay=0.002)) as (_, new_user):
        user = new_user()
        for name in ('lone surrogates everywhere', 'lone surrogate as the whole title', 'control characters in names'):
            response = await user.http_client.post('/api/rooms/import', content=HOSTILE[name])
            assert response.status_code == 201, f'{name}: {response.text}'
            await user.open(response.json()['url'])
            await user.should_see('\ufffd' if 'surrogate' in name else 'Ann')
        await user.open('/')


async def test_the_import_body_is_parsed_once_and_off_the_event_loop(
        http_rooms: tuple[httpx.AsyncClient, Rooms], monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the title was read by parsing the whole body (up to 20 MB) again on the event loop."""
    http, rooms = http_rooms
    body = json.dumps(export_of(record(), title='Book club')).encode()
    parsed_on: list[str] = []
    loads = json.loads

    def recording_loads(text: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if text in (body, body.decode()):  # the import's body, not a room file read meanwhile
            parsed_on.append(threading.current_thread().name)
        return loads(text, *args, **kwargs)
    monkeypatch.setattr(transfer.json, 'loads', recording_loads)
    response = await http.post('/api/rooms/import', content=body)
    assert response.status_code == 201
    assert len(parsed_on) == 1 and parsed_on[0] != threading.main_thread().name, parsed_on
    hub = rooms.open_hub(response.json()['room'])
    assert hub is not None and hub.summary().title == 'Book club (imported)'


def assert_renders(message: dict[str, Any], name: str) -> None:
    """What the room page does with a message's fields: encode them with orjson and format its time."""
    try:
        orjson.dumps(message)
        time.localtime(message['created_at'])
        for version in message['versions']:
            time.localtime(version['created_at'])
    except Exception as e:
        pytest.fail(f'{name}: {e!r} in {message!r:.300}')


# unsaved writes -----------------------------------------------------------------------------------------------


@dataclass
class FlakyDisk(Disk):
    """Like Disk, and also fails the next `failures` writes."""

    failures: int = 0

    def storage(self, path: Path) -> FlakyStorage:
        return FlakyStorage(path, self)


class FlakyStorage(FullableStorage):
    disk: FlakyDisk

    def flush(self) -> None:
        if self.disk.failures:
            self.disk.failures -= 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        super().flush()


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, 'RETRY_SECONDS', (0.02, 0.05), raising=False)
    monkeypatch.setattr(writer, 'CLOSE_PAUSE', 0.01, raising=False)


async def full_disk_room(settings: Settings, model: ScriptedModel, tmp_path: Path) -> tuple[FlakyDisk, Rooms]:
    """A room `r1` whose first exchange could not be saved: the disk is full."""
    disk = FlakyDisk(full=True)
    rooms = Rooms(RoomStore(tmp_path, disk.storage), lambda _name: model, settings)
    hub = await rooms.get('r1')
    await hub.post('kept')
    await wait_idle(hub)
    assert hub.notice is not None and not (tmp_path / 'r1.json').exists()
    return disk, rooms


def saved(tmp_path: Path) -> list[str]:
    return [m.content for m in RoomStore(tmp_path).open('r1')[1].messages]


async def test_a_full_disk_that_frees_up_is_saved_without_another_save(
        settings: Settings, model: ScriptedModel, tmp_path: Path, quick_retries: None) -> None:
    """Regression: pending writes waited for the next save; a quiet room kept them in memory only."""
    disk, rooms = await full_disk_room(settings, model, tmp_path)
    hub = rooms.open_hub('r1')
    assert hub is not None
    await asyncio.sleep(0.1)  # retries while the disk is full keep failing, and keep everything
    disk.full = False
    for _ in range(100):
        if hub.notice is None:
            break
        await asyncio.sleep(0.01)
    assert hub.notice is None, 'the page is told the room is saved'
    assert saved(tmp_path) == ['kept', 'echo kept']
    await rooms.close()


async def test_a_room_with_unsaved_changes_is_not_idle_and_is_not_evicted(
        settings: Settings, model: ScriptedModel, tmp_path: Path, quick_retries: None) -> None:
    """Regression: eviction dropped a room whose writes had failed, and its messages with it."""
    disk, rooms = await full_disk_room(settings, model, tmp_path)
    hub = rooms.open_hub('r1')
    assert hub is not None and not hub.is_idle
    await rooms.evict_idle(max_idle=0)
    assert rooms.open_hub('r1') is hub
    disk.full = False
    await asyncio.sleep(0.2)
    assert hub.is_idle
    await rooms.evict_idle(max_idle=0)
    assert rooms.open_hub('r1') is None
    assert saved(tmp_path) == ['kept', 'echo kept']


async def test_shutdown_retries_failed_writes(settings: Settings, model: ScriptedModel, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: shutdown found the failed writes' task done and dropped them."""
    monkeypatch.setattr(writer, 'RETRY_SECONDS', (60.0,), raising=False)  # no retry by itself during the test
    monkeypatch.setattr(writer, 'CLOSE_PAUSE', 0.01, raising=False)
    disk, rooms = await full_disk_room(settings, model, tmp_path)
    disk.full, disk.failures = False, 2
    await rooms.close()
    assert saved(tmp_path) == ['kept', 'echo kept']


async def test_shutdown_that_cannot_save_says_what_is_lost(settings: Settings, model: ScriptedModel, tmp_path: Path,
                                                           quick_retries: None, caplog: pytest.LogCaptureFixture
                                                           ) -> None:
    _, rooms = await full_disk_room(settings, model, tmp_path)
    started = time.monotonic()
    with caplog.at_level(logging.ERROR, logger='chat.writer'):
        await rooms.close()
    assert time.monotonic() - started < 2
    lost = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR and 'lost' in r.getMessage()]
    assert len(lost) == 1 and 'r1' in lost[0] and '2 messages' in lost[0], caplog.text
