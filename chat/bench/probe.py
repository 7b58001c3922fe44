"""An event-loop stall probe for chat.bench, installed by `python -m chat.bench.serve --probe`.

The probe is idle until the benchmark asks: `GET /_bench/stall?start=1` starts a task that sleeps 2 ms at a time and
records how late it wakes up; `GET /_bench/stall` returns (and `?stop=1` also ends) the worst delay seen. It lives
here, not in the app, so the app itself carries nothing for benchmarks.
"""
from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import time

from nicegui import app, core

TICK = 0.002


class _Profile:
    profiler: cProfile.Profile | None = None


async def profile(start: bool = False, top: int = 40) -> dict[str, str]:
    """`?start=1` profiles the event loop's thread (cProfile) from now on; without it, stops and returns the `top`
    functions by own time and by cumulative time: where the app's CPU per word goes."""
    if start:
        _Profile.profiler = cProfile.Profile()
        _Profile.profiler.enable()
        return {'report': ''}
    if _Profile.profiler is None:
        return {'report': 'not started'}
    _Profile.profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(_Profile.profiler, stream=out)
    stats.sort_stats('tottime').print_stats(top)
    stats.sort_stats('cumulative').print_stats(top)
    _Profile.profiler = None
    return {'report': out.getvalue()}


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
    app.add_api_route('/_bench/profile', profile, methods=['GET'])
    app.add_api_route('/_bench/joined', joined, methods=['GET'])


async def joined(room: str) -> dict[str, int]:
    """How many sockets are in the room's live-update group (live.py's `room:<id>`): the light clients' join check."""
    return {'sockets': sum(1 for _ in core.sio.manager.get_participants('/', f'room:{room}'))}


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

