"""The fake Anthropic server (fake_anthropic.py, shared with the tests) in a process of its own, scripted over stdin.

In its own process the fake stamps and writes each word without waiting for the benchmark's Python (Playwright's
event dispatch holds the GIL at times), so a word's timestamp is the moment it leaves for the app.
"""
from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from .fake_anthropic import FakeAnthropic


class FakeProcess:
    """`python -m chat.bench.fake` as a child; `enqueue_words` / `enqueue_text` script its next replies."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, '-m', 'chat.bench.fake'], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.base_url = self.process.stdout.readline().strip()
        if not self.base_url.startswith('http://127.0.0.1:'):
            raise RuntimeError(f'the fake Anthropic server did not start: {self.base_url!r}')

    def enqueue_words(self, n_words: int, rate: float, paragraph: int = 0) -> None:
        self._command({'op': 'words', 'n_words': n_words, 'rate': rate, 'paragraph': paragraph})

    def enqueue_text(self, chunks: list[str]) -> None:
        self._command({'op': 'text', 'chunks': chunks})

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()  # the child ends at end of input
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def __enter__(self) -> FakeProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _command(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + '\n')
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if answer != 'ok':
            raise RuntimeError(f'the fake Anthropic server refused {command}: {answer!r}')


def serve() -> None:
    with FakeAnthropic.in_thread() as fake:
        print(fake.base_url, flush=True)
        for line in sys.stdin:
            command = json.loads(line)
            if command['op'] == 'words':
                fake.enqueue_words(command['n_words'], command['rate'], command.get('paragraph', 0))
            else:
                fake.enqueue_text(command['chunks'])
            print('ok', flush=True)


if __name__ == '__main__':
    serve()
