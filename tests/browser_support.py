"""Helpers for end-to-end tests: the app as a subprocess started like a user would, and headless Chromium."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--no-first-run', '--disable-sync']


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


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

    def wait_ready(self, timeout: float = 20.0) -> None:
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
        raise TimeoutError(f'app did not start: {self.log}')

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
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return self.process.returncode


@contextmanager
def running_app(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[AppProcess]:
    app = AppProcess(data_dir, *args, env=env)
    try:
        yield app
    finally:
        app.stop()


@contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def open_room(browser: Browser, url: str) -> Page:
    page = browser.new_page()
    errors: list[str] = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=10_000)
    page.page_errors = errors  # type: ignore[attr-defined]
    return page


def send(page: Page, text: str) -> None:
    composer = page.locator('textarea[data-testid=composer]')
    composer.fill(text)
    composer.press('Enter')


def reply_text(page: Page, index: int = -1) -> str:
    bodies = page.locator('[data-testid=message][data-role=assistant] [data-testid=message-content]')
    count = bodies.count()
    return bodies.nth(index if index >= 0 else count + index).inner_text() if count else ''

