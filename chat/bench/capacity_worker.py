"""The capacity part's light clients, spread over worker processes: `python -m chat.bench.capacity_worker`.

One process holding every socket lags (an asyncio wake-up costs about 190 µs on the bench machine): its own latencies
inflate and the app drops its lagging sockets, so the number would measure the bench, not the app. Each worker runs
its share of the clients on an event loop of its own (uvloop when installed) and is scripted by the parent over
stdin/stdout, one JSON object a line each way: `open` its clients, `start` counting, `wait` until each has the whole
reply, `results` per client, `close`. Latencies need no common clock but the machine's: a word carries the fake
model's time.time() when sent, a client compares it with time.time() when the word arrives.

`Workers` is the parent's side of the same protocol.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from .light_client import Body, LightClient, LoopLag, Wire

RESULTS_LIMIT = 1 << 26
"""Bytes of one answer line at most: a worker's results carry every word's latency."""


class Workers:
    """`count` worker processes (parent side); use as an async context manager."""

    def __init__(self, count: int, wire: Wire) -> None:
        self.count, self.wire = max(1, count), wire
        self._processes: list[asyncio.subprocess.Process] = []

    async def __aenter__(self) -> Workers:
        for _ in range(self.count):
            self._processes.append(await asyncio.create_subprocess_exec(
                sys.executable, '-m', 'chat.bench.capacity_worker', self.wire.delta_event, self.wire.sync_event,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=RESULTS_LIMIT))
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for process in self._processes:
            assert process.stdin is not None
            process.stdin.close()  # a worker ends at end of input
        for process in self._processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        self._processes = []

    async def ask(self, commands: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Send each worker its command (one for all if only one is given) and wait for every answer."""
        if len(commands) == 1:
            commands = list(commands) * self.count
        return await asyncio.gather(*(self._ask_one(p, c) for p, c in zip(self._processes, commands, strict=True)))

    @staticmethod
    async def _ask_one(process: asyncio.subprocess.Process, command: dict[str, Any]) -> dict[str, Any]:
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(command).encode() + b'\n')
        await process.stdin.drain()
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f'a capacity worker ended (exit code {await process.wait()}) at {command["op"]}')
        answer = json.loads(line)
        if 'error' in answer:
            raise RuntimeError(f'a capacity worker failed at {command["op"]}: {answer["error"]}')
        return answer


class Worker:
    """A worker's side: its clients, and what it measures of itself while they receive."""

    def __init__(self, wire: Wire) -> None:
        self.wire = wire
        self.clients: list[LightClient] = []
        self.lag = LoopLag()
        self._cpu = self._wall = 0.0

    async def open(self, base_url: str, rooms: list[str], at_once: int) -> dict[str, Any]:
        """Open one client for each room in `rooms` (a room appears once per client it gets)."""
        self.clients = [LightClient(base_url, room, self.wire) for room in rooms]
        opening = asyncio.Semaphore(max(1, at_once))

        async def open_one(client: LightClient) -> None:
            async with opening:
                await client.open()
        await asyncio.gather(*(open_one(c) for c in self.clients))
        return {'opened': len(self.clients)}

    async def start(self) -> dict[str, Any]:
        """Count from now: what the wire carries for the reply, not for the page."""
        for client in self.clients:
            client.frames = client.received_bytes = 0
        self._cpu, self._wall = time.process_time(), time.monotonic()
        self.lag.start()
        return {}

    async def wait(self, words: int, timeout: float) -> dict[str, Any]:
        """Until every client has every word (or lost its socket), or `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not all(c.most_words() >= words or c.disconnected
                                                      for c in self.clients):
            await asyncio.sleep(0.05)
        self.lag.stop()
        wall = time.monotonic() - self._wall
        return {'loop_lag_ms': self.lag.worst_ms, 'cpus_busy': (time.process_time() - self._cpu) / wall if wall else 0}

    async def results(self, replies: dict[str, list[str]]) -> dict[str, Any]:
        """Per client, what it got of its room's reply; `replies` maps a room to [reply id, final text]."""
        clients = []
        for client in self.clients:
            reply, final = replies[client.room]
            body = client.bodies.get(reply, Body())
            clients.append({'room': client.room, 'latencies': [round(body.arrived[i] - body.sent[i], 3)
                                                               for i in body.arrived],
                            'words': len(body.arrived), 'text_ok': body.text == final, 'gaps': body.gaps,
                            'resyncs': client.resyncs, 'duplicates': body.duplicates, 'mismatches': body.mismatches,
                            'errors': client.errors[:5], 'disconnected': client.disconnected, 'frames': client.frames,
                            'bytes': client.received_bytes})
        return {'clients': clients}

    async def close(self) -> dict[str, Any]:
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)
        self.clients = []
        return {}


async def serve(wire: Wire) -> None:
    """Answer the parent's commands, one a line on stdin, until it closes stdin."""
    worker = Worker(wire)
    actions = {'open': worker.open, 'start': worker.start, 'wait': worker.wait, 'results': worker.results,
               'close': worker.close}
    try:
        while line := await asyncio.to_thread(sys.stdin.readline):  # a thread: stdin may be a pipe or a file
            command = json.loads(line)
            try:
                answer = await actions[command.pop('op')](**command)
            except Exception as e:  # the parent raises it, naming the step
                answer = {'error': f'{type(e).__name__}: {e}'[:500]}
            sys.stdout.write(json.dumps(answer) + '\n')
            sys.stdout.flush()
    finally:
        await worker.close()


def main() -> None:
    wire = Wire(*sys.argv[1:3])
    try:
        import uvloop  # cheaper wake-ups where it is installed; plain asyncio otherwise
    except ImportError:
        asyncio.run(serve(wire))
    else:
        uvloop.run(serve(wire))


if __name__ == '__main__':
    main()
