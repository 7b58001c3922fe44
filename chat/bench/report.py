"""The benchmark's table: one row per measure, the app and the naive baseline side by side, the issue's targets."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True, frozen=True)
class Row:
    label: str
    value: Callable[[dict[str, Any], dict[str, Any]], float | None]
    """(one mode's results, the plan) -> the number, or None when not measured."""
    unit: str
    target: float | None = None
    """Upper bound for the app (lower is better everywhere); None: no target."""
    strict: bool = False
    """The target is `<` rather than `<=`."""


def run(key: Callable[[dict[str, Any]], str], field: str) -> Callable[[dict[str, Any], dict[str, Any]], float | None]:
    def get(mode: dict[str, Any], plan: dict[str, Any]) -> float | None:
        return mode.get('runs', {}).get(key(plan), {}).get(field)
    return get


def big(field: str) -> Callable[[dict[str, Any], dict[str, Any]], float | None]:
    def get(mode: dict[str, Any], plan: dict[str, Any]) -> float | None:
        room = mode.get('big_room', {})
        return room.get('run', {}).get(field, room.get(field))
    return get


TAB_PARTS = ('script', 'style', 'layout', 'paint and other', 'main thread', 'renderer process')
"""browser.WHERE's parts, in the order the table shows them."""


def where(key: Callable[[dict[str, Any]], str], part: str) -> Callable[[dict[str, Any], dict[str, Any]], float | None]:
    def get(mode: dict[str, Any], plan: dict[str, Any]) -> float | None:
        return mode.get('runs', {}).get(key(plan), {}).get('tab_us_per_word', {}).get(part)
    return get


def short(tabs: int) -> Callable[[dict[str, Any]], str]:
    return lambda plan: f'n{tabs}_w{plan["words"]}'


def para(tabs: int) -> Callable[[dict[str, Any]], str]:
    return lambda plan: f'n{tabs}_w{plan["words"]}_p'


def long(plan: dict[str, Any]) -> str:
    return f'n4_w{plan["long_words"]}_bytes'


def counted(plan: dict[str, Any]) -> str:
    return f'n4_w{plan["words"]}_bytes'


ROWS = [
    Row('latency p50, 1 tab', run(short(1), 'p50_ms'), 'ms'),
    Row('latency p99, 1 tab', run(short(1), 'p99_ms'), 'ms'),
    Row('latency p50, 4 tabs', run(short(4), 'p50_ms'), 'ms', 10),
    Row('latency p99, 4 tabs', run(short(4), 'p99_ms'), 'ms', 40),
    Row('latency p50, 4 tabs, long reply, counting bytes', run(long, 'p50_ms'), 'ms'),
    Row('latency p99, 4 tabs, long reply, counting bytes', run(long, 'p99_ms'), 'ms'),
    Row('latency p50, 4 tabs, 60-word paragraphs', run(para(4), 'p50_ms'), 'ms', 10),
    Row('latency p99, 4 tabs, 60-word paragraphs', run(para(4), 'p99_ms'), 'ms', 40),
    Row('latency p50, 20 tabs', run(short(20), 'p50_ms'), 'ms', 25),
    Row('latency p99, 20 tabs', run(short(20), 'p99_ms'), 'ms', 100),
    Row('latency p50, 20 tabs, 60-word paragraphs', run(para(20), 'p50_ms'), 'ms', 25),
    Row('latency p99, 20 tabs, 60-word paragraphs', run(para(20), 'p99_ms'), 'ms', 100),
    Row('ws bytes/char/tab, 4 tabs', run(counted, 'ws_bytes_per_char_per_tab'), 'B', 8),
    Row('ws bytes/char/tab, 4 tabs, long reply', run(long, 'ws_bytes_per_char_per_tab'), 'B', 8),
    Row('server CPU/word/tab, 1 tab', run(short(1), 'cpu_us_per_word_per_tab'), 'µs'),
    Row('server CPU/word/tab, 4 tabs', run(short(4), 'cpu_us_per_word_per_tab'), 'µs', 100),
    Row('server CPU/word/tab, 4 tabs, long reply', run(long, 'cpu_us_per_word_per_tab'), 'µs', 100),
    Row('server CPU/word/tab, 20 tabs', run(short(20), 'cpu_us_per_word_per_tab'), 'µs'),
    Row('Chromium CPU/word/tab, 4 tabs', run(short(4), 'browser_cpu_us_per_word_per_tab'), 'µs', 1500),
    *(Row(f'a tab per word, {n} tab{"s" if n > 1 else ""}: {part}', where(short(n), part), 'µs')
      for n in (1, 4) for part in TAB_PARTS),
    Row('Chromium CPU/word/tab, 4 tabs, 60-word paragraphs', run(para(4), 'browser_cpu_us_per_word_per_tab'), 'µs'),
    Row('Chromium CPUs busy, 20 tabs', run(short(20), 'browser_cpus_busy'), 'CPUs'),
    Row('10k-message room: open, cold', big('open_cold_ms'), 'ms', 1000, strict=True),
    Row('10k-message room: open, warm', big('open_warm_ms'), 'ms', 1000, strict=True),
    Row('10k room: max event-loop stall', big('max_stall_ms'), 'ms', 20),
    Row('10k room: the same, an idle process meanwhile', big('idle_process_stall_ms'), 'ms'),
    Row('10k room: bytes written per checkpoint', big('checkpoint_bytes'), 'B', 65536),
    Row('10k room: room file writes while streaming', big('room_file_writes'), ''),
    Row('10k room: slowest /healthz', big('healthz_worst_ms'), 'ms'),
    Row('10k room: latency p50, 2 tabs', big('p50_ms'), 'ms'),
    Row('10k room: latency p99, 2 tabs', big('p99_ms'), 'ms'),
    Row('start-up, spawn to first page', lambda mode, plan: mode.get('startup_s'), 's', 3, strict=True),
]


def modes_table(results: dict[str, Any]) -> str:
    """The results as a Markdown table (readable in a terminal and pasteable into the README)."""
    plan, modes = results['plan'], results['modes']
    names = list(modes)
    header = ['measure (lower is better)', *names]
    if {'rooms', 'naive'} <= set(names):
        header.append('naive / rooms')
    header += ['target', 'met']
    lines = [header]
    for row in ROWS:
        values = {name: row.value(modes[name], plan) for name in names}
        if all(v is None for v in values.values()):
            continue
        cells = [f'{row.label} ({row.unit})', *(fmt(values[n]) for n in names)]
        if len(header) == len(names) + 4:
            cells.append(ratio(values['naive'], values['rooms']))
        cells.append('' if row.target is None else f'{"<" if row.strict else "≤"} {row.target:g}')
        cells.append(met(row, values.get('rooms')))
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ['| ' + ' | '.join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + ' |' for line in lines]
    text.insert(1, '|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    words = f'{plan["words"]}-word replies' + (f', long reply {plan["long_words"]} words' if plan['long_words'] else '')
    loads = ', '.join(f'{n} {modes[n].get("load_average_before", 0):.1f}' for n in names)
    text.append(f'\n{words} at {results["rate_words_per_s"]:.0f} words/s; {results["cpus"]} CPUs; '
                f'load average before each run: {loads}.')
    if results.get('wake_cost_us'):
        text.append(f'An idle asyncio wake-up (a sleep that ends) costs {results["wake_cost_us"]:.0f} µs of CPU '
                    'on this machine: the floor under every per-word cost.')
    return '\n'.join(text)


def table(results: dict[str, Any]) -> str:
    """Both tables: the modes side by side (if a browser part ran), then the issue's targets, measured and met."""
    parts = [modes_table(results)] if results.get('modes') else []
    return '\n\n'.join([*parts, targets_table(results)])


@dataclass(slots=True, frozen=True)
class Target:
    label: str
    bound: float
    unit: str
    value: Callable[[dict[str, Any]], float | None]
    """All results -> the measured number, or None when not measured."""
    at_least: bool = False
    """The bound is a floor (capacity), not a ceiling."""


def rooms_run(key: Callable[[dict[str, Any]], str], field: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda results: run(key, field)(results.get('modes', {}).get('rooms', {}), results['plan'])


def light(*path: str) -> Callable[[dict[str, Any]], float | None]:
    def get(results: dict[str, Any]) -> float | None:
        value: Any = results.get('light', {})
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        return value if isinstance(value, int | float) else None
    return get


def flat_in_length(results: dict[str, Any]) -> float | None:
    """p99 of the one-paragraph long reply over p99 of the plan's reply, both at 4 tabs."""
    plan = results['plan']
    if not plan.get('long_words'):
        return None
    long_p99, short_p99 = rooms_run(long, 'p99_ms')(results), rooms_run(short(4), 'p99_ms')(results)
    return long_p99 / short_p99 if long_p99 is not None and short_p99 else None


def rows_worse_than_naive(results: dict[str, Any]) -> float | None:
    """How many latency and Chromium CPU rows the app does not beat the naive baseline in (0 is the target)."""
    modes = results.get('modes', {})
    if not {'rooms', 'naive'} <= set(modes):
        return None
    compared = [row for row in ROWS if row.label.startswith(('latency', 'Chromium CPU'))]
    pairs = [(row.value(modes['rooms'], results['plan']), row.value(modes['naive'], results['plan']))
             for row in compared]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None and not math.isnan(a) and not math.isnan(b)]
    return float(sum(a >= b for a, b in pairs)) if pairs else None


def big_room(field: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda results: big(field)(results.get('modes', {}).get('rooms', {}), results['plan'])


TARGETS = [
    Target('latency p50, 4 tabs', 10, 'ms', rooms_run(short(4), 'p50_ms')),
    Target('latency p99, 4 tabs', 40, 'ms', rooms_run(short(4), 'p99_ms')),
    Target('latency and Chromium CPU rows not better than naive', 0, 'rows', rows_worse_than_naive),
    Target('p99 of a one-paragraph long reply / p99 at the plan\'s length, 4 tabs', 1.5, 'x', flat_in_length),
    Target('Chromium CPU per word per tab, 4 tabs', 1500, 'µs', rooms_run(short(4), 'browser_cpu_us_per_word_per_tab')),
    Target('server CPU per word before any tab', 150, 'µs', light('server_cpu', 'us_per_word_no_tab')),
    Target('server CPU per word per extra tab', 25, 'µs', light('server_cpu', 'us_per_word_per_tab')),
    Target('rooms streaming at once (4 clients, 50 words/s, p99 <= 100 ms)', 60, 'rooms',
           light('capacity', 'max_rooms'), at_least=True),
    Target('wire bytes per reply character per tab', 8, 'B', rooms_run(counted, 'ws_bytes_per_char_per_tab')),
    Target('wire bytes per reply character per tab, long reply', 8, 'B', rooms_run(long, 'ws_bytes_per_char_per_tab')),
    Target('wire bytes per reply character per light client', 8, 'B', light('server_cpu', 'bytes_per_char_per_client')),
    Target('10k room: bytes written per checkpoint', 65536, 'B', big_room('checkpoint_bytes')),
    Target('10k room: longest event-loop stall while a reply streams', 20, 'ms', big_room('max_stall_ms')),
    Target('(the same in an idle process meanwhile: the machine\'s floor)', 20, 'ms',
           big_room('idle_process_stall_ms')),
]


def targets_table(results: dict[str, Any]) -> str:
    lines = [['target of issue 13', 'bound', 'measured', 'met']]
    for target in TARGETS:
        value = target.value(results)
        bound = f'{">=" if target.at_least else "<="} {target.bound:g} {target.unit}'
        if value is None or math.isnan(value):
            lines.append([target.label, bound, 'not measured', ''])
            continue
        ok = value >= target.bound if target.at_least else value <= target.bound
        lines.append([target.label, bound, f'{fmt(value)} {target.unit}', 'pass' if ok else 'MISS'])
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    text = ['| ' + ' | '.join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)) + ' |' for line in lines]
    text.insert(1, '|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    capacity = results.get('light', {}).get('capacity')
    if isinstance(capacity, dict) and capacity.get('trials'):
        text.append('\ncapacity trials (light socket clients): ' + '; '.join(
            f'{t["rooms"]} rooms: p99 {fmt(t["p99_ms"])} ms, lost {t["lost"]}, duplicated {t["duplicated"]}, '
            f'resyncs {t.get("resyncs", 0)}, disconnects {t["disconnects"]}, app {t["app_cpus_busy"]:.2f} CPUs, '
            f'client loop lag {fmt(t.get("bench_loop_lag_ms"))} ms' for t in capacity['trials']))
    return '\n'.join(text)


def fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 'n/a'
    return '0' if abs(value) < 0.005 else f'{value:.2f}' if abs(value) < 10 else f'{value:.0f}'


def ratio(naive: float | None, rooms: float | None) -> str:
    if naive is None or rooms is None or math.isnan(naive) or math.isnan(rooms) or abs(rooms) < 1e-6:
        return 'n/a'
    return f'{naive / rooms:.1f}x'


def met(row: Row, value: float | None) -> str:
    if row.target is None or value is None or math.isnan(value):
        return ''
    ok = value < row.target if row.strict else value <= row.target
    return 'yes' if ok else 'NO'
