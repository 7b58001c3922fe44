"""The benchmark's naive baseline (CHAT_NAIVE_STREAMING=1, see chat/ui/naive.py) still works as a chat: not timing."""
from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import chromium, open_room, reply_text, running_app, send

from chat.bench.fake_anthropic import FakeAnthropic
from chat.config import parse_settings


def test_naive_switch_is_read_from_the_environment() -> None:
    assert parse_settings([], {'CHAT_NAIVE_STREAMING': '1'}).naive_streaming
    assert not parse_settings([], {}).naive_streaming


@pytest.mark.browser
def test_naive_baseline_shows_the_same_final_reply(tmp_path: Path) -> None:
    """Guards the benchmark's baseline: whole-text re-sends through ui.markdown, sanitised, same final text."""
    chunks = ['Hello ', '**naive** ', 'world', '<img src=x onerror="window.__pwned = 1">', ' and', ' more', ' words.']
    with FakeAnthropic.in_thread() as fake:
        env = {'ANTHROPIC_API_KEY': 'sk-test', 'ANTHROPIC_BASE_URL': fake.base_url, 'CHAT_NAIVE_STREAMING': '1'}
        with running_app(tmp_path / 'data', env=env) as app, chromium() as browser:
            page = open_room(browser, f'{app.url}/room/naive')
            fake.enqueue_text(chunks, delay=0.03)
            send(page, 'hi')
            page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=complete]')
            assert app.messages('naive')[-1]['content'] == ''.join(chunks)
            page.wait_for_function("document.querySelectorAll('[data-testid=message-content]')[1]"
                                   "?.innerText.includes('more words.')")
            assert ' '.join(reply_text(page).split()) == 'Hello naive world and more words.'
            body = page.locator('[data-testid=message][data-role=assistant] [data-testid=message-content]')
            assert 'nicegui-markdown' in (body.get_attribute('class') or '')  # the naive body, not MessageBody
            assert body.locator('strong').inner_text() == 'naive'
            assert page.evaluate('window.__pwned') is None
            assert page.page_errors == []  # type: ignore[attr-defined]
