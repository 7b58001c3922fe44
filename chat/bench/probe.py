"""An event-loop stall probe for chat.bench, installed by `python -m chat.bench.serve --probe`.

The probe is idle until the benchmark asks: `GET /_bench/stall?start=1` starts a task that sleeps 2 ms at a time and
records how late it wakes up, and a watchdog thread that, whenever the loop has not woken for STACK_AFTER, notes
what every thread is doing; `GET /_bench/stall` returns (and `?stop=1` also ends) the worst delay seen and the stacks
of the longest stalls. It lives here, not in the app, so the app itself carries nothing for benchmarks.
"""
from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import pstats
import sys
import threading
import time
import traceback

from nicegui import app, core

TICK = 0.002
STACK_AFTER = 0.03
"""A loop that has not woken for this long is stalled: the watchdog notes where each thread is."""


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
    heartbeat = 0.0
    stacks: dict[str, int] = {}  # noqa: RUF012  # where the threads were during stalls -> times seen
    watching = threading.Event()


async def _watch() -> None:
    while True:
        before = _Probe.heartbeat = time.perf_counter()
        await asyncio.sleep(TICK)
        _Probe.max_stall = max(_Probe.max_stall, time.perf_counter() - before - TICK)
        _Probe.samples += 1


def _watchdog(loop_thread: int) -> None:
    while _Probe.watching.is_set():
        time.sleep(0.005)
        if time.perf_counter() - _Probe.heartbeat > STACK_AFTER:
            frames = sys._current_frames()
            where = []
            for ident, frame in frames.items():
                if ident == threading.get_ident():
                    continue
                if ident != loop_thread and _idle(frame):
                    continue
                lines = traceback.format_stack(frame, limit=12)  # the innermost frames, outermost first
                label = 'loop' if ident == loop_thread else 'thread'
                where.append(f'{label}: ' + ' <- '.join(_short(line) for line in reversed(lines)))
            key = '\n'.join(sorted(where, key=lambda w: not w.startswith('loop')))
            _Probe.stacks[key] = _Probe.stacks.get(key, 0) + 1


def install() -> None:
    app.add_api_route('/_bench/stall', stall, methods=['GET'])
    app.add_api_route('/_bench/profile', profile, methods=['GET'])
    app.add_api_route('/_bench/joined', joined, methods=['GET'])


async def joined(room: str) -> dict[str, int]:
    """How many sockets are in the room's live-update group (live.py's `room:<id>`): the light clients' join check."""
    return {'sockets': sum(1 for _ in core.sio.manager.get_participants('/', f'room:{room}'))}


def _idle(frame: object) -> bool:
    """A thread waiting for work (a pool thread on its queue) holds no GIL and stalls nobody."""
    code = getattr(frame, 'f_code', None)
    return code is not None and code.co_name in {'wait', 'get', '_worker', 'select'}


def _short(line: str) -> str:
    """`File ".../site-packages/nicegui/element.py", line 429, in on` -> `nicegui/element.py:429 on`."""
    first = line.strip().split('\n')[0]
    with contextlib.suppress(ValueError, IndexError):
        path, number, function = first.split(', ')
        path = path.removeprefix('File "').rstrip('"')
        for marker in ('site-packages/', 'python3.11/', '/work/main/'):
            path = path.split(marker)[-1]
        return f'{path}:{number.removeprefix("line ")} {function.removeprefix("in ")}'
    return first


async def stall(start: bool = False, stop: bool = False) -> dict[str, object]:
    if start:
        if _Probe.task is not None:
            _Probe.task.cancel()
        _Probe.max_stall, _Probe.samples, _Probe.stacks, _Probe.heartbeat = 0.0, 0, {}, time.perf_counter()
        _Probe.task = asyncio.get_running_loop().create_task(_watch())
        if not _Probe.watching.is_set():
            _Probe.watching.set()
            threading.Thread(target=_watchdog, args=(threading.get_ident(),), daemon=True).start()
    stacks = sorted(_Probe.stacks.items(), key=lambda item: -item[1])[:5]
    result = {'max_stall_ms': _Probe.max_stall * 1000, 'samples': _Probe.samples,
              'stall_stacks': [f'{count} x 5 ms:\n{stack}' for stack, count in stacks]}
    if stop and _Probe.task is not None:
        _Probe.task.cancel()
        _Probe.task = None
        _Probe.watching.clear()
    return result

