"""The streaming benchmark of issues 4 and 13: `python -m chat.bench [--quick] [--json PATH]`.

Starts the real app (chat.cli, through serve.py) as a subprocess against a loopback fake Anthropic server that
emits timestamped words at 100 words/s, opens tabs in headless Chromium and measures, for the app as it is
("rooms") and for the naive baseline (naive.py, `serve.py --naive`) side by side: word-to-tab latency for 1, 4
and 20 tabs, websocket bytes per reply character per tab, server CPU per word per tab, the time to open a
10,000-message room, the worst event-loop stall and the bytes of each checkpoint while a reply streams into it, and
start-up time. Then, with light socket clients instead of browsers (capacity.py): the server's CPU per word before
any tab and per extra tab, and how many rooms can stream at once. Progress goes to stderr, the tables to stdout: the
modes side by side, then each target of issue 13 with what was measured.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import capacity, fake_anthropic
from .app import App, app_env, measure_startup, write_big_room
from .browser import Tab, chromium
from .fake import FakeProcess
from .report import table
from .watchers import FileWatcher, HealthPoller, IdleLoop

RATE = 100.0
"""Words per second from the fake model."""
PARAGRAPH_WORDS = 60
"""With several tabs, a second reply comes in paragraphs of this many words."""
BIG_ROOM = 'big'
BIG_ROOM_MESSAGES = 10_000
MODES = ('rooms', 'naive')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog='python -m chat.bench', description=__doc__.split('\n\n')[0])
    parser.add_argument('--quick', action='store_true', help='a fast check: 1 and 4 tabs, 200-word replies')
    parser.add_argument('--json', type=Path, help='also write the results as JSON to this file')
    parser.add_argument('--modes', default=','.join(MODES), help='which of rooms,naive to run (default both)')
    parser.add_argument('--tabs', help='tab counts to run instead of the plan\'s, e.g. 20 or 1,4 (0: no tab runs; '
                        'with --no-big-room no browser at all)')
    parser.add_argument('--no-big-room', action='store_true', help='skip the 10,000-message room')
    parser.add_argument('--capacity', help='room counts the capacity part tries in turn, with light socket clients '
                        '(default 10,20,...,80; 0 skips it)')
    parser.add_argument('--capacity-words', type=int, help='words per reply in the capacity part (default 250)')
    parser.add_argument('--capacity-workers', type=int, help='processes the light socket clients are spread over '
                        f'(default {capacity.WORKERS})')
    parser.add_argument('--no-server-cpu', action='store_true', help='skip the server-CPU-per-word part')
    args = parser.parse_args(argv)
    plan = Plan.quick() if args.quick else Plan.full()
    if args.tabs is not None:
        plan.tab_counts = tuple(int(n) for n in args.tabs.split(',') if n.strip() and int(n))
    plan.big_room = not args.no_big_room
    if args.capacity is not None:
        plan.capacity_rooms = tuple(int(n) for n in args.capacity.split(',') if n.strip() and int(n))
    plan.capacity_words = args.capacity_words or plan.capacity_words
    plan.capacity_workers = args.capacity_workers or plan.capacity_workers
    plan.server_cpu = not args.no_server_cpu
    modes = [m for m in args.modes.split(',') if m in MODES]
    results: dict[str, Any] = {'plan': plan.__dict__, 'rate_words_per_s': RATE, 'cpus': os.cpu_count(), 'modes': {},
                               'wake_cost_us': wake_cost_us()}
    progress(f'an idle asyncio wake-up costs {results["wake_cost_us"]:.0f} µs of CPU on this machine')
    with tempfile.TemporaryDirectory(prefix='rooms-bench-') as temp, FakeProcess() as fake:
        work = Path(temp)
        if plan.tab_counts or plan.big_room:
            with chromium() as browser:
                progress(f'writing a room of {BIG_ROOM_MESSAGES:,} messages')
                template = work / 'template'
                last_id = write_big_room(template, BIG_ROOM, BIG_ROOM_MESSAGES)
                for mode in modes:
                    progress(f'--- {mode} ---')
                    results['modes'][mode] = run_mode(mode, Bench(fake, browser, work / mode, template, last_id, plan))
        if 'rooms' in modes and (plan.capacity_rooms or plan.server_cpu):
            progress('--- rooms, light socket clients ---')
            results['light'] = light_clients(fake, work / 'light', plan)
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        progress(f'results written to {args.json}')


class Plan:
    """What to run: tab counts, reply lengths, repeats."""

    def __init__(self, tab_counts: tuple[int, ...], words: int, long_words: int | None, startup_repeats: int) -> None:
        self.tab_counts = tab_counts
        self.words = words
        self.long_words = long_words
        """Length of the second reply at 4 tabs (bytes per char must stay flat), or None."""
        self.startup_repeats = startup_repeats
        self.big_room = True
        self.capacity_rooms: tuple[int, ...] = (10, 20, 30, 40, 50, 60, 70, 80)
        """Rooms streaming at once in each capacity trial, tried in turn until one misses."""
        self.capacity_words = 250
        self.capacity_workers = capacity.WORKERS
        """Processes the light socket clients are spread over (capacity_worker.py)."""
        self.server_cpu = True

    @classmethod
    def full(cls) -> Plan:
        return cls((1, 4, 20), 400, 2000, 3)

    @classmethod
    def quick(cls) -> Plan:
        plan = cls((1, 4), 200, None, 1)
        plan.capacity_rooms = (10, 20)
        return plan


class Bench:
    def __init__(self, fake: FakeProcess, browser: Any, work: Path, template: Path, last_id: str, plan: Plan) -> None:
        self.fake, self.browser, self.work, self.template, self.last_id, self.plan = \
            fake, browser, work, template, last_id, plan


def run_mode(mode: str, bench: Bench) -> dict[str, Any]:
    env = app_env(bench.fake.base_url)
    bench.work.mkdir(parents=True)
    result: dict[str, Any] = {'load_average_before': os.getloadavg()[0]}
    if result['load_average_before'] > 1.5:
        progress(f'warning: load average {result["load_average_before"]:.1f} on {os.cpu_count()} CPUs: '
                 'other work on this machine will skew the numbers')
    startups = measure_startup(bench.work / 'startup-data', env, bench.work / 'startup.log', bench.plan.startup_repeats)
    result['startup_s'] = statistics.median(startups)
    progress(f'start-up: {", ".join(f"{s:.2f}" for s in startups)} s')
    data_dir = bench.work / 'data'
    shutil.copytree(bench.template, data_dir)
    app = App(data_dir, env, bench.work / 'app.log', naive=mode == 'naive')
    try:
        app.wait_ready('/healthz')
        result['runs'] = {}
        for n in bench.plan.tab_counts:
            found = attempt(f'{n} tab(s)', lambda n=n: tab_runs(bench, app, n))
            result['runs'].update({f'n{n}_failed': found} if 'error' in found else found)
        if bench.plan.big_room:
            result['big_room'] = attempt('the 10k-message room', lambda: big_room(bench, app))
    finally:
        app.stop()
    result['load_average_after'] = os.getloadavg()[0]
    return result


def light_clients(fake: FakeProcess, work: Path, plan: Plan) -> dict[str, Any]:
    """The parts measured with light socket clients (capacity.py) in an app of their own: the server's CPU per word
    before any tab and per extra tab, then how many rooms can stream at once."""
    work.mkdir(parents=True)
    result: dict[str, Any] = {'load_average_before': os.getloadavg()[0]}
    app = App(work / 'data', app_env(fake.base_url), work / 'app.log')
    try:
        app.wait_ready('/healthz')
        if plan.server_cpu:
            result['server_cpu'] = attempt('server CPU', lambda: asyncio.run(capacity.server_cpu(
                app.url, fake.enqueue_words, app.cpu_seconds, progress, words=plan.words, rate=RATE,
                workers=plan.capacity_workers)))
        if plan.capacity_rooms:
            result['capacity'] = attempt('capacity', lambda: asyncio.run(capacity.find_capacity(
                app.url, plan.capacity_rooms, fake.enqueue_words, app.cpu_seconds, progress,
                words=plan.capacity_words, workers=plan.capacity_workers)))
    finally:
        app.stop()
    return result


def tab_runs(bench: Bench, app: App, n: int) -> dict[str, Any]:
    """The runs with `n` tabs of one room: a reply of the plan's length; at 4 tabs also the byte-counting runs."""
    runs = {}
    tabs = open_tabs(bench, app, f'n{n}', n)
    try:
        warm_up(bench, tabs)
        runs[f'n{n}_w{bench.plan.words}'] = stream_run(bench, app, tabs, f'n{n}', bench.plan.words)
        if n > 1 and PARAGRAPH_WORDS:  # the same reply in paragraphs, as replies are written
            runs[f'n{n}_w{bench.plan.words}_p'] = stream_run(bench, app, tabs, f'n{n}', bench.plan.words,
                                                             paragraph=PARAGRAPH_WORDS)
        if n == 4:  # websocket bytes in runs of their own: counting them costs the browser time (see Tab.arm)
            for words in (bench.plan.words, bench.plan.long_words):
                if words:
                    runs[f'n4_w{words}_bytes'] = stream_run(bench, app, tabs, f'n{n}', words, count_bytes=True)
    finally:
        for tab in tabs:
            tab.close()
    return runs


def attempt(what: str, action: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one phase; if it fails (say, it times out on a busy machine) note why and go on with the others."""
    try:
        return action()
    except Exception as e:
        progress(f'{what} failed: {type(e).__name__}: {e}')
        return {'error': f'{type(e).__name__}: {e}'[:500]}


def open_tabs(bench: Bench, app: App, room: str, count: int) -> list[Tab]:
    progress(f'opening {count} tab(s) of room {room}')
    tabs = []
    for _ in range(count):
        tabs.append(Tab(bench.browser, f'{app.url}/room/{room}'))
        tabs[-1].open()
    return tabs


def warm_up(bench: Bench, tabs: list[Tab]) -> None:
    """One short exchange first, so every tab has loaded the page's components and joined the room's broadcast."""
    for tab in tabs:
        tab.arm()
    bench.fake.enqueue_text(['Ready', '.'])
    tabs[0].send('warm up')
    for tab in tabs:
        tab.wait_words(0, 30_000)


def stream_run(bench: Bench, app: App, tabs: list[Tab], room: str, words: int, *, count_bytes: bool = False,
               paragraph: int = 0,
               after_reply: Callable[[], None] | None = None) -> dict[str, Any]:
    """One reply of `words` timestamped words watched by every tab; latency, CPU and (if asked) bytes of it.

    :param paragraph: end a paragraph after every this many words (0: the whole reply is one paragraph, the harder
        case for the browsers: each frame lays out the whole paragraph again).
    :param after_reply: called as soon as every tab shows the whole reply, before the benchmark asks the app for it.
    """
    progress(f'{len(tabs)} tab(s), {words} words at {RATE:.0f}/s' + (', counting bytes' if count_bytes else '')
             + (f', paragraphs of {paragraph} words' if paragraph else ''))
    for tab in tabs:
        tab.arm(count_bytes)
    metrics_before = [tab.metrics() for tab in tabs]
    cpu_before, browser_before, started = app.cpu_seconds(), browser_cpu_seconds(), time.monotonic()
    bench.fake.enqueue_words(words, RATE, paragraph)
    tabs[0].send('go')
    timeout_ms = words / RATE * 1000 + 60_000
    complete = [tab.wait_words(words, timeout_ms) for tab in tabs]
    cpu = app.cpu_seconds() - cpu_before
    browser_cpu, wall = browser_cpu_seconds() - browser_before, time.monotonic() - started
    where = {part: sum(tab.metrics()[part] - before[part] for tab, before in zip(tabs, metrics_before, strict=True))
             / len(tabs) / words * 1e6 for part in metrics_before[0]}
    if after_reply is not None:
        after_reply()
    for tab in tabs:
        tab.state()  # delivers the websocket frame events still queued
    reply = app.messages(room)[-1]
    sent = dict(parse_words(reply['content']))
    latencies, transport, missing = [], [], 0
    by_word: dict[int, list[float]] = {index: [] for index in sent}
    for tab in tabs:
        seen, arrived = tab.seen(), tab.arrived()
        transport += [arrived[i] - sent_at * 1000 for i, sent_at in sent.items() if i in arrived]
        for index, sent_at in sent.items():
            if index in seen:
                latencies.append(seen[index] - sent_at * 1000)
                by_word[index].append(latencies[-1])
            else:
                missing += 1
    chars = len(reply['content'])
    result = {
        'tabs': len(tabs), 'words': words, 'reply_chars': chars, 'status': reply['status'],
        'complete_in_all_tabs': all(complete), 'missing_word_views': missing, **summary(latencies),
        'transport': summary(transport),
        'ws_bytes_per_char_per_tab': sum(t.received_bytes for t in tabs) / len(tabs) / max(chars, 1)
        if count_bytes else None,
        'ws_frames_per_tab': sum(t.frames for t in tabs) / len(tabs) if count_bytes else None,
        'cpu_s': cpu, 'cpu_us_per_word_per_tab': cpu / words / len(tabs) * 1e6,
        'browser_cpu_s': browser_cpu, 'browser_cpus_busy': browser_cpu / wall,
        'browser_cpu_us_per_word_per_tab': browser_cpu / words / len(tabs) * 1e6,
        'tab_us_per_word': where,
        'clock_skew_ms': max(abs(t.clock_skew_ms()) for t in tabs),
        'page_errors': [e for t in tabs for e in t.errors][:5],
        'tab_reloads': sum(t.loads - t.loads_when_armed for t in tabs),
        'worst_tab_ms_by_word': [round(max(by_word[i]), 1) if by_word[i] else None for i in sorted(by_word)],
    }
    progress(f'  p50 {result["p50_ms"]:.1f} ms, p99 {result["p99_ms"]:.1f} ms '
             f'(on the socket: p50 {result["transport"]["p50_ms"]:.1f}, p99 {result["transport"]["p99_ms"]:.1f}), '
             + (f'{result["ws_bytes_per_char_per_tab"]:.1f} B/char/tab, ' if count_bytes else '')
             + f'{result["cpu_us_per_word_per_tab"]:.0f} µs/word/tab'
             + f' (Chromium: {result["browser_cpu_us_per_word_per_tab"]:.0f} µs/word/tab, '
               f'{result["browser_cpus_busy"]:.1f} CPUs busy)'
             + '; a tab per word: ' + ', '.join(f'{part} {us:.0f} µs' for part, us in where.items())
             + (f', {missing} word views missing' if missing else '')
             + (f', {result["tab_reloads"]} tab reloads' if result['tab_reloads'] else ''))
    return result


def big_room(bench: Bench, app: App) -> dict[str, Any]:
    """Open the 10,000-message room (cold, then warm), then stream a reply into it and watch the event loop."""
    progress(f'opening the {BIG_ROOM_MESSAGES:,}-message room')
    url = f'{app.url}/room/{BIG_ROOM}'
    tabs = [Tab(bench.browser, url)]
    try:
        cold = tabs[0].open_timed(bench.last_id)  # the server loads the room, the browser has nothing cached
        tabs.append(Tab(bench.browser, url, context=tabs[0].context))
        warm = tabs[1].open_timed(bench.last_id)  # the room is loaded, the browser has the page's scripts cached
        progress(f'  cold open {cold:.0f} ms, warm open {warm:.0f} ms')
        probe: dict[str, Any] = {}
        poller = HealthPoller(app.url)
        files = FileWatcher(bench.work / 'data', BIG_ROOM)
        idle = IdleLoop()

        def stop_watching() -> None:  # before the benchmark's own API calls, which are not part of streaming
            poller.stop()
            probe.update(app.get_json('/_bench/stall?stop=1'))
            probe['idle_stall_ms'] = idle.stop()

        app.get_json('/_bench/stall?start=1')
        poller.start()
        files.start()
        try:
            run = stream_run(bench, app, tabs, BIG_ROOM, bench.plan.words, after_reply=stop_watching)
        finally:
            poller.stop()
            files.stop()
        progress(f'  max event-loop stall {probe["max_stall_ms"]:.1f} ms (an idle process meanwhile: '
                 f'{probe["idle_stall_ms"]:.1f} ms), worst /healthz {poller.worst_ms:.1f} ms; '
                 f'{files.checkpoints} checkpoints of at most {files.checkpoint_bytes:,} bytes, the room file '
                 f'({files.room_bytes:,} bytes) written {files.room_writes} times')
        for stack in probe.get('stall_stacks', [])[:3]:
            progress(f'  where the app was during stalls: {stack}')
        return {'open_cold_ms': cold, 'open_warm_ms': warm, 'max_stall_ms': probe['max_stall_ms'],
                'stall_stacks': probe.get('stall_stacks', []),
                'idle_process_stall_ms': probe['idle_stall_ms'],
                'stall_samples': probe['samples'], 'healthz_worst_ms': poller.worst_ms,
                'healthz_requests': poller.count, 'checkpoints': files.checkpoints,
                'checkpoint_bytes': files.checkpoint_bytes, 'room_file_writes': files.room_writes,
                'room_file_bytes': files.room_bytes, 'run': run}
    finally:
        for tab in reversed(tabs):  # the first one owns the browser profile both share
            tab.close()


def browser_cpu_seconds() -> float:
    """CPU time used so far by the Chromium processes this benchmark started (Linux /proc; 0 elsewhere). Only our own
    descendants: on a shared machine other people's browsers must not count."""
    stats: dict[int, tuple[int, str, int]] = {}  # pid -> (parent pid, name, CPU ticks)
    for stat in Path('/proc').glob('[0-9]*/stat'):
        with contextlib.suppress(OSError, IndexError, ValueError):
            text = stat.read_text()
            name, fields = text[text.index('(') + 1:text.rindex(')')], text[text.rindex(')') + 2:].split()
            stats[int(stat.parent.name)] = (int(fields[1]), name, int(fields[11]) + int(fields[12]))  # utime + stime
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    total, todo = 0, list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        if 'chrom' in stats[pid][1].lower():
            total += stats[pid][2]
    return total / os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 0.0


def wake_cost_us(wakes: int = 200) -> float:
    """CPU time an idle asyncio loop spends per timer wake-up on this machine: a floor under every per-word cost,
    which differs widely between machines (sandboxed or virtualised kernels make system calls dear)."""
    async def sleeper() -> float:
        started = time.process_time()
        for _ in range(wakes):
            await asyncio.sleep(0.005)
        return (time.process_time() - started) / wakes * 1e6
    return asyncio.run(sleeper())


def parse_words(text: str) -> list[tuple[int, float]]:
    """The fake's words `w<index>@<time sent>` in a reply: (index, time.time() when sent)."""
    return fake_anthropic.parse_words(text)


def summary(latencies: list[float]) -> dict[str, float]:
    if not latencies:
        return {'p50_ms': math.nan, 'p99_ms': math.nan, 'max_ms': math.nan, 'samples': 0}
    ordered = sorted(latencies)
    return {'p50_ms': percentile(ordered, 50), 'p99_ms': percentile(ordered, 99), 'max_ms': ordered[-1],
            'min_ms': ordered[0], 'samples': len(ordered)}


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def progress(text: str) -> None:
    print(f'[bench {time.strftime("%H:%M:%S")}] {text}', file=sys.stderr, flush=True)


if __name__ == '__main__':
    main()
