"""Helpers for end-to-end tests: the app as a subprocess started like a user would, and headless Chromium."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page

from chat.bench.app import free_port, stop_process  # the benchmark drives the app the same way
from chat.bench.browser import CHROMIUM, CHROMIUM_ARGS, chromium
from chat.bench.light_client import USER_AGENT  # a browser's: NiceGUI answers bots and scripts in Markdown

ROOT = Path(__file__).resolve().parent.parent

__all__ = ['CHROMIUM', 'CHROMIUM_ARGS', 'USER_AGENT', 'chromium', 'free_port']


class AppProcess:
    """`python main.py ...` in a subprocess, as a user starts it."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        self.data_dir = data_dir
        self.log_path = data_dir.parent / f'app-{self.port}.log'
        inherited = ('ANTHROPIC_', 'CHAT_', 'PYTEST_', 'NICEGUI_')  # pytest's variables put NiceGUI in test mode
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(inherited)}
        full_env.update(env or {})
        self.command = [sys.executable, 'main.py', '--port', str(self.port), '--data-dir', str(data_dir),
                        '--no-browser', *args]
        self._log = open(self.log_path, 'w')
        self.process = subprocess.Popen(self.command, cwd=ROOT, env=full_env, stdout=self._log,
                                        stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, timeout: float = 45.0) -> None:
        """Until /healthz answers; generous, since a CI machine busy with Chromium can take long to start Python."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'app exited with {self.process.returncode}: {self.log}')
            try:
                with urllib.request.urlopen(f'{self.url}/healthz', timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f'app did not start in {timeout:.0f} s (running: {self.process.poll() is None}): {self.log}')

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=5) as response:
            return json.loads(response.read())

    def messages(self, room: str) -> list[dict[str, Any]]:
        try:
            return self.get_json(f'/api/rooms/{room}/messages')['messages']
        except urllib.error.HTTPError:
            return []

    def wait_for(self, room: str, predicate: Callable[[list[dict[str, Any]]], object],
                 timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            messages = self.messages(room)
            if predicate(messages):
                return messages
            time.sleep(0.05)
        raise TimeoutError(f'room {room} never reached the expected state: {self.messages(room)}')

    @property
    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)
        self._log.close()

    def stop(self) -> int:
        returncode = stop_process(self.process)
        self._log.close()
        return returncode


@contextmanager
def running_app(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[AppProcess]:
    app = AppProcess(data_dir, *args, env=env)
    try:
        yield app
    finally:
        app.stop()


def open_room(browser: Browser, url: str, timeout_ms: float = 15_000) -> Page:
    """A new tab on `url`, once it is live; its page errors are collected in `page.page_errors`."""
    page = browser.new_page()
    errors: list[str] = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=timeout_ms)
    page.page_errors = errors  # type: ignore[attr-defined]
    return page


def enter(context: BrowserContext, app: AppProcess, room: str, name: str | None) -> Page:
    """A person opening a room in `context` (page errors collected in `page.page_errors`), answering the first-visit
    name prompt with `name` if it shows (None: leaving it open)."""
    page = context.new_page()
    errors: list[str] = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    page.page_errors = errors  # type: ignore[attr-defined]
    page.goto(f'{app.url}/room/{room}')
    page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=15_000)
    if name is not None and page.locator('[data-testid=name-prompt]').is_visible():
        page.fill('[data-testid=name-input]', name)
        page.click('[data-testid=name-save]')
        page.wait_for_selector('[data-testid=name-prompt]', state='hidden')
    return page


def send(page: Page, text: str) -> None:
    composer = page.locator('textarea[data-testid=composer]')
    composer.fill(text)
    composer.press('Enter')


def reply_text(page: Page, index: int = -1) -> str:
    bodies = page.locator('[data-testid=message][data-role=assistant] [data-testid=message-content]')
    count = bodies.count()
    return bodies.nth(index if index >= 0 else count + index).inner_text() if count else ''

