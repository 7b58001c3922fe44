"""Connections that drop and tabs that come and go while a reply streams.

A tab that loses its socket for longer than NiceGUI's reconnect window (3 s) or for a moment comes back showing
exactly the stored reply, says it is reconnecting meanwhile, and never shows a word twice or skips one (the fake API
streams unique words `w<index>@<time> `). Tabs opened and closed by the dozen leave no subscriber behind in the hub
(counted in-process through NiceGUI's user simulation) and no error in the app's log (real Chromium).
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from browser_support import AppProcess
from nicegui import Client
from nicegui.nicegui import _on_handshake
from playwright.sync_api import Browser, BrowserContext, Page
from test_room_users import simulated_app

from chat.bench.fake_anthropic import FakeAnthropic, parse_words
from chat.config import Settings
from chat.ui.presence import PRESENCE

REPLY = "document.querySelector('[data-testid=message][data-role=assistant]')"
TABS = 20
ROUNDS = 3
BROWSER_TABS = 10


# in-process: subscribers counted in the hub --------------------------------------------------------------------


async def test_tabs_opening_and_closing_during_a_reply_leave_no_subscribers(tmp_path: Path,
                                                                            caplog: pytest.LogCaptureFixture) -> None:
    """Guards against a subscription (or a presence entry) that outlives its tab: closed at once, or after the
    reconnect window, or coming back within it."""
    caplog.set_level(logging.WARNING)
    async with FakeAnthropic() as fake:
        settings = Settings(data_dir=tmp_path / 'data', api_key='sk-test', base_url=fake.base_url)
        async with simulated_app(settings) as (rooms, new_user):
            fake.enqueue_words(3000, rate=50)  # a minute: stopped once the tabs are done
            watcher = new_user()
            await watcher.open('/room/churn')
            watcher.find(marker='composer').type('Tell a long story').trigger('keydown.enter.exact.prevent')
            hub = rooms.open_hub('churn')
            assert hub is not None
            await wait_until(lambda: hub.is_streaming and len(hub.messages[-1].content) > 0, 'the reply to start')
            base_clients = len(Client.instances)
            assert hub.subscriber_count == 1
            assert len(PRESENCE.room('churn').members) == 1

            for round_ in range(ROUNDS):
                users = [new_user() for _ in range(TABS)]
                for user in users:
                    await user.open('/room/churn')
                assert hub.subscriber_count == TABS + 1
                assert len(PRESENCE.room('churn').members) == TABS + 1
                clients = [user.client for user in users]
                assert all(client is not None for client in clients)
                if round_ == 0:  # the tab's client deleted at once (what NiceGUI does after the window)
                    for client in clients:
                        client.delete()  # type: ignore[union-attr]
                elif round_ == 1:  # the socket drops and never comes back: NiceGUI deletes after its window
                    for client in clients:
                        for socket_id in list(client._socket_to_document_id):  # type: ignore[union-attr]
                            client.handle_disconnect(socket_id)  # type: ignore[union-attr]
                    assert len(PRESENCE.room('churn').members) == 1, 'a tab without a socket is not "here"'
                    await asyncio.sleep(1.0)
                    assert hub.subscriber_count == TABS + 1, 'a tab must keep its place during the reconnect window'
                    await wait_until(lambda: hub.subscriber_count == 1, 'the reconnect window to end', timeout=6)
                else:  # half come back within the window and stay, then everyone goes
                    comeback = []
                    for user, client in zip(users, clients, strict=True):
                        for socket_id, document_id in list(client._socket_to_document_id.items()):  # type: ignore
                            client.handle_disconnect(socket_id)  # type: ignore[union-attr]
                            comeback.append((user, client, document_id))
                    await asyncio.sleep(0.5)
                    for user, client, document_id in comeback[::2]:
                        assert await _on_handshake(f'test-{uuid.uuid4()}', {
                            'client_id': client.id, 'tab_id': user.tab_id, 'document_id': document_id})
                    await asyncio.sleep(3.5)
                    assert hub.subscriber_count == 1 + len(comeback[::2])
                    assert len(PRESENCE.room('churn').members) == 1 + len(comeback[::2])
                    for _, client, _ in comeback[::2]:
                        client.delete()
                await wait_until(lambda: hub.subscriber_count == 1, f'round {round_} to unsubscribe', timeout=2)
                assert len(Client.instances) == base_clients, f'round {round_} left NiceGUI clients behind'
                assert len(PRESENCE.room('churn').members) == 1, f'round {round_} left people "here"'
                assert hub.is_streaming, 'the tabs must come and go while the reply streams'

            # a page fetched by something that never opens its socket (a tab closed at once, a link preview) holds
            # its subscriber only until NiceGUI prunes the never-connected client
            assert (await watcher.http_client.get('/room/churn')).status_code == 200
            assert hub.subscriber_count == 2
            Client.prune_instances(client_age_threshold=0)
            await wait_until(lambda: hub.subscriber_count == 1, 'the never-connected client to be pruned', timeout=2)

            assert hub.stop()
            await wait_until(lambda: not hub.is_streaming, 'the reply to stop')
            assert hub.messages[-1].status == 'stopped'
            assert len(parse_words(hub.messages[-1].content)) > 0
            assert hub.subscriber_count == 1
    problems = [f'{r.name}: {r.getMessage()}' for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'timed out waiting for {what}'
        await asyncio.sleep(0.02)


# real Chromium against `python main.py` ----------------------------------------------------------------------


@dataclass
class Tab:
    context: BrowserContext
    page: Page
    loads: int = 0
    states: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def connection(self) -> str:
        return self.page.get_attribute('[data-testid=connection]', 'data-state') or ''

    def reply_words(self) -> list[int]:
        text = self.page.evaluate(f'{REPLY}?.querySelector("[data-testid=message-content]").innerText || ""')
        return [index for index, _ in parse_words(text)]

    def stop_visible(self) -> bool:
        return self.page.locator('[data-testid=stop]').is_visible()



def open_tab(browser: Browser, url: str) -> Tab:
    """A tab in a context of its own, so that taking it offline leaves the other tabs alone."""
    context = browser.new_context()
    page = context.new_page()
    tab = Tab(context, page)
    page.on('load', lambda _: setattr(tab, 'loads', tab.loads + 1))
    page.on('pageerror', lambda error: tab.errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=15_000)
    return tab


def send(tab: Tab, text: str) -> None:
    composer = tab.page.locator('textarea[data-testid=composer]')
    composer.fill(text)
    composer.press('Enter')
    tab.page.wait_for_function("() => !document.querySelector('textarea[data-testid=composer]').value", polling=20)


def wait_words(tab: Tab, count: int) -> None:
    tab.page.wait_for_function(f'({REPLY}?.innerText.match(/w\\d+@/g) || []).length >= {count}', polling=20,
                               timeout=15_000)


def offline(tab: Tab, seconds: float) -> list[str]:
    """Take the tab's network away for `seconds`; return the connection states it showed meanwhile."""
    tab.context.set_offline(True)
    states = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        states.append(tab.connection())
        time.sleep(0.05)
    tab.context.set_offline(False)
    return states


def follow_to_the_end(tab: Tab, app: AppProcess, room: str) -> tuple[list[list[int]], list[tuple[str, bool]]]:
    """Watch the reply until it is complete; return the word indices shown and (stored status, stop shown) seen."""
    shown, stops = [], []
    deadline = time.monotonic() + 30
    while True:
        status = app.messages(room)[-1]['status']
        shown.append(tab.reply_words())
        stops.append((status, tab.stop_visible()))
        if tab.page.locator('[data-testid=message][data-role=assistant][data-status=complete]').count():
            return shown, stops
        assert time.monotonic() < deadline, 'the reply never completed in the tab'
        time.sleep(0.1)


def here(tab: Tab, count: int) -> None:
    """Wait until the tab's presence bar counts `count` people in the room."""
    tab.page.wait_for_selector(f'[data-testid=presence][data-count="{count}"]', state='attached', timeout=30_000)


def assert_exact(tab: Tab, app: AppProcess, room: str, words: int) -> None:
    """The tab shows exactly the stored reply; all words, each once, in order; no stop button."""
    stored = app.messages(room)[-1]
    assert stored['status'] == 'complete'
    assert [index for index, _ in parse_words(stored['content'])] == list(range(words))
    tab.page.wait_for_function(f'({REPLY}?.innerText.match(/w\\d+@/g) || []).length >= {words}', polling=50,
                               timeout=5_000)
    shown = tab.page.locator('[data-testid=message][data-role=assistant] [data-testid=message-content]')
    assert shown.inner_text().split() == stored['content'].split()
    assert tab.reply_words() == list(range(words))
    assert not tab.stop_visible()


def assert_prefixes(shown: list[list[int]]) -> None:
    """Each look at the growing reply showed words 0..k-1, each once, and k never went down."""
    for indices in shown:
        assert indices == list(range(len(indices))), indices
    lengths = [len(indices) for indices in shown]
    assert lengths == sorted(lengths), lengths


@pytest.mark.browser
def test_tab_offline_longer_than_the_reconnect_window_comes_back_exact(app: AppProcess, fake: FakeAnthropic,
                                                                       browser: Browser) -> None:
    room = 'long-drop'
    tab, online = open_tab(browser, f'{app.url}/room/{room}'), open_tab(browser, f'{app.url}/room/{room}')
    words = 600
    fake.enqueue_words(words, rate=30)  # 20 s: still streaming when a slow machine's socket.io backoff brings it back
    send(tab, 'Tell me everything')
    wait_words(tab, 20)
    assert tab.stop_visible()
    states = offline(tab, 5.0)
    assert 'reconnecting' in states, states
    assert tab.page.inner_text('[data-testid=connection]').strip().lower().startswith('reconnecting')
    tab.page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=15_000)
    shown, stops = follow_to_the_end(tab, app, room)
    assert_prefixes(shown)
    assert any(status == 'streaming' and visible for status, visible in stops), 'no stop button after coming back'
    assert_exact(tab, app, room, words)
    follow_to_the_end(online, app, room)
    assert_exact(online, app, room, words)
    assert tab.errors == online.errors == []
    for each in (tab, online):
        each.context.close()


@pytest.mark.browser
def test_tab_offline_for_a_moment_catches_up_without_reload(app: AppProcess, fake: FakeAnthropic,
                                                            browser: Browser) -> None:
    """Two short drops: one mid-reply, one while the reply ends."""
    room = 'short-drop'
    tab = open_tab(browser, f'{app.url}/room/{room}')
    words = 150
    fake.enqueue_words(words, rate=30)  # 5 s
    send(tab, 'Count slowly')
    wait_words(tab, 20)
    loads = tab.loads
    states = offline(tab, 0.4)  # socket.io's first retry comes 0.5 to 1.5 s after the drop: well inside 3 s
    tab.page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=10_000)
    assert 'reconnecting' in states, states
    wait_words(tab, 130)
    states = offline(tab, 0.5)  # the last ~20 words and the end of the reply happen while offline
    tab.page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=10_000)
    assert 'reconnecting' in states, states
    shown, _ = follow_to_the_end(tab, app, room)
    assert_prefixes(shown)
    assert_exact(tab, app, room, words)
    assert tab.loads == loads, 'a drop inside the reconnect window must not reload the page'
    assert tab.errors == []
    tab.context.close()


@pytest.mark.browser
def test_tabs_coming_and_going_during_a_reply_log_no_error(app: AppProcess, fake: FakeAnthropic,
                                                           browser: Browser) -> None:
    """Twenty tabs, ten at a time: every NiceGUI page costs the small test machine about a CPU second, and pages
    starved any longer miss their socket pings, which only tests the machine. The hub count is checked in-process."""
    room = 'churn'
    watcher = open_tab(browser, f'{app.url}/room/{room}')
    fake.enqueue_words(3000, rate=10)  # slow, so the twenty tabs do not also render a fast stream; stopped below
    send(watcher, 'Stream while tabs come and go')
    wait_words(watcher, 3)
    context = browser.new_context()
    for _ in range(2):
        pages = [context.new_page() for _ in range(BROWSER_TABS)]
        for page in pages:
            page.goto(f'{app.url}/room/{room}', wait_until='commit')
        for page in pages:
            page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=45_000)
            assert page.locator('[data-testid=stop]').is_visible()
        here(watcher, BROWSER_TABS + 1)
        for page in pages:
            page.close()
        here(watcher, 1)
    context.close()
    time.sleep(3.5)  # past the reconnect window: NiceGUI deletes the closed tabs' clients while the reply streams
    assert app.messages(room)[-1]['status'] == 'streaming', 'the tabs must come and go while the reply streams'
    watcher.page.click('[data-testid=stop]')
    watcher.page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=stopped]')
    stored = app.messages(room)[-1]
    assert stored['status'] == 'stopped'
    count = len(parse_words(stored['content']))
    watcher.page.wait_for_function(f'({REPLY}?.innerText.match(/w\\d+@/g) || []).length >= {count}', polling=50,
                                   timeout=5_000)
    assert watcher.reply_words() == list(range(count))
    assert not watcher.stop_visible()
    log = app.log
    assert 'Traceback' not in log and 'ERROR' not in log, log
    watcher.context.close()
