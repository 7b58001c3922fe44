"""An event-loop stall probe for chat.bench, installed by `python -m chat.bench.serve --probe`.

The probe is idle until the benchmark asks: `GET /_bench/stall?start=1` starts a task that sleeps 2 ms at a time and
records how late it wakes up; `GET /_bench/stall` returns (and `?stop=1` also ends) the worst delay seen. It lives
here, not in the app, so the app itself carries nothing for benchmarks.
"""
from __future__ import annotations

import asyncio
import time

from nicegui import app

TICK = 0.002


class _Probe:
    task: asyncio.Task[None] | None = None
    max_stall = 0.0
    samples = 0


async def _watch() -> None:
    while True:
        before = time.perf_counter()
        await asyncio.sleep(TICK)
        _Probe.max_stall = max(_Probe.max_stall, time.perf_counter() - before - TICK)
        _Probe.samples += 1


def install() -> None:
    app.add_api_route('/_bench/stall', stall, methods=['GET'])


async def stall(start: bool = False, stop: bool = False) -> dict[str, float]:
    if start:
        if _Probe.task is not None:
            _Probe.task.cancel()
        _Probe.max_stall, _Probe.samples = 0.0, 0
        _Probe.task = asyncio.get_running_loop().create_task(_watch())
    result = {'max_stall_ms': _Probe.max_stall * 1000, 'samples': _Probe.samples}
    if stop and _Probe.task is not None:
        _Probe.task.cancel()
        _Probe.task = None
    return result

