"""Room files under faults: SIGKILL mid-write, corrupt and unreadable files, a full disk."""
from __future__ import annotations

import errno
import inspect
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ScriptedModel, wait_idle

from chat.config import Settings
from chat.events import RoomEvent
from chat.models import Message, Status
from chat.rooms import Rooms
from chat.store import AtomicJSONStorage, LoadedRoom, RoomStore, atomic_write, read_json_file

TRICKY_TEXT = ('emoji \U0001F469\u200D\U0001F469\u200D\U0001F467 \U0001F1FA\U0001F1E6 | '
               'rtl \u200F\u05E9\u05DC\u05D5\u05DD\u200E \u0645\u0631\u062D\u0628\u0627 | '
               'combining e\u0301 a\u0308\u0332 | nul [\x00] | \u2028\u2029 "quotes" \\back\\ \n\ttabs')


def growing_content(seq: int) -> str:
    """The text of message `seq` in the SIGKILL test: long and multi-byte, so a torn write would show."""
    return f'{seq}:' + '\u05E9\u05DC\u05D5\u05DD \U0001F642 e\u0301 \x00 ' * (1 + seq % 7) + f'end {seq}'


KILLED_WRITER = '''
import sys
from pathlib import Path

from chat.models import Message
from chat.store import RoomStore

room_file, loaded = RoomStore(Path(sys.argv[1])).open('grow')
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
        with subprocess.Popen([sys.executable, '-c', script, str(tmp_path)], stdout=subprocess.PIPE,
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
    assert 'Whoever runs Rooms finds the old file' in loaded.notice, 'says who can recover it'
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


def test_corrupt_file_that_cannot_be_moved_aside_is_left_alone_and_says_who_can_fix_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A damaged file in a folder Rooms may not rename in stays untouched; the room reads only and tells whoever
    runs Rooms what to do."""
    path = tmp_path / 'r1.json'
    path.write_bytes(b'garbage')

    def refuse(*args: object) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
    monkeypatch.setattr(os, 'replace', refuse)
    _, loaded = RoomStore(tmp_path).open('r1')
    assert (loaded.messages, loaded.writable, path.read_bytes()) == ([], False, b'garbage')
    assert loaded.notice is not None and 'Whoever runs Rooms must move it out of the data folder' in loaded.notice


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
    assert 'Whoever runs Rooms must make the file readable' in loaded.notice, 'says who can fix it'
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
    assert 'Whoever runs Rooms must fix writing to its data folder' in hub.notice, 'says who can fix it'
    assert 'keep Rooms running' in hub.notice
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
