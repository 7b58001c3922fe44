"""Capacity: how many rooms can stream at once to light socket clients, and the server's CPU per word.

The clients (light_client.py: a tab's socket traffic and nothing else) run in a few worker processes
(capacity_worker.py), each on an event loop of its own: in one process with every socket (an asyncio wake-up costs
about 190 µs on the bench machine) the clients' loop lagged, and the latencies measured the bench, not the app. This
process coordinates: it opens the pages of rooms that get no client, measures the app's idle CPU, scripts the fake
model, posts the messages that start the replies, asks the app for each reply's final text and sums up what the
workers saw. Text a client missed and asked for again (as a tab does) counts as a resync, not as lost; a socket the
app closes counts as a disconnect, and the words it missed as lost. Each trial reports every worker's loop lag and
CPU: a large lag with little CPU means the machine was busy, not the bench.
"""
from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..ui.live import DELTA_EVENT, SYNC_EVENT
from .capacity_worker import Workers
from .light_client import Wire, browser_session

WIRE = Wire(DELTA_EVENT, SYNC_EVENT)
OPEN_AT_ONCE = 8
"""Clients opening their page and socket at the same time, over all workers (a burst of 240 page renders is not what
is measured)."""
WORKERS = 2
"""Worker processes holding the light clients by default: one a core on the bench's two-core machine. A worker
spends well under 0.1 CPU on 40 clients, so more processes would only add context switches."""


async def post(base_url: str, room: str, text: str) -> None:
    """Send a message to a room as a person of its own, through the JSON API as a script would."""
    async with browser_session() as session, \
            session.post(f'{base_url}/api/rooms/{room}/messages', json={'text': text}) as response:
        if response.status != 201:
            raise RuntimeError(f'posting to {room} gave {response.status}: {await response.text()}')


@dataclass(slots=True)
class Trial:
    """One load: `rooms` rooms, `clients` light clients each, every room streaming one reply at once."""

    rooms: int
    clients: int
    words: int
    rate: float
    name: str = 'cap'


async def run_trial(base_url: str, trial: Trial, enqueue_words: Callable[[int, float], None],
                    cpu_seconds: Callable[[], float], *, workers: Workers | int = WORKERS,
                    timeout_slack: float = 30.0) -> dict[str, Any]:
    """Open the clients, start a reply in every room at once, wait for every word in every client; the latencies,
    what was lost, duplicated or resynced, and the app's CPU time over the streaming (less what it spends idle).

    :param workers: the worker processes to hold the clients, or how many to start for this trial alone.
    """
    if isinstance(workers, int):
        async with Workers(workers, WIRE) as pool:
            return await run_trial(base_url, trial, enqueue_words, cpu_seconds, workers=pool,
                                   timeout_slack=timeout_slack)
    room_ids = [f'{trial.name}{trial.rooms}x{trial.clients}x{i}' for i in range(trial.rooms)]
    # client by client in turn, not room by room: every worker gets an even share, of one room's 8 clients too
    shares: list[list[str]] = [[] for _ in range(workers.count)]
    for k, room in enumerate(room for room in room_ids for _ in range(trial.clients)):
        shares[k % workers.count].append(room)
    try:
        if not trial.clients:  # the page opens the room's hub; without clients, open it once all the same
            for room in room_ids:
                async with browser_session() as session, session.get(f'{base_url}/room/{room}') as response:
                    await response.read()
        await workers.ask([{'op': 'open', 'base_url': base_url, 'rooms': share,
                            'at_once': OPEN_AT_ONCE // workers.count} for share in shares])
        idle_cpu, idle_wall = cpu_seconds(), time.monotonic()
        await asyncio.sleep(1.0)  # also lets the page loads' after-work (NiceGUI's first updates) pass
        idle_per_s = (cpu_seconds() - idle_cpu) / (time.monotonic() - idle_wall)
        for _ in room_ids:
            enqueue_words(trial.words, trial.rate)
        await workers.ask([{'op': 'start'}])
        cpu_before, started, own_before = cpu_seconds(), time.monotonic(), time.process_time()
        await asyncio.gather(*(post(base_url, room, 'go') for room in room_ids))
        # the workers say when their clients have every word; the app is asked only at the end, since polling it
        # during the stream would cost it more CPU than the stream
        deadline = time.monotonic() + trial.words / trial.rate + timeout_slack
        loops = await workers.ask([{'op': 'wait', 'words': trial.words, 'timeout': deadline - time.monotonic()}])
        settled = await asyncio.gather(*(_settled_reply(base_url, room, deadline) for room in room_ids))
        wall = time.monotonic() - started
        cpu = cpu_seconds() - cpu_before - idle_per_s * wall
        own_cpu = time.process_time() - own_before
        replies = {room: [reply, final] for room, (reply, final) in zip(room_ids, settled, strict=True)}
        clients = [c for answer in await workers.ask([{'op': 'results', 'replies': replies}])
                   for c in answer['clients']]
    finally:
        with contextlib.suppress(RuntimeError, OSError):  # a worker that died has closed its clients
            await workers.ask([{'op': 'close'}])
    latencies = [latency for c in clients for latency in c['latencies']]
    finals = [final for _, final in settled]
    received = sum(c['bytes'] for c in clients) / max(len(clients), 1)
    return {'rooms': trial.rooms, 'clients_per_room': trial.clients, 'words': trial.words, 'rate': trial.rate,
            'wall_s': wall, 'app_cpu_s': cpu, 'app_idle_cpus': idle_per_s,
            'app_cpus_busy': cpu / wall if wall else 0.0,
            'cpu_us_per_word': cpu / trial.words / trial.rooms * 1e6,
            'lost': sum(max(0, trial.words - c['words']) + (not c['text_ok']) + c['mismatches'] for c in clients),
            'duplicated': sum(c['duplicates'] for c in clients), 'gaps': sum(c['gaps'] for c in clients),
            'resyncs': sum(c['resyncs'] for c in clients), 'disconnects': sum(c['disconnected'] for c in clients),
            'errors': [e for c in clients for e in c['errors']][:5],
            'workers': workers.count, 'worker_loop_lag_ms': [loop['loop_lag_ms'] for loop in loops],
            'worker_cpus_busy': [loop['cpus_busy'] for loop in loops],
            'bench_loop_lag_ms': max(loop['loop_lag_ms'] for loop in loops),
            'bench_cpus_busy': sum(loop['cpus_busy'] for loop in loops) + (own_cpu / wall if wall else 0.0),
            'frames_per_client': sum(c['frames'] for c in clients) / max(len(clients), 1),
            'bytes_per_char_per_client': received / max(sum(map(len, finals)) / len(finals), 1),
            **percentiles(latencies)}

def passed(result: dict[str, Any], p99_ms: float) -> bool:
    return not result['lost'] and not result['duplicated'] and result['samples'] > 0 and result['p99_ms'] <= p99_ms


async def _settled_reply(base_url: str, room: str, deadline: float) -> tuple[str, str]:
    """The id and final text of the room's last reply, once it no longer streams (or at the deadline)."""
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f'{base_url}/api/rooms/{room}/messages') as response:
                messages = (await response.json())['messages'] if response.status == 200 else []
            reply = messages[-1] if messages and messages[-1]['role'] == 'assistant' else None
            if reply is not None and (reply['status'] != 'streaming' or time.monotonic() > deadline):
                return reply['id'], reply['content']
            if time.monotonic() > deadline:
                raise TimeoutError(f'no reply in {room}')
            await asyncio.sleep(0.25)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {'p50_ms': float('nan'), 'p99_ms': float('nan'), 'max_ms': float('nan'), 'samples': 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]  # nearest rank
    return {'p50_ms': rank(50), 'p99_ms': rank(99), 'max_ms': ordered[-1], 'samples': len(ordered)}


async def find_capacity(base_url: str, room_counts: Sequence[int], enqueue_words: Callable[[int, float], None],
                        cpu_seconds: Callable[[], float], progress: Callable[[str], None], *, clients: int = 4,
                        words: int = 250, rate: float = 50.0, p99_ms: float = 100.0,
                        workers: int = WORKERS) -> dict[str, Any]:
    """Run trials with more and more rooms until one misses (p99 over `p99_ms`, or text lost or duplicated); the
    largest count that passed is the capacity. A miss while the clients' own event loops lagged by more than `p99_ms`
    is tried once more: the latencies of that trial are the machine's as much as the app's."""
    trials, best = [], 0
    async with Workers(workers, WIRE) as pool:
        for rooms in room_counts:
            progress(f'capacity: {rooms} rooms x {clients} clients, {words} words at {rate:.0f}/s each, clients in '
                     f'{pool.count} processes')
            for name in ('cap', 'again'):
                result = await run_trial(base_url, Trial(rooms, clients, words, rate, name), enqueue_words,
                                         cpu_seconds, workers=pool)
                trials.append(result)
                ok = passed(result, p99_ms)
                progress(f'  {outcome(result)}: ' + ('pass' if ok else 'miss'))
                # clients late by more than the limit: the machine was busy (a worker uses little CPU), so this
                # miss may not be the app's
                if ok or result['bench_loop_lag_ms'] <= p99_ms or name == 'again':
                    break
                progress('  the clients\' own loops lagged more than the limit: once more')
            if not ok:
                break
            best = rooms
    return {'max_rooms': best, 'clients_per_room': clients, 'words': words, 'rate': rate, 'p99_limit_ms': p99_ms,
            'workers': workers, 'trials': trials}


def outcome(result: dict[str, Any]) -> str:
    """One trial in a line: latencies, what went wrong, and how busy the app and the bench's workers were."""
    lags = '/'.join(f'{lag:.0f}' for lag in result['worker_loop_lag_ms'])
    cpus = '/'.join(f'{cpu:.2f}' for cpu in result['worker_cpus_busy'])
    return (f'p50 {result["p50_ms"]:.1f} ms, p99 {result["p99_ms"]:.1f} ms, lost {result["lost"]}, duplicated '
            f'{result["duplicated"]}, resyncs {result["resyncs"]} (gaps {result["gaps"]}), disconnects '
            f'{result["disconnects"]}; app {result["app_cpus_busy"]:.2f} CPUs, {result["cpu_us_per_word"]:.0f} '
            f'µs/word/room; worker loop lag {lags} ms, worker CPUs {cpus}')


async def server_cpu(base_url: str, enqueue_words: Callable[[int, float], None], cpu_seconds: Callable[[], float],
                     progress: Callable[[str], None], *, clients: int = 8, words: int = 400,
                     rate: float = 100.0, workers: int = WORKERS) -> dict[str, Any]:
    """The app's CPU per word of one reply with no tab at all, and what each watching client adds."""
    progress(f'server CPU: one room, {words} words at {rate:.0f}/s, with no client and with {clients}')
    async with Workers(workers, WIRE) as pool:
        alone = await run_trial(base_url, Trial(1, 0, words, rate, 'cpu'), enqueue_words, cpu_seconds, workers=pool)
        watched = await run_trial(base_url, Trial(1, clients, words, rate, 'cpu'), enqueue_words, cpu_seconds,
                                  workers=pool)
    per_tab = (watched['cpu_us_per_word'] - alone['cpu_us_per_word']) / clients
    progress(f'  {alone["cpu_us_per_word"]:.0f} µs/word before any tab, {per_tab:.1f} µs/word per extra tab '
             f'(wire {watched["bytes_per_char_per_client"]:.1f} B/char/client)')
    return {'us_per_word_no_tab': alone['cpu_us_per_word'], 'us_per_word_per_tab': per_tab, 'clients': clients,
            'bytes_per_char_per_client': watched['bytes_per_char_per_client'], 'alone': alone, 'watched': watched}
