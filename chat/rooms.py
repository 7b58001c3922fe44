"""Rooms: the registry of open hubs, created on first use and evicted when idle."""
from __future__ import annotations

import asyncio
import gc
import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from .config import Settings
from .errors import InvalidRoomId
from .hub import RoomHub
from .llm import ChatModel
from .models import Message, Person, RoomSettings, RoomSummary, is_valid_room_id, summarize
from .records import message_from_record, moved_to_room, settings_from_record, settings_to_record
from .search import SEARCH_LIMIT, SearchIndex, SearchResult, search_terms
from .store import MESSAGES, SETTINGS, SETTINGS_DOC, RoomStore, read_json_file

log = logging.getLogger(__name__)


class Rooms:
    """Every room of one data dir. The only place that creates hubs, so there is one hub per room."""

    def __init__(self, store: RoomStore, model_for: Callable[[], ChatModel], settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._model_for = model_for
        self._hubs: dict[str, RoomHub] = {}
        self._opening: dict[str, asyncio.Future[RoomHub]] = {}
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._summary_cache: dict[str, tuple[float, RoomSummary]] = {}
        self._search = SearchIndex(store)
        self.on_open: list[Callable[[RoomHub], None]] = []
        """Called with every hub right after it is created (the UI attaches its broadcaster here)."""

    async def get(self, room_id: str) -> RoomHub:
        """The hub of a room, opening its file off the event loop on first use."""
        if not is_valid_room_id(room_id):
            raise InvalidRoomId(f'{room_id!r} is not a room id')
        if (hub := self._hubs.get(room_id)) is not None:
            return hub
        if (pending := self._opening.get(room_id)) is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[RoomHub] = asyncio.get_running_loop().create_future()
        self._opening[room_id] = future
        try:
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f'room-{room_id}')
            room_file, loaded = await asyncio.get_running_loop().run_in_executor(executor, self.store.open, room_id)
            hub = RoomHub(room_id, room_file, loaded, executor, self._model_for, self.settings, files=self.store.files)
            executor.submit(room_file.warm).add_done_callback(_log_failure)  # runs before any write queued later
            gc.freeze()  # a long room's messages live on: keep them out of every later full collection
            self._hubs[room_id] = hub
            self._executors[room_id] = executor
            for callback in self.on_open:
                callback(hub)
            future.set_result(hub)
            return hub
        except BaseException as e:
            future.set_exception(e)
            future.exception()  # retrieved: waiters get it through their await
            raise
        finally:
            del self._opening[room_id]

    def open_hub(self, room_id: str) -> RoomHub | None:
        """The hub of a room if it is open now."""
        return self._hubs.get(room_id)

    def exists(self, room_id: str) -> bool:
        hub = self._hubs.get(room_id)
        return (hub is not None and bool(hub.messages)) or (hub is None and self.store.exists(room_id))

    async def summaries(self) -> list[RoomSummary]:
        """Every room with at least one message, most recently active first."""
        closed = [] if self.store.data_dir is None else [r for r in self.store.room_ids() if r not in self._hubs]
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, self._read_summaries, closed)
        found += [hub.summary() for hub in self._hubs.values() if hub.messages]
        return sorted(found, key=lambda s: s.updated_at, reverse=True)

    async def import_room(self, messages: list[Message], title: str | None = None,
                          files: dict[str, tuple[str, bytes]] | None = None, settings: RoomSettings | None = None
                          ) -> str:
        """Create a room with a fresh id holding `messages` (checked, seq 1..n, see transfer.py) and the files they
        carry (file id -> name and bytes); returns the id.

        The file is written before any hub of the room exists, while the id is reserved (a tab asking for it
        meanwhile waits for the imported room): the hub stays the only writer, and no room is ever overwritten.
        """
        if not messages:
            raise ValueError('an imported room needs at least one message')
        room_id = self._unused_room_id()
        loop = asyncio.get_running_loop()
        reserved: asyncio.Future[RoomHub] = loop.create_future()
        self._opening[room_id] = reserved
        try:
            try:
                await loop.run_in_executor(None, self._write_new_room, room_id, messages, files or {})
            finally:
                del self._opening[room_id]
            hub = await self.get(room_id)  # no await between the del and get() registering its own opening
        except BaseException as e:
            reserved.set_exception(e)
            reserved.exception()  # retrieved: waiters get it through their await
            raise
        reserved.set_result(hub)
        changes = {k: v for k, v in settings_to_record(settings).items() if v is not None} if settings else {}
        if title or changes:
            hub.configure(**{**changes, 'title': title})
        return room_id

    async def search(self, query: str, limit: int = SEARCH_LIMIT) -> SearchResult:
        """Messages of every room holding all words of `query` in any case, newest first (see search.py)."""
        words = search_terms(query)
        if not words:
            return SearchResult('', [], False)
        titles = {summary.id: summary.title for summary in await self.summaries()}
        opened = {room_id: list(hub.messages) for room_id, hub in self._hubs.items()}
        return await asyncio.get_running_loop().run_in_executor(None, self._search.search, words, titles, opened,
                                                                limit)

    async def evict_idle(self, max_idle: float) -> None:
        """Close hubs nobody has looked at for `max_idle` seconds, so memory holds only rooms in use."""
        now = time.monotonic()
        for room_id, hub in list(self._hubs.items()):
            if hub.is_idle and now - hub.last_active > max_idle:
                await self._close(room_id)

    async def close(self) -> None:
        """Close every room at once: a room that cannot save retries for a moment, and the others need not wait."""
        await asyncio.gather(*(self._close(room_id) for room_id in list(self._hubs)))

    async def delete(self, room_id: str, by: Person | None = None) -> None:
        """Stop the room, tell its tabs, and move its file to the data dir's trash/ folder."""
        hub = await self.get(room_id)
        await hub.close_deleted(by)
        self._hubs.pop(room_id, None)
        executor = self._executors.pop(room_id)
        await asyncio.get_running_loop().run_in_executor(executor, self.store.trash, room_id)
        executor.shutdown(wait=False)
        self._summary_cache.pop(room_id, None)

    async def _close(self, room_id: str) -> None:
        hub = self._hubs.pop(room_id)
        await hub.close()
        self._executors.pop(room_id).shutdown(wait=False)

    def _unused_room_id(self) -> str:
        while True:
            room_id = secrets.token_urlsafe(9).replace('-', 'x').replace('_', 'y')
            if room_id not in self._hubs and room_id not in self._opening and not self.store.exists(room_id):
                return room_id

    def _write_new_room(self, room_id: str, messages: list[Message], files: dict[str, tuple[str, bytes]]) -> None:
        if self.store.exists(room_id):
            raise FileExistsError(f'room {room_id} already exists')
        room_file, loaded = self.store.open(room_id)
        if loaded.messages or not loaded.writable:
            raise FileExistsError(f'room {room_id} already exists')
        for name, data in files.values():  # before the messages that show them
            self.store.files.put(room_id, data, name)
        room_file.save(moved_to_room(messages, room_id) if files else messages)

    def _read_summaries(self, room_ids: list[str]) -> list[RoomSummary]:
        result = []
        for room_id in room_ids:
            path = self.store.path_of(room_id)
            try:
                mtime = path.stat().st_mtime
                cached = self._summary_cache.get(room_id)
                if cached is None or cached[0] != mtime:
                    data = read_json_file(path) or {}
                    messages = [message_from_record(r) for r in data.get(MESSAGES, {}).values()]
                    settings = settings_from_record(data.get(SETTINGS, {}).get(str(SETTINGS_DOC)))
                    cached = self._summary_cache[room_id] = (mtime, summarize(room_id, sorted(
                        messages, key=lambda m: m.seq), settings))
            except (OSError, ValueError, KeyError, TypeError) as e:
                log.warning('cannot list room %s: %s', room_id, e)
                continue
            if cached[1].message_count:
                result.append(cached[1])
        return result


def _log_failure(future: Future[None]) -> None:
    if (error := future.exception()) is not None:
        log.error('preparing a room file for writing failed: %r', error)
