"""Room files: one TinyDB file per room, written atomically and only from a writer thread.

The only module that imports tinydb. Everything here blocks; the hub calls it through RoomWriter,
which runs it off the event loop.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import MemoryStorage, Storage
from tinydb.table import Document

from .atomic import atomic_write
from .errors import InvalidRoomId
from .files import FileStore
from .models import Message, RoomSettings, Status, is_valid_room_id
from .records import message_from_record, message_to_record, settings_from_record, settings_to_record

log = logging.getLogger(__name__)
__all__ = ['atomic_write']  # re-exported: the benchmark and tests write room files with it

MESSAGES = 'messages'
SETTINGS = 'settings'
SETTINGS_DOC = 1
REPLY_SUFFIX = '.reply.json'
"""`<room id>.reply.json`: the checkpoint of the reply being streamed (its name is no room id: room_ids skips it)."""
StorageFactory = Callable[[Path], Storage]
WRITE_CHUNK = 100
"""Documents per piece of a room file's text (about 50 kB): small enough that encoding one holds the GIL briefly."""
YIELD_EVERY = 200
YIELD_SECONDS = 0.0005
"""While encoding many documents, the writer thread sleeps this long every YIELD_EVERY of them. Without it the event
loop gets the GIL only every 5 ms (sys.getswitchinterval) and waits that long again after each socket write."""


class AtomicJSONStorage(Storage):
    """A TinyDB storage that keeps the data in memory and replaces the file atomically on flush.

    TinyDB calls `write` after every operation; this only marks the data dirty, so a batch of
    operations costs one file write. `flush` writes a temp file in the same directory, fsyncs it,
    renames it over the old file and fsyncs the directory: a crash leaves the old or the new file.

    The JSON of every document is kept from the first write on; `changed` names the documents to encode
    again. A checkpoint of a reply in a room of 10,000 messages thus encodes one document and joins
    cached strings: little work under the GIL, so the event loop is not starved while the writer runs.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data: dict[str, Any] | None = None
        self._dirty = False
        self._encoded: dict[str, dict[str, str]] = {}
        """Per table, per document key: `"key":{...}` as last written."""

    def read(self) -> dict[str, Any] | None:
        if self._data is None:
            self._data = read_json_file(self.path)
        return self._data

    def write(self, data: dict[str, Any]) -> None:
        self._data = data
        self._dirty = True

    def changed(self, table: str, keys: Iterable[object]) -> None:
        """Documents inserted, updated or removed since the last flush: their cached JSON is stale."""
        cached = self._encoded.get(table)
        if cached is not None:
            for key in keys:
                cached.pop(str(key), None)

    def warm(self) -> None:
        """Encode every document now, while nobody waits, so that the first checkpoint encodes only what changed."""
        if self._data is not None:
            dump_tables(self._data, cache=self._encoded)

    def flush(self) -> None:
        if not self._dirty or self._data is None:
            return
        try:
            atomic_write(self.path, dump_tables(self._data, cache=self._encoded))
        except UnicodeEncodeError:  # a lone surrogate (valid in browser JSON) has no UTF-8 form: \u-escape it
            atomic_write(self.path, dump_tables(self._data, ensure_ascii=True))
        self._dirty = False

    def close(self) -> None:
        self.flush()


class FlushableMemoryStorage(MemoryStorage):
    """TinyDB's MemoryStorage with the flush and change notes the writer calls: for tests and throwaway rooms."""

    def changed(self, table: str, keys: Iterable[object]) -> None:
        pass

    def warm(self) -> None:
        pass

    def flush(self) -> None:
        pass


def read_json_file(path: Path) -> dict[str, Any] | None:
    """The parsed file, None when it does not exist; raises ValueError when it is not a TinyDB file."""
    try:
        text = path.read_text(encoding='utf-8')
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)  # ValueError (JSONDecodeError, UnicodeDecodeError) on a corrupt file
    except RecursionError:
        raise ValueError('nested too deeply to be a room file') from None
    if not isinstance(data, dict) or not all(isinstance(table, dict) for table in data.values()):
        raise ValueError('not a TinyDB document')
    return data


def encode_document(key: str, doc: Any, *, ensure_ascii: bool = False) -> str:
    """`"key":{...}`: one document as it appears inside its table."""
    return f'{json.dumps(str(key))}:{json.dumps(doc, ensure_ascii=ensure_ascii)}'


def dump_tables(data: dict[str, Any], *, ensure_ascii: bool = False,
                cache: dict[str, dict[str, str]] | None = None) -> list[str]:
    """JSON of all tables as pieces to write one after the other, none longer than WRITE_CHUNK documents: a room's file
    is never built or encoded as one string, since each C call on a 5 MB string holds the GIL (and stalls the event
    loop) for milliseconds, while between pieces the writer thread lets it go. One small json.dumps per document not
    in `cache`, which learns the new ones."""
    pieces = ['{']
    for name, docs in data.items():
        if cache is None or ensure_ascii:
            parts = [encode_document(key, doc, ensure_ascii=ensure_ascii) for key, doc in docs.items()]
        else:
            known = cache.setdefault(name, {})
            keys = list(docs)
            found: list[str | None] = list(map(known.get, keys))  # C loops: a 10,000-message room costs ~1 ms
            position, fresh = -1, 0
            with contextlib.suppress(ValueError):  # list.index: no (more) document without cached JSON
                while True:
                    position = found.index(None, position + 1)
                    key = keys[position]
                    found[position] = known[key] = encode_document(key, docs[key])
                    fresh += 1
                    if fresh % YIELD_EVERY == 0:  # the first write of a long room encodes it all: let the loop run
                        time.sleep(YIELD_SECONDS)
            parts = found  # type: ignore[assignment]  # no None is left
        pieces += [',' if len(pieces) > 1 else '', json.dumps(name), ':{']
        pieces += [(',' if start else '') + ','.join(parts[start:start + WRITE_CHUNK])
                   for start in range(0, len(parts), WRITE_CHUNK)]
        pieces.append('}')
    pieces.append('}')
    return pieces


@dataclass(slots=True)
class LoadedRoom:
    messages: list[Message]
    notice: str | None = None
    """What the room page must tell the user about its file (moved aside, unreadable)."""
    writable: bool = True
    """False when the file exists but could not be read: it is never overwritten."""
    settings: RoomSettings = dataclasses.field(default_factory=RoomSettings)


class RoomFile:
    """One room's TinyDB database. Blocking; used from one writer thread at a time."""

    def __init__(self, room_id: str, storage: Storage, path: Path | None = None) -> None:
        self.room_id = room_id
        self.path = path
        self._storage = storage
        self._db = TinyDB(storage=_Existing(storage))
        self._reply_seq: int | None = None
        """The seq of the reply whose latest text is in the checkpoint file, not yet in the room file."""

    @property
    def reply_path(self) -> Path | None:
        """The small file a streaming reply is checkpointed to, beside the room's file (None in memory)."""
        return None if self.path is None else self.path.with_name(f'{self.room_id}{REPLY_SUFFIX}')

    def load(self) -> list[Message]:
        """The room's messages, with a reply cut off while streaming taken from its checkpoint file."""
        records = self._db.table(MESSAGES).all()
        messages = {message.seq: message for message in map(message_from_record, records)}
        if (reply := self._read_reply()) is not None:
            stored = messages.get(reply.seq)
            if stored is None or (stored.id == reply.id and stored.status == Status.STREAMING):
                messages[reply.seq] = reply  # newer than the room file: the hub marks it interrupted and saves it
                self._reply_seq = reply.seq
            else:  # the room file got the reply, then the app stopped before removing this
                self.reply_path.unlink(missing_ok=True)  # type: ignore[union-attr]
        return sorted(messages.values(), key=lambda m: m.seq)

    def checkpoint(self, message: Message) -> None:
        """Save a streaming reply to its own small file: a checkpoint costs the reply's size, not the room's. The
        next save of the reply into the room file removes it; a crash before that leaves it for `load`."""
        if self.reply_path is None:
            self.save([message])
            return
        atomic_write(self.reply_path, json.dumps(message_to_record(message), ensure_ascii=True))
        self._reply_seq = message.seq

    def _read_reply(self) -> Message | None:
        if self.reply_path is None:
            return None
        try:
            return message_from_record(json.loads(self.reply_path.read_text(encoding='utf-8')))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, RecursionError) as e:  # half of a reply is not worth a room
            log.warning('ignoring the damaged reply checkpoint %s: %s', self.reply_path, e)
            return None

    def warm(self) -> None:
        """Prepare the file's first write (see AtomicJSONStorage.warm); the writer thread runs it after opening."""
        self._storage.warm()  # type: ignore[attr-defined]

    def load_settings(self) -> RoomSettings:
        return settings_from_record(self._db.table(SETTINGS).get(doc_id=SETTINGS_DOC))  # type: ignore[arg-type]

    def save_settings(self, settings: RoomSettings) -> None:
        self._db.table(SETTINGS).upsert(Document(settings_to_record(settings), doc_id=SETTINGS_DOC))
        self._storage.changed(SETTINGS, [SETTINGS_DOC])  # type: ignore[attr-defined]
        self._storage.flush()  # type: ignore[attr-defined]

    def save(self, messages: Iterable[Message]) -> None:
        """Insert or replace the given messages (by seq) and write the file once. A reply that starts streaming and is
        not in the room file yet goes to its checkpoint file instead: the room file gets it once, when it settles."""
        table = self._db.table(MESSAGES)
        by_seq = {message.seq: message for message in messages}
        starting = [m for m in by_seq.values() if m.status == Status.STREAMING and not table.contains(doc_id=m.seq)]
        if len(starting) == 1 and self.reply_path is not None:
            del by_seq[starting[0].seq]
            if by_seq:
                self._save(by_seq)  # the room file first: a reply never outlives the message it answers
            self.checkpoint(starting[0])
        else:
            self._save(by_seq)

    def _save(self, by_seq: dict[int, Message]) -> None:
        table = self._db.table(MESSAGES)
        new = []
        for seq, message in by_seq.items():
            document = Document(message_to_record(message), doc_id=seq)
            if table.contains(doc_id=seq):
                table.upsert(document)
            else:
                new.append(document)
        if new:  # each TinyDB write copies the whole table: an import of thousands of messages is one write, not n
            table.insert_multiple(new)
        self._storage.changed(MESSAGES, by_seq)  # type: ignore[attr-defined]
        self._storage.flush()  # type: ignore[attr-defined]
        if self._reply_seq in by_seq and self.reply_path is not None:
            self.reply_path.unlink(missing_ok=True)  # the room file holds a newer snapshot of the reply than it
            self._reply_seq = None

    def delete(self, seqs: Iterable[int]) -> None:
        table = self._db.table(MESSAGES)
        seqs = list(seqs)
        if self._reply_seq in seqs and self.reply_path is not None:  # a reply only its checkpoint file holds
            self.reply_path.unlink(missing_ok=True)
            self._reply_seq = None
        ids = [seq for seq in seqs if table.contains(doc_id=seq)]
        if ids:
            table.remove(doc_ids=ids)
        self._storage.changed(MESSAGES, ids)  # type: ignore[attr-defined]
        self._storage.flush()  # type: ignore[attr-defined]


class _Existing:
    """Lets TinyDB take an already-built storage instance (it wants a class)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def __call__(self) -> Storage:
        return self._storage


class RoomStore:
    """All rooms under one data dir. File names come only from validated room ids."""

    def __init__(self, data_dir: Path | None, storage_factory: StorageFactory | None = None) -> None:
        """:param data_dir: None keeps every room in memory (tests)."""
        self.data_dir = data_dir
        self._storage_factory = storage_factory or (AtomicJSONStorage if data_dir else None)
        self._memory: dict[str, FlushableMemoryStorage] = {}
        self.files = FileStore(data_dir / 'files' if data_dir else None)
        """Files attached to messages: `files/<room id>/` of the data dir (see files.py)."""

    def path_of(self, room_id: str) -> Path:
        if not is_valid_room_id(room_id):
            raise InvalidRoomId(f'{room_id!r} is not a room id')
        assert self.data_dir is not None
        return self.data_dir / f'{room_id}.json'

    def room_ids(self) -> list[str]:
        if self.data_dir is None:
            return list(self._memory)
        return sorted(p.stem for p in self.data_dir.glob('*.json') if is_valid_room_id(p.stem))

    def exists(self, room_id: str) -> bool:
        if self.data_dir is None:
            return room_id in self._memory
        return self.path_of(room_id).exists()

    def trash(self, room_id: str) -> Path | None:
        """Move a room's file and its attached files (`<same name>.files/`) into `trash/` of the data dir (kept, never
        deleted); returns where the room's file went."""
        if self.data_dir is None:
            self._memory.pop(room_id, None)
            self.files.trash(room_id, None)
            return None
        path = self.path_of(room_id)
        if not path.exists():
            return None
        trash = self.data_dir / 'trash'
        trash.mkdir(exist_ok=True)
        target = trash / f'{room_id}-{time.strftime("%Y%m%d-%H%M%S")}-{os.getpid()}.json'
        os.replace(path, target)
        path.with_name(f'{room_id}{REPLY_SUFFIX}').unlink(missing_ok=True)
        self.files.trash(room_id, target.with_suffix('.files'))
        return target

    def open(self, room_id: str) -> tuple[RoomFile, LoadedRoom]:
        """Open a room's file and load its messages; a corrupt file is moved aside, never overwritten."""
        if self.data_dir is None or self._storage_factory is None:
            storage = self._memory.setdefault(room_id, FlushableMemoryStorage())
            room_file = RoomFile(room_id, storage)
            return room_file, LoadedRoom(room_file.load(), settings=room_file.load_settings())
        path = self.path_of(room_id)
        for stale in path.parent.glob(f'.{path.name}.*.tmp'):  # left by a writer killed mid-write
            if stale.name != f'.{path.name}.{os.getpid()}.tmp':
                with contextlib.suppress(OSError):
                    stale.unlink()
        room_file = RoomFile(room_id, self._storage_factory(path), path)
        try:
            return room_file, LoadedRoom(room_file.load(), settings=room_file.load_settings())
        except (ValueError, KeyError, TypeError) as e:
            return self._reopen_after_corruption(room_id, path, e)
        except OSError as e:
            log.error('cannot read room file %s: %s', path, e)
            notice = (f'The file of this room could not be read ({e.strerror or e}), so nothing here is saved. '
                      'Whoever runs Rooms must make the file readable in the data folder and restart Rooms; until '
                      'then new messages are kept in memory only and lost at the restart.')
            return RoomFile(room_id, FlushableMemoryStorage()), LoadedRoom([], notice, writable=False)

    def _reopen_after_corruption(self, room_id: str, path: Path, error: Exception) -> tuple[RoomFile, LoadedRoom]:
        stamp = time.strftime('%Y%m%d-%H%M%S')
        aside = path.with_name(f'{room_id}.corrupt-{stamp}.json')
        for n in itertools.count(2):  # a second corruption in the same second must not replace the first copy
            if not aside.exists():
                break
            aside = path.with_name(f'{room_id}.corrupt-{stamp}-{n}.json')
        try:
            os.replace(path, aside)
        except OSError as e:
            log.error('room file %s is corrupt (%s) and cannot be moved aside: %s', path, error, e)
            notice = ('The file of this room is damaged and could not be moved aside, so it is left untouched and '
                      'nothing here is saved. Whoever runs Rooms must move it out of the data folder (or let Rooms '
                      'write there) and restart Rooms; until then new messages are kept in memory only.')
            return RoomFile(room_id, FlushableMemoryStorage()), LoadedRoom([], notice, writable=False)
        log.warning('room file %s is corrupt (%s); moved aside to %s', path, error, aside.name)
        notice = (f'The file of this room was damaged and could not be read, so the room starts empty. Whoever runs '
                  f'Rooms finds the old file as {aside.name} in the data folder, to recover by hand.')
        room_file = RoomFile(room_id, self._storage_factory(path), path)  # type: ignore[misc]
        return room_file, LoadedRoom([], notice)
