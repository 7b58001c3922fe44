"""The app under benchmark: started as a subprocess like a user starts it, its CPU time, a 10,000-message room."""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from ..models import Message
from ..records import message_to_record
from ..store import MESSAGES, RoomStore, atomic_write, dump_tables

ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf('SC_CLK_TCK')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def app_env(base_url: str) -> dict[str, str]:
    """The environment of the app: the fake Anthropic server, none of the caller's app or pytest variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANTHROPIC_', 'CHAT_', 'PYTEST_', 'NICEGUI_'))}
    env.update(ANTHROPIC_BASE_URL=base_url, ANTHROPIC_API_KEY='sk-bench')
    return env


class App:
    """The app in a subprocess: plain `python main.py`, or through chat.bench.serve with the stall probe
    (`GET /_bench/stall`) and, with `naive`, the naive baseline."""

    def __init__(self, data_dir: Path, env: dict[str, str], log_path: Path, *, probe: bool = True,
                 naive: bool = False) -> None:
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        switches = [*(['--probe'] if probe else []), *(['--naive'] if naive else [])]
        launcher = ['-m', 'chat.bench.serve', *switches] if switches else ['main.py']
        command = [sys.executable, *launcher, '--port', str(self.port), '--data-dir', str(data_dir), '--no-browser']
        self._log = open(log_path, 'w')  # closed in stop()
        self.log_path = log_path
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, path: str = '/', timeout: float = 30.0) -> float:
        """Wait for the first 200 on `path`; returns seconds since the process was spawned."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'app exited with {self.process.returncode}: {self.log_path.read_text()[-2000:]}')
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - self.started
            except OSError:
                time.sleep(0.01)
        raise TimeoutError(f'app did not answer {path} within {timeout} s: {self.log_path.read_text()[-2000:]}')

    def cpu_seconds(self) -> float:
        """User + system CPU time of the app process so far (all its threads)."""
        stat = Path(f'/proc/{self.process.pid}/stat').read_text()
        fields = stat[stat.rindex(')') + 2:].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def get_json(self, path: str, timeout: float = 10.0) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
            return json.loads(response.read())

    def messages(self, room: str) -> list[dict[str, Any]]:
        try:
            return self.get_json(f'/api/rooms/{room}/messages')['messages']
        except urllib.error.HTTPError:
            return []

    def stop(self) -> None:
        stop_process(self.process)
        self._log.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_process(process: subprocess.Popen[Any]) -> int:
    """SIGTERM, as a user's Ctrl+C or a service manager does; SIGKILL if the app has not exited 15 s later."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


def measure_startup(data_dir: Path, env: dict[str, str], log_path: Path, repeats: int) -> list[float]:
    """Seconds from spawning plain `python main.py` to its first 200 on `/`, once per repeat."""
    times = []
    for _ in range(repeats):
        app = App(data_dir, env, log_path, probe=False)
        try:
            times.append(app.wait_ready('/'))
        finally:
            app.stop()
    return times


WORDS = ('room stream delta token browser socket render markdown latency tab reply model server event loop '
         'history message store page write chunk text update python chat benchmark').split()


def write_big_room(data_dir: Path, room_id: str, count: int, seed: int = 4) -> str:
    """Write a room of `count` messages in the store's own file format; returns the id of the latest message.

    RoomFile.save upserts one document at a time (quadratic in TinyDB for 10,000 new documents), so the file is
    written in one go with the store's helpers and then read back through RoomStore to prove it loads.
    """
    rng = random.Random(seed)
    start = time.time() - count * 30
    records = {}
    for seq in range(1, count + 1):
        role = 'user' if seq % 2 else 'assistant'
        message = Message(id=f'big{seq:06d}', seq=seq, role=role, content=_text(rng, role), created_at=start + seq * 30,
                          author='bench' if role == 'user' else None,
                          model='claude-sonnet-5-5' if role == 'assistant' else None)
        records[str(seq)] = message_to_record(message)
    data_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(data_dir / f'{room_id}.json', dump_tables({MESSAGES: records}))
    _, loaded = RoomStore(data_dir).open(room_id)
    assert len(loaded.messages) == count and loaded.notice is None, 'the generated room does not load'
    return loaded.messages[-1].id


def _text(rng: random.Random, role: str) -> str:
    def sentence() -> str:
        words = rng.choices(WORDS, k=rng.randint(6, 16))
        return ' '.join(words).capitalize() + '.'
    if role == 'user':
        return ' '.join(sentence() for _ in range(rng.randint(1, 3)))
    parts = [' '.join(sentence() for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.3:
        parts.append('\n'.join(f'- **{rng.choice(WORDS)}**: {sentence()}' for _ in range(3)))
    if rng.random() < 0.15:
        parts.append(f'```python\nprint({rng.choice(WORDS)!r})\n```')
    return '\n\n'.join(parts)
