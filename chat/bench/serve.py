"""The app as the benchmark runs it: `python -m chat.bench.serve [--naive] [--probe] APP-OPTIONS...`.

It runs the normal app (chat.cli.main, the options of `python main.py`) after installing what the bench asks for:
- `--naive`: the naive baseline (naive.py) in place of the delta relay: chat.app.build calls `live.install(rooms)`,
  which here installs the baseline's message bodies instead, so no `rooms_delta` is ever sent.
- `--probe`: the event-loop stall probe (probe.py, `GET /_bench/stall`).
The product carries nothing for benchmarks: every switch lives here.
"""
from __future__ import annotations

import argparse
import sys


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog='python -m chat.bench.serve', add_help=False)
    parser.add_argument('--naive', action='store_true')
    parser.add_argument('--probe', action='store_true')
    bench, app_argv = parser.parse_known_args(argv)
    if bench.naive:
        from ..ui import live
        from . import naive
        live.install = naive.install
    if bench.probe:
        from . import probe
        probe.install()
    from ..cli import main as run_app
    run_app(app_argv, prog='python -m chat.bench.serve')


if __name__ == '__main__':
    main(sys.argv[1:])
