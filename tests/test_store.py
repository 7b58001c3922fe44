"""Room files: round trips on memory and real files, the writer thread, room ids (faults: test_store_faults.py)."""
from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from conftest import ScriptedModel, wait_idle

import chat.store as store_module
from chat.config import Settings
from chat.errors import InvalidRoomId
from chat.models import Message, RoomSettings, Status
from chat.rooms import Rooms
from chat.store import RoomFile, RoomStore, atomic_write
from chat.writer import RoomWriter

TRICKY_TEXT = ('emoji \U0001F469\u200D\U0001F469\u200D\U0001F467 \U0001F1FA\U0001F1E6 | '
               'rtl \u200F\u05E9\u05DC\u05D5\u05DD\u200E \u0645\u0631\u062D\u0628\u0627 | '
               'combining e\u0301 a\u0308\u0332 | nul [\x00] | \u2028\u2029 "quotes" \\back\\ \n\ttabs')


@pytest.fixture(params=['memory', 'json'])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> RoomStore:
    """The same tests on an in-memory store and on real files, like tinydb parametrizes its `db` fixture."""
    return RoomStore(None) if request.param == 'memory' else RoomStore(tmp_path)


def reopened(store: RoomStore) -> RoomStore:
    """A store that can only see what `store` really persisted (a new process for files)."""
    return store if store.data_dir is None else RoomStore(store.data_dir)


def every_kind_of_message() -> list[Message]:
    return [
        Message(id='u1', seq=1, role='user', content=TRICKY_TEXT, created_at=1732412345.123456,
                author='Zo\u00eb \u200F\u05D3\u05E0\u05D4'),
        Message(id='a2', seq=2, role='assistant', content=f'**reply** {TRICKY_TEXT}', status=Status.STREAMING,
                created_at=1732412346.5, model='claude-sonnet-5-5'),
        Message(id='a3', seq=3, role='assistant', content='', status=Status.ERROR, created_at=0.0,
                model='claude-sonnet-5-5', error='Claude is overloaded (529) \U0001F625'),
        Message(id='a4', seq=4, role='assistant', content='half \x00', status=Status.STOPPED, created_at=1e9),
        Message(id='a5', seq=5, role='assistant', content='cut', status=Status.INTERRUPTED, created_at=2.25),
    ]


def test_messages_round_trip_with_every_field_and_tricky_unicode(store: RoomStore) -> None:
    """Every field, emoji ZWJ sequences, RTL marks, combining characters and NUL come back exactly."""
    messages = every_kind_of_message()
    room_file, loaded = store.open('r1')
    assert loaded.messages == [] and loaded.notice is None and loaded.writable
    room_file.save(messages)
    assert reopened(store).open('r1')[1].messages == messages
    if store.data_dir is not None:
        assert json.loads((store.data_dir / 'r1.json').read_text(encoding='utf-8'))['messages']['1']['content'] == \
            TRICKY_TEXT


def test_a_lone_surrogate_is_saved_rather_than_breaking_the_room(store: RoomStore) -> None:
    """Text from a browser can hold a lone surrogate (JSON '\\ud83d'); it must not make the file unwritable.

    It is saved as written and read back as U+FFFD (models.well_formed), so pages can always encode it.
    """
    room_file, _ = store.open('r1')
    broken = Message(id='u1', seq=1, role='user', content='half an emoji \ud83d!')
    room_file.save([broken])
    room_file.save([Message(id='u2', seq=2, role='user', content='next')])
    assert [m.content for m in reopened(store).open('r1')[1].messages] == ['half an emoji \ufffd!', 'next']


def test_save_upserts_by_seq(store: RoomStore) -> None:
    """Saving a message again replaces the stored one (same seq) instead of adding a second record."""
    room_file, _ = store.open('r1')
    growing = Message(id='a1', seq=1, role='assistant', content='Hel', status=Status.STREAMING)
    room_file.save([growing])
    room_file.save([replace(growing, content='Hello', status=Status.COMPLETE)])
    assert [(m.id, m.content, m.status) for m in reopened(store).open('r1')[1].messages] == [
        ('a1', 'Hello', Status.COMPLETE)]


def test_load_sorts_by_seq_numerically(store: RoomStore) -> None:
    """Messages come back in seq order whatever order they were saved in (10 after 9, not after 1)."""
    room_file, _ = store.open('r1')
    room_file.save([Message(id=f'm{seq}', seq=seq, role='user', content=str(seq)) for seq in (10, 2, 9, 1)])
    assert [m.seq for m in reopened(store).open('r1')[1].messages] == [1, 2, 9, 10]


# the single writer ---------------------------------------------------------------------------------------------


@dataclass
class SaveLog:
    """What RoomFile.save was asked to write, on which thread; optionally holds the first write until released."""

    calls: list[tuple[str, list[tuple[int, str]]]]
    started: threading.Event
    release: threading.Event


@pytest.fixture
def save_log(monkeypatch: pytest.MonkeyPatch) -> SaveLog:
    log = SaveLog([], threading.Event(), threading.Event())
    log.release.set()
    original = RoomFile.save

    def recording_save(self: RoomFile, messages: list[Message]) -> None:
        snapshot = [(m.seq, m.content) for m in messages]
        log.calls.append((threading.current_thread().name, snapshot))
        log.started.set()
        assert log.release.wait(5), 'the test never released the write'
        original(self, messages)
    monkeypatch.setattr(RoomFile, 'save', recording_save)
    return log


async def test_writer_coalesces_saves_of_one_message_and_keeps_order(tmp_path: Path, save_log: SaveLog,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots queued during a write cost one room-file write, in the order first queued, the newest text winning;
    a reply that starts streaming goes to its small checkpoint file until it settles."""
    file_writes: list[str] = []

    def counting_write(path: Path, text: str) -> None:
        file_writes.append(path.name)
        atomic_write(path, text)
    monkeypatch.setattr(store_module, 'atomic_write', counting_write)
    room_file, _ = RoomStore(tmp_path).open('r1')
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix='room-w') as executor:
        writer = RoomWriter(room_file, executor)
        user = Message(id='u1', seq=1, role='user', content='question')
        reply = Message(id='a2', seq=2, role='assistant', content='', status=Status.STREAMING)
        save_log.release.clear()
        writer.save(user)  # the first write is held in the writer thread
        assert await asyncio.to_thread(save_log.started.wait, 5)
        for text in ('A', 'An', 'Ans', 'Answ'):
            reply.content = text
            writer.save(reply)
        writer.save(user)
        reply.content, reply.status = 'Answer', Status.COMPLETE  # changed after the save: a snapshot was queued
        save_log.release.set()
        await writer.flush()
    assert [snapshot for _, snapshot in save_log.calls] == [[(1, 'question')], [(2, 'Answ'), (1, 'question')]]
    assert file_writes == ['r1.json', 'r1.json', 'r1.reply.json']
    assert [(m.seq, m.content, m.status) for m in RoomStore(tmp_path).open('r1')[1].messages] == [
        (1, 'question', Status.COMPLETE), (2, 'Answ', Status.STREAMING)]


async def test_saving_from_the_event_loop_never_runs_tinydb_on_the_loop_thread(tmp_path: Path, save_log: SaveLog,
                                                                               settings: Settings,
                                                                               model: ScriptedModel) -> None:
    """Every RoomFile.save, from a bare RoomWriter or from a hub's turn, runs on the room's writer thread."""
    loop_thread = threading.current_thread().name
    room_file, _ = RoomStore(tmp_path).open('direct')
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix='room-direct') as executor:
        writer = RoomWriter(room_file, executor)
        for seq in range(1, 4):
            writer.save(Message(id=f'm{seq}', seq=seq, role='user', content='x'))
            await writer.flush()
    rooms = Rooms(RoomStore(tmp_path), lambda _name: model, settings)
    hub = await rooms.get('lobby')
    model.enqueue('a', 'b')
    await hub.post('hi')
    await wait_idle(hub)
    await rooms.close()
    threads = [name for name, _ in save_log.calls]
    assert len(threads) >= 5
    assert loop_thread not in threads
    assert all(name.startswith(('room-direct', 'room-lobby')) for name in threads), threads


# atomic writes under SIGKILL -----------------------------------------------------------------------------------


@pytest.mark.parametrize('room_id', ['../x', 'a/b', 'a.b', '', 'x' * 65, 'a\x00b', 'a b', '/etc/passwd', '..'])
async def test_invalid_room_ids_are_refused_and_create_nothing(tmp_path: Path, room_id: str, settings: Settings,
                                                               model: ScriptedModel) -> None:
    """An id outside [A-Za-z0-9_-]{1,64} raises InvalidRoomId before any path is built or file created."""
    data = tmp_path / 'data'
    data.mkdir()
    store = RoomStore(data)
    with pytest.raises(InvalidRoomId):
        store.path_of(room_id)
    with pytest.raises(InvalidRoomId):
        store.open(room_id)
    with pytest.raises(InvalidRoomId):
        store.exists(room_id)
    with pytest.raises(InvalidRoomId):
        await Rooms(store, lambda _name: model, settings).get(room_id)
    assert list(tmp_path.rglob('*')) == [data]


def test_longest_valid_room_id_is_accepted(tmp_path: Path) -> None:
    """64 characters of [A-Za-z0-9_-] is still a room id."""
    room_id = 'a-Z_9' * 12 + 'abcd'
    assert RoomStore(tmp_path).path_of(room_id) == tmp_path / f'{room_id}.json'


def test_room_ids_ignore_corrupt_copies_temp_files_and_other_files(tmp_path: Path) -> None:
    """Only <valid id>.json files are rooms; aside copies, temp files and strangers are not."""
    for name in ('a.json', 'b-2_c.json', 'a.corrupt-20250101-120000.json', '.a.json.1234.tmp', 'a.json.tmp',
                 'notes.txt', '.gitkeep', 'has space.json', 'dot.ted.json', 'x.JSON'):
        (tmp_path / name).write_text('{}')
    assert RoomStore(tmp_path).room_ids() == ['a', 'b-2_c']


def test_a_checkpoint_reencodes_only_what_changed_and_writes_the_change(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-document JSON cache must drop what changed (TinyDB updates documents in place) and only that."""
    room_file, _ = RoomStore(tmp_path).open('cached')
    messages = [Message(id=f'm{i}', seq=i, role='user', content=f'text {i}') for i in range(1, 50)]
    room_file.save(messages)
    messages[10].content = 'changed in place'
    messages[10].status = Status.ERROR
    room_file.save([messages[10]])
    reloaded = RoomStore(tmp_path).open('cached')[1].messages
    assert [(m.content, m.status) for m in reloaded] == [(m.content, m.status) for m in messages]

    room_file, _ = RoomStore(tmp_path).open('cached')
    encoded: list[str] = []
    real_encode = store_module.encode_document
    monkeypatch.setattr(store_module, 'encode_document', lambda key, doc, **kw: encoded.append(key) or
                        real_encode(key, doc, **kw))
    room_file.save([messages[0]])
    assert len(encoded) == len(messages), 'the first write after opening encodes every document once'
    encoded.clear()
    messages[20].content = 'a checkpoint'
    room_file.save([messages[20]])
    room_file.delete([5, 6])
    room_file.save_settings(RoomSettings(title='Cached'))
    assert sorted(encoded) == ['1', '21']  # the settings document and message 21, nothing else
    store = RoomStore(tmp_path)
    reloaded = store.open('cached')[1].messages
    expected = [m for m in messages if m.seq not in {5, 6}]
    assert [(m.seq, m.content, m.status) for m in reloaded] == [(m.seq, m.content, m.status) for m in expected]
    assert store.open('cached')[0].load_settings().title == 'Cached'
