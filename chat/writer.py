"""RoomWriter: the single writer of one room. Saves run in order on the room's writer thread, off the event loop;
a failed write is retried by itself. The blocking work is RoomFile's (store.py)."""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .models import Message, RoomSettings
from .store import RoomFile

log = logging.getLogger(__name__)

RETRY_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)
"""After a failed write, the writer tries again after each of these pauses in turn, then every last one, until a write
works: a disk-full spell that ends is saved without waiting for another save."""
CLOSE_TRIES = 3
CLOSE_PAUSE = 0.5
"""Closing a room whose writes fail tries CLOSE_TRIES times, this many seconds apart, before it gives up."""


class RoomWriter:
    """The single writer of one room: saves run in order, off the event loop, coalesced per message.

    A failed write keeps what it was writing and tries again by itself (RETRY_SECONDS), and with every later save.
    """

    def __init__(self, room_file: RoomFile, executor: ThreadPoolExecutor,
                 on_error: Callable[[Exception], None] | None = None, on_ok: Callable[[], None] | None = None,
                 *, enabled: bool = True) -> None:
        self._file = room_file
        self._executor = executor
        self._on_error = on_error
        self._on_ok = on_ok
        self._enabled = enabled
        self._pending: dict[int, Message | None] = {}
        """Per seq, the latest snapshot to write, or None to delete that message."""
        self._pending_settings: RoomSettings | None = None
        self._pending_checkpoint: Message | None = None
        self._task: asyncio.Task[None] | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._failures = 0
        """Writes failed in a row; picks the pause before the next retry."""
        self._closed = False
        self.failed: Exception | None = None
        """The last write error; cleared by the next successful write."""

    @property
    def unsaved(self) -> bool:
        """True while something is queued, being written, or waiting for a retry after a failed write."""
        return bool(self._pending) or self._pending_settings is not None or self._pending_checkpoint is not None \
            or (self._task is not None and not self._task.done())

    def save(self, message: Message) -> None:
        """Queue a snapshot of the message; a later snapshot of the same message replaces an unwritten one."""
        if not self._enabled:
            return
        self._queue(message.seq, dataclasses.replace(message, versions=list(message.versions)))

    def checkpoint(self, message: Message) -> None:
        """Queue a snapshot of a streaming reply for its checkpoint file (RoomFile.checkpoint); a save of the same
        message queued meanwhile makes it needless."""
        if self._enabled:
            self._pending_checkpoint = dataclasses.replace(message, versions=list(message.versions))
            self._queue_drain()

    def save_settings(self, settings: RoomSettings) -> None:
        """Queue the room's settings; only the latest unwritten one is written."""
        if self._enabled:
            self._pending_settings = settings
            self._queue_drain()

    def delete(self, seq: int) -> None:
        """Queue the removal of a message (it lives on in a version of an earlier message)."""
        if self._enabled:
            self._queue(seq, None)

    def _queue(self, seq: int, message: Message | None) -> None:
        self._pending[seq] = message
        self._queue_drain()

    def _queue_drain(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def flush(self) -> None:
        """Wait until everything queued so far is written, or the write failed."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """Write everything; after a failure try again, CLOSE_TRIES times in all, then log what is lost."""
        await self.flush()
        for attempt in range(CLOSE_TRIES):
            if not self.unsaved:
                break
            if attempt:
                await asyncio.sleep(CLOSE_PAUSE)
            self._queue_drain()
            await self.flush()
        self._closed = True
        self._cancel_retry()
        if self.unsaved:
            messages = sum(message is not None for message in self._pending.values())
            log.error('room %s: giving up saving after %d tries (%r); lost: %d messages, %d removals%s',
                      self._file.room_id, CLOSE_TRIES, self.failed, messages, len(self._pending) - messages,
                      ', its settings' if self._pending_settings is not None else '')

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending or self._pending_settings or self._pending_checkpoint:
            batch, self._pending = self._pending, {}
            settings, self._pending_settings = self._pending_settings, None
            reply, self._pending_checkpoint = self._pending_checkpoint, None
            if reply is not None and reply.seq in batch:
                reply = None  # the room file gets a newer snapshot of it in this batch
            try:
                if reply is not None:
                    await loop.run_in_executor(self._executor, self._file.checkpoint, reply)
                saves = [m for m in batch.values() if m is not None]
                deleted = [seq for seq, m in batch.items() if m is None]
                if settings is not None:
                    await loop.run_in_executor(self._executor, self._file.save_settings, settings)
                # saves first: a crash in between leaves a message twice (in a version and live), never zero times
                if saves:
                    await loop.run_in_executor(self._executor, self._file.save, saves)
                if deleted:
                    await loop.run_in_executor(self._executor, self._file.delete, deleted)
                if self.failed is not None and self._on_ok:
                    self._on_ok()
                self.failed, self._failures = None, 0
                self._cancel_retry()
            except Exception as e:  # OSError mostly (disk full, read-only); whatever it is, keep the batch
                log.error('cannot save room %s: %r', self._file.room_id, e)
                self.failed = e
                for seq, message in batch.items():
                    self._pending.setdefault(seq, message)  # newer snapshots win
                self._pending_settings = self._pending_settings or settings
                self._pending_checkpoint = self._pending_checkpoint or reply
                self._schedule_retry()
                if self._on_error:
                    self._on_error(e)
                return

    def _schedule_retry(self) -> None:
        self._cancel_retry()
        if self._closed:
            return
        pause = RETRY_SECONDS[min(self._failures, len(RETRY_SECONDS) - 1)]
        self._failures += 1
        self._retry = asyncio.get_running_loop().call_later(pause, self._retry_now)

    def _retry_now(self) -> None:
        self._retry = None
        if not self._closed and (self._pending or self._pending_settings is not None):
            self._queue_drain()

    def _cancel_retry(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
