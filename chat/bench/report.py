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
    Row('Chromium CPU/word/tab, 4 tabs', run(short(4), 'browser_cpu_us_per_word_per_tab'), 'µs'),
    Row('Chromium CPU/word/tab, 4 tabs, 60-word paragraphs', run(para(4), 'browser_cpu_us_per_word_per_tab'), 'µs'),
    Row('Chromium CPUs busy, 20 tabs', run(short(20), 'browser_cpus_busy'), 'CPUs'),
    Row('10k-message room: open, cold', big('open_cold_ms'), 'ms', 1000, strict=True),
    Row('10k-message room: open, warm', big('open_warm_ms'), 'ms', 1000, strict=True),
    Row('10k room: max event-loop stall', big('max_stall_ms'), 'ms', 50),
    Row('10k room: slowest /healthz', big('healthz_worst_ms'), 'ms'),
    Row('10k room: latency p50, 2 tabs', big('p50_ms'), 'ms'),
    Row('10k room: latency p99, 2 tabs', big('p99_ms'), 'ms'),
    Row('start-up, spawn to first page', lambda mode, plan: mode.get('startup_s'), 's', 3, strict=True),
]


def table(results: dict[str, Any]) -> str:
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
