"""The benchmark's parts still work (not timing): the naive baseline (chat/bench/naive.py) as a chat."""
from __future__ import annotations

from pathlib import Path

import pytest
from browser_support import chromium, open_room, reply_text, send

from chat.bench.app import App, app_env
from chat.bench.fake_anthropic import FakeAnthropic
from chat.config import Settings


def test_the_product_has_no_benchmark_switch() -> None:
    """Guards issue 13's layout: the baseline is injected by chat.bench.serve, not chosen by a product setting."""
    assert not any('naive' in name for name in Settings.__dataclass_fields__)


@pytest.mark.browser
def test_naive_baseline_shows_the_same_final_reply(tmp_path: Path) -> None:
    """Guards the benchmark's baseline: whole-text re-sends through ui.markdown, sanitised, same final text."""
    chunks = ['Hello ', '**naive** ', 'world', '<img src=x onerror="window.__pwned = 1">', ' and', ' more', ' words.']
    with FakeAnthropic.in_thread() as fake:
        app = App(tmp_path / 'data', app_env(fake.base_url), tmp_path / 'app.log', probe=False, naive=True)
        with app, chromium() as browser:
            app.wait_ready('/healthz')
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
