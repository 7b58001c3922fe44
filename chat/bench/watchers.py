"""What the benchmark watches from beside the app while a reply streams: /healthz answer times (loop stalls seen from
outside), an idle process's lateness (the machine's floor), and the room's files (checkpoints and room writes)."""
from __future__ import annotations

import contextlib
import math
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path


class Watcher:
    """Something a thread of its own watches while a reply streams, from start() to stop()."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        raise NotImplementedError


class HealthPoller(Watcher):
    """GET /healthz every 10 ms from a thread; the slowest answer is an outside view of event-loop stalls."""

    def __init__(self, url: str, interval: float = 0.01, limit: float = 300.0) -> None:
        super().__init__('healthz-poller')
        self.url, self.interval, self.limit = f'{url}/healthz', interval, limit
        self.worst_ms = 0.0
        self.count = 0

    def _run(self) -> None:
        deadline = time.monotonic() + self.limit  # bounded whatever happens to the caller
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.perf_counter()
            with contextlib.suppress(OSError), urllib.request.urlopen(self.url, timeout=5) as response:
                response.read()  # a failed request counts with the time it took, like any slow one
            self.worst_ms = max(self.worst_ms, (time.perf_counter() - started) * 1000)
            self.count += 1
            self._stop.wait(self.interval)


IDLE_LOOP = '''
import asyncio, sys, threading, time
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
async def watch():
    worst = 0.0
    while not done.is_set():
        before = time.perf_counter()
        await asyncio.sleep(0.002)
        worst = max(worst, time.perf_counter() - before - 0.002)
    return worst
print(asyncio.run(watch()) * 1000, flush=True)
'''


class IdleLoop:
    """The stall probe's measure in a process that does nothing else: how late an idle event loop wakes on this
    machine meanwhile. On a busy machine the scheduler alone makes the app's loop this late, whatever the app does."""

    def __init__(self) -> None:
        self._process = subprocess.Popen([sys.executable, '-c', IDLE_LOOP], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)

    def stop(self) -> float:
        """The worst lateness seen, in ms."""
        try:
            out, _ = self._process.communicate('', timeout=10)
            return float(out.strip())
        except (subprocess.TimeoutExpired, ValueError):
            self._process.kill()
            self._process.wait(5)
            return math.nan


class FileWatcher(Watcher):
    """Watches a room's files from a thread while a reply streams: each new version of the reply's checkpoint file
    (`<room>.reply.json`, see store.RoomFile.checkpoint) is a checkpoint, and its size what that checkpoint wrote;
    each new version of the room file (atomic writes replace it: a new inode) a write of the whole room."""

    def __init__(self, data_dir: Path, room: str, interval: float = 0.005) -> None:
        self.reply, self.room = data_dir / f'{room}.reply.json', data_dir / f'{room}.json'
        self.interval = interval
        self.checkpoints = self.checkpoint_bytes = self.room_writes = self.room_bytes = 0
        super().__init__('file-watcher')

    def _run(self) -> None:
        room_version, reply_version = self._version(self.room), self._version(self.reply)
        while not self._stop.wait(self.interval):
            if (version := self._version(self.reply)) is not None and version != reply_version:
                self.checkpoints += 1
                self.checkpoint_bytes = max(self.checkpoint_bytes, version[2])
            reply_version = version
            if (version := self._version(self.room)) is not None and version != room_version:
                self.room_writes += 1
                self.room_bytes = max(self.room_bytes, version[2])
                room_version = version

    @staticmethod
    def _version(path: Path) -> tuple[int, int, int] | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size
