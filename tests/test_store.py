"""Room files: round trips, the writer thread, atomic writes under SIGKILL, corrupt, unreadable and full disks."""
from __future__ import annotations

import asyncio
import errno
import inspect
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from conftest import ROOT, ScriptedModel, wait_idle

import chat.store as store_module
from chat.config import Settings
from chat.errors import InvalidRoomId
from chat.events import RoomEvent
from chat.models import Message, Status
from chat.rooms import Rooms
from chat.store import AtomicJSONStorage, LoadedRoom, RoomFile, RoomStore, RoomWriter, atomic_write, read_json_file

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
    """Snapshots queued during a write cost one file write, in the order first queued, the newest text winning."""
    file_writes: list[str] = []

    def counting_write(path: Path, text: str) -> None:
        file_writes.append(text)
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
    assert len(file_writes) == 2
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


def growing_content(seq: int) -> str:
    """The text of message `seq` in the SIGKILL test: long and multi-byte, so a torn write would show."""
    return f'{seq}:' + '\u05E9\u05DC\u05D5\u05DD \U0001F642 e\u0301 \x00 ' * (1 + seq % 7) + f'end {seq}'


KILLED_WRITER = '''
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[1])
from chat.models import Message
from chat.store import RoomStore

room_file, loaded = RoomStore(Path(sys.argv[2])).open('grow')
seq = loaded.messages[-1].seq if loaded.messages else 0
print('ready', seq, loaded.notice is None, flush=True)
while True:
    seq += 1
    room_file.save([Message(id=f'm{seq}', seq=seq, role='user', content=growing_content(seq), created_at=seq)])
'''
KILL_TRIALS = 36


def test_room_file_survives_sigkill_at_random_moments(tmp_path: Path) -> None:
    """A writer killed at any moment leaves a readable file holding a complete prefix of what it wrote.

    Found: each killed process may leave its own `.grow.json.<pid>.tmp`; the next process that opens the room
    removes them, so at most one is ever lying around.
    """
    script = inspect.getsource(growing_content) + KILLED_WRITER
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    path = tmp_path / 'grow.json'
    count = 0
    progressed = 0
    started = time.monotonic()
    for trial in range(KILL_TRIALS):
        context = f'trial {trial}, seed {seed}'
        with subprocess.Popen([sys.executable, '-c', script, str(ROOT), str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as writer:
            assert writer.stdout is not None and writer.stderr is not None
            ready = writer.stdout.readline().split()
            assert ready[:1] == ['ready'], f'{context}: {writer.stderr.read()}'
            assert ready[1:] == [str(count), 'True'], f'{context}: the killed file did not reopen cleanly: {ready}'
            time.sleep(rng.uniform(0.0, 0.06))
            assert writer.poll() is None, f'{context}: {writer.stderr.read()}'
            writer.kill()
            writer.wait(timeout=5)
        try:
            data = read_json_file(path)
        except ValueError as e:
            pytest.fail(f'{context}: unreadable room file after SIGKILL ({e}): {path.read_bytes()[-200:]!r}')
        records = (data or {}).get('messages', {})
        seqs = sorted(record['seq'] for record in records.values())
        assert seqs == list(range(1, len(seqs) + 1)), f'{context}: not a prefix'
        for key, record in records.items():
            assert key == str(record['seq']) and record['id'] == f'm{record["seq"]}', context
            assert record['content'] == growing_content(record['seq']), f'{context}: torn message {key}'
        assert len(seqs) >= count, f'{context}: a finished write was lost'
        progressed += len(seqs) > count
        count = len(seqs)
        assert len(list(tmp_path.glob('*.tmp'))) <= 1, f'{context}: stray temp files {os.listdir(tmp_path)}'
        assert not list(tmp_path.glob('*.corrupt-*')), context
    assert progressed >= KILL_TRIALS // 2, 'most kills should land after some writes'
    assert time.monotonic() - started < 20


# corrupt, unreadable and full ----------------------------------------------------------------------------------


def valid_room_bytes() -> bytes:
    text = json.dumps({'messages': {'1': {'id': 'u1', 'seq': 1, 'role': 'user', 'content': 'hello' * 20,
                                          'status': 'complete', 'created_at': 1.0}}})
    return text.encode()


CORRUPT_FILES = {
    'garbage bytes': b'\x89PNG\r\n\x1a\n\xff\xfe\x00garbage',
    'empty file': b'',
    'truncated json': valid_room_bytes()[:57],
    'a list': b'[1, 2, 3]',
    'a table that is a list': b'{"messages": [1, 2]}',
    'a record that is a string': b'{"messages": {"1": "hello"}}',
    'a record that is a list': b'{"messages": {"1": [1, 2]}}',
    'a non-numeric doc id': b'{"messages": {"one": {"id": "u1", "seq": 1}}}',
    'a record missing its id': b'{"messages": {"1": {"seq": 1, "role": "user", "content": "x"}}}',
    'an unknown status': b'{"messages": {"1": {"id": "u1", "seq": 1, "status": "exploded"}}}',
    'a null timestamp': b'{"messages": {"1": {"id": "u1", "seq": 1, "created_at": null}}}',
}


@pytest.mark.parametrize('content', CORRUPT_FILES.values(), ids=CORRUPT_FILES.keys())
def test_corrupt_file_is_moved_aside_intact_and_room_starts_empty(tmp_path: Path, content: bytes) -> None:
    """A damaged room file is kept byte for byte as <id>.corrupt-<time>.json; the room starts fresh beside it."""
    path = tmp_path / 'r1.json'
    path.write_bytes(content)
    room_file, loaded = RoomStore(tmp_path).open('r1')
    [aside] = tmp_path.glob('r1.corrupt-*.json')
    assert aside.read_bytes() == content
    assert (loaded.messages, loaded.writable) == ([], True)
    assert loaded.notice is not None and aside.name in loaded.notice
    assert not path.exists()
    message = Message(id='u1', seq=1, role='user', content='fresh start')
    room_file.save([message])
    assert read_json_file(path) is not None
    assert RoomStore(tmp_path).open('r1')[1] == LoadedRoom([message])
    assert aside.read_bytes() == content
    assert RoomStore(tmp_path).room_ids() == ['r1']


def test_two_corruptions_in_one_second_keep_both_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second corrupt file moved aside within the same second must not overwrite the first aside copy."""
    monkeypatch.setattr(time, 'strftime', lambda *args: '20250101-120000')
    path = tmp_path / 'r1.json'
    notices = []
    for garbage in (b'first garbage', b'second garbage'):
        path.write_bytes(garbage)
        notices.append(RoomStore(tmp_path).open('r1')[1].notice or '')
    asides = sorted(tmp_path.glob('r1.corrupt-*.json'))
    assert sorted(p.read_bytes() for p in asides) == [b'first garbage', b'second garbage']
    for aside in asides:
        assert sum(aside.name in notice for notice in notices) == 1, 'each notice names its own copy'


async def test_corrupt_file_notice_reaches_the_hub(tmp_path: Path, settings: Settings, model: ScriptedModel) -> None:
    """The hub shows the notice naming the aside file, and its first message creates a valid file."""
    (tmp_path / 'r1.json').write_bytes(b'{"messages": {"1": ')
    rooms = Rooms(RoomStore(tmp_path), lambda _name: model, settings)
    hub = await rooms.get('r1')
    [aside] = tmp_path.glob('r1.corrupt-*.json')
    assert hub.notice is not None and aside.name in hub.notice and hub.messages == []
    await hub.post('hello again')
    await wait_idle(hub)
    await rooms.close()
    assert [m.content for m in RoomStore(tmp_path).open('r1')[1].messages] == ['hello again', 'echo hello again']
    assert aside.read_bytes() == b'{"messages": {"1": '


@pytest.fixture(params=['chmod 000', 'a directory', 'read_text raises PermissionError'])
def unreadable_room(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A room file `r1.json` in tmp_path that exists but cannot be read, three ways."""
    path = tmp_path / 'r1.json'
    if request.param == 'a directory':
        path.mkdir()
        yield path
        return
    path.write_bytes(valid_room_bytes())
    if request.param == 'chmod 000':
        if os.geteuid() == 0:
            pytest.skip('root reads a chmod 000 file; the other variants cover this')
        path.chmod(0)
        yield path
        path.chmod(0o644)
        return
    read_text = Path.read_text

    def refusing_read_text(self: Path, *args: object, **kwargs: object) -> str:
        if self == path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))
        return read_text(self, *args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(Path, 'read_text', refusing_read_text)
    yield path


async def test_unreadable_file_opens_read_only_and_is_never_overwritten(tmp_path: Path, unreadable_room: Path,
                                                                        settings: Settings,
                                                                        model: ScriptedModel) -> None:
    """A room whose file cannot be read says so, keeps new messages in memory only and never touches the file."""
    before = stat_all(tmp_path)
    _, loaded = RoomStore(tmp_path).open('r1')
    assert (loaded.messages, loaded.writable) == ([], False)
    assert loaded.notice is not None and 'could not be read' in loaded.notice
    rooms = Rooms(RoomStore(tmp_path), lambda _name: model, settings)
    hub = await rooms.get('r1')
    assert hub.notice == loaded.notice
    await hub.post('kept in memory')
    await wait_idle(hub)
    assert [m.content for m in hub.messages] == ['kept in memory', 'echo kept in memory']
    await rooms.close()
    assert stat_all(tmp_path) == before


def stat_all(directory: Path) -> dict[str, tuple[bool, int, int]]:
    """Name, kind, size and mtime of everything in `directory`, without reading any file."""
    return {p.name: (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir()}


@dataclass
class Disk:
    """Makes the storages it builds fail their flush with ENOSPC while `full` is set."""

    full: bool = False

    def storage(self, path: Path) -> AtomicJSONStorage:
        return FullableStorage(path, self)


class FullableStorage(AtomicJSONStorage):
    def __init__(self, path: Path, disk: Disk) -> None:
        super().__init__(path)
        self.disk = disk

    def flush(self) -> None:
        if self.disk.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        super().flush()


async def test_full_disk_keeps_old_file_and_memory_then_saves_everything(tmp_path: Path, settings: Settings,
                                                                         model: ScriptedModel) -> None:
    """ENOSPC leaves the old file byte-identical, the hub keeps the messages and says so, a later save catches up."""
    disk = Disk()
    rooms = Rooms(RoomStore(tmp_path, disk.storage), lambda _name: model, settings)
    hub = await rooms.get('r1')
    notices: list[RoomEvent] = []
    hub.subscribe(lambda event: notices.append(event) if event.kind == 'notice' else None)
    model.enqueue('first reply')
    await hub.post('one')
    await wait_idle(hub)
    before = (tmp_path / 'r1.json').read_bytes()
    disk.full = True
    model.enqueue('second ', 'reply')
    await hub.post('two')
    await wait_idle(hub)
    assert (tmp_path / 'r1.json').read_bytes() == before
    assert [m.content for m in hub.messages] == ['one', 'first reply', 'two', 'second reply']
    assert hub.notice is not None and 'Saving this room failed' in hub.notice
    assert os.strerror(errno.ENOSPC) in hub.notice
    assert notices, 'tabs are told about the failed save'
    assert list(tmp_path.iterdir()) == [tmp_path / 'r1.json'], 'no temp file left behind'
    disk.full = False
    model.enqueue('third reply')
    await hub.post('three')
    await wait_idle(hub)
    await rooms.close()
    saved = RoomStore(tmp_path).open('r1')[1].messages
    assert [(m.content, m.status) for m in saved] == [(m.content, Status.COMPLETE) for m in hub.messages]
    assert len(saved) == 6


def test_atomic_write_failing_midway_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that runs out of space after the temp file was written keeps the old file and removes the temp."""
    path = tmp_path / 'r1.json'
    atomic_write(path, '{"messages": {}}')

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(os, 'fsync', no_space)
    with pytest.raises(OSError, match='No space'):
        atomic_write(path, '{"messages": {"1": {}}}' * 1000)
    assert path.read_text() == '{"messages": {}}'
    assert [p.name for p in tmp_path.iterdir()] == ['r1.json']


# room ids ------------------------------------------------------------------------------------------------------


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


def test_a_checkpoint_reencodes_only_what_changed_and_writes_the_change(tmp_path: Path) -> None:
    """The per-document JSON cache must notice in-place changes (TinyDB updates documents in place)."""
    room_file, _ = RoomStore(tmp_path).open('cached')
    messages = [Message(id=f'm{i}', seq=i, role='user', content=f'text {i}') for i in range(1, 50)]
    room_file.save(messages)
    messages[10].content = 'changed in place'
    messages[10].status = Status.ERROR
    room_file.save([messages[10]])
    reloaded = RoomStore(tmp_path).open('cached')[1].messages
    assert [(m.content, m.status) for m in reloaded] == [(m.content, m.status) for m in messages]
