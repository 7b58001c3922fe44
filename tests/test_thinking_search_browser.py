"""Thinking, web searches and sources in real Chromium: live in two tabs, in a tab refreshed mid-thinking, and after
the app restarts; the settings dialog's fields for them."""
from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import USER_AGENT, AppProcess, open_room, running_app, send
from playwright.sync_api import Browser, Page

from chat.bench.fake_anthropic import FakeAnthropic

pytestmark = pytest.mark.browser
ROOM = 'moon'
THINKING = '[data-testid=message][data-role=assistant] [data-testid=thinking]'
MOON = {'url': 'https://example.org/moon', 'title': 'The Moon', 'cited_text': 'The Moon is 384,400 km away.'}
ORBIT = {'url': 'https://example.net/orbit', 'title': 'Orbits', 'cited_text': 'It drifts 3.8 cm a year.'}


@pytest.fixture(scope='module')
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic.in_thread() as server:
        yield server


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp('thinking') / 'data'


def start(data_dir: Path, fake: FakeAnthropic):  # type: ignore[no-untyped-def]
    return running_app(data_dir, env={'ANTHROPIC_API_KEY': 'sk-test-secret', 'ANTHROPIC_BASE_URL': fake.base_url})


def patch(app: AppProcess, room: str, settings: dict[str, object]) -> None:
    request = urllib.request.Request(f'{app.url}/api/rooms/{room}', data=json.dumps(settings).encode(),
                                     method='PATCH', headers={'Content-Type': 'application/json',
                                                              'User-Agent': USER_AGENT})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200


def thinking_text(page: Page) -> str:
    """The thinking's text, read from the DOM: the block is collapsed, so it is not visible."""
    return page.locator(f'{THINKING} [data-testid=thinking-text]').last.text_content() or ''


def test_thinking_streams_live_in_every_tab_and_survives_a_refresh_and_a_restart(
        fake: FakeAnthropic, data_dir: Path, browser: Browser) -> None:
    with start(data_dir, fake) as app:
        first = open_room(browser, f'{app.url}/room/{ROOM}')
        send(first, 'hello')
        app.wait_for(ROOM, lambda ms: len(ms) == 2 and ms[-1]['status'] == 'complete')
        patch(app, ROOM, {'thinking_budget': 2048, 'web_search': True})
        second = open_room(browser, f'{app.url}/room/{ROOM}')

        steps = [f'step{i} ' for i in range(60)]
        fake.enqueue_blocks([
            {'thinking': steps}, {'redacted': True},
            {'search': 'moon distance', 'results': [{'url': MOON['url'], 'title': MOON['title']},
                                                    {'url': ORBIT['url'], 'title': ORBIT['title']}]},
            {'text': ['It is ', 'about 384,400 km away.'], 'citations': [MOON]},
            {'text': [' It drifts outward.'], 'citations': [ORBIT]},
        ], delay=0.05)
        send(first, 'How far is the Moon?')
        for page in (first, second):
            page.wait_for_selector(THINKING, state='attached')
            page.wait_for_function("() => [...document.querySelectorAll('[data-testid=thinking]')].some("
                                   "e => e.textContent.includes('step5 '))")
        block = second.locator(THINKING).last
        assert block.evaluate('e => e.tagName') == 'DETAILS' and block.get_attribute('open') is None, \
            'collapsed by default'
        assert 'Thinking' in block.locator('summary').inner_text()

        second.reload()  # mid-thinking: the partial thinking shows at once and keeps streaming
        second.wait_for_selector('[data-testid=connection][data-state=live]')
        assert 'step' in thinking_text(second)
        second.wait_for_function("() => [...document.querySelectorAll('[data-testid=thinking]')].some("
                                 "e => e.textContent.includes('step59 '))", timeout=20_000)
        block = second.locator(THINKING).last
        block.locator('summary').click()
        assert block.get_attribute('open') is not None and 'step30' in block.inner_text(), 'opens on a click'

        messages = app.wait_for(ROOM, lambda ms: ms[-1]['role'] == 'assistant' and ms[-1]['status'] == 'complete')
        reply = messages[-1]
        assert reply['thinking'] == ''.join(steps)
        assert [c['url'] for c in reply['citations']] == [MOON['url'], ORBIT['url']]
        for page in (first, second):
            assert_finished_reply(page, ''.join(steps))
        assert first.page_errors == [] and second.page_errors == []  # type: ignore[attr-defined]
        first.close()
        second.close()

    with start(data_dir, fake) as app:  # a restart: everything was saved
        page = open_room(browser, f'{app.url}/room/{ROOM}')
        assert_finished_reply(page, ''.join(steps))
        page.close()


def assert_finished_reply(page: Page, thinking: str) -> None:
    reply = page.locator('[data-testid=message][data-role=assistant]').last
    reply.locator('[data-testid=citation]').first.wait_for()
    assert reply.locator('[data-testid=thinking] summary').inner_text().startswith('Thought process')
    page.wait_for_function("t => [...document.querySelectorAll('[data-testid=thinking]')].some("
                           "e => e.textContent.includes(t))", arg=thinking[-40:])
    assert 'encrypted' in (reply.locator('[data-testid=thinking-redacted]').text_content() or '')
    activity = reply.locator('[data-testid=tool-activity]')
    assert activity.count() == 1 and activity.inner_text() == 'Searched the web: moon distance · 2 results'
    sources = reply.locator('[data-testid=citation]')
    assert [sources.nth(i).get_attribute('href') for i in range(sources.count())] == [MOON['url'], ORBIT['url']]
    assert sources.first.inner_text() == '[1] The Moon' and sources.first.get_attribute('target') == '_blank'
    assert 'noopener' in (sources.first.get_attribute('rel') or '')
    inline = reply.locator('[data-testid=message-content] a[href="https://example.org/moon"]').first
    assert inline.inner_text() == '[1]', 'the cited passage carries its source\'s number, linked'
    assert 'about 384,400 km away.' in reply.locator('[data-testid=message-content]').last.inner_text()


def test_searching_shows_while_the_search_runs(fake: FakeAnthropic, data_dir: Path, browser: Browser) -> None:
    """Live in every tab: the tab that asked and another one see the search running, then done."""
    with start(data_dir, fake) as app:
        page = open_room(browser, f'{app.url}/room/searching')
        send(page, 'hello')
        app.wait_for('searching', lambda ms: len(ms) == 2 and ms[-1]['status'] == 'complete')
        patch(app, 'searching', {'web_search': True})
        other = open_room(browser, f'{app.url}/room/searching')
        fake.enqueue_blocks([{'search': 'slow query', 'results': [{'url': MOON['url'], 'title': 'M'}], 'seconds': 3},
                             {'text': ['x'] * 40}], delay=0.1)
        send(page, 'search it')
        for tab in (page, other):
            tab.wait_for_selector('[data-testid=tool-activity]:has-text("Searching the web: slow query")')
        assert app.messages('searching')[-1]['status'] == 'streaming', 'both saw it while the search ran'
        for tab in (page, other):
            tab.wait_for_selector('[data-testid=tool-activity]:has-text("Searched the web: slow query · 1 result")')
        page.close()
        other.close()
