"""End to end in real headless Chromium against `python main.py` and a loopback fake of the Anthropic API."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser_support import ROOT, AppProcess, open_room, reply_text, running_app, send
from playwright.sync_api import Browser

from chat.bench.fake_anthropic import FakeAnthropic

pytestmark = pytest.mark.browser
REPLY_JS = "document.querySelector('[data-testid=message][data-role=assistant] [data-testid=message-content]')"
"""The reply's text only: the whole message's innerText also holds its header (author, model, time, status)."""



def normalized(text: str) -> str:
    return ' '.join(text.split())


def test_second_tab_sees_the_reply_grow_and_both_tabs_end_identical(app: AppProcess, fake: FakeAnthropic,
                                                                      browser: Browser) -> None:
    first, second = open_room(browser, f'{app.url}/room/twotabs'), open_room(browser, f'{app.url}/room/twotabs')
    fake.enqueue_words(40, rate=20)
    send(first, 'Count for me')
    second.wait_for_selector('[data-testid=message][data-role=user]:has-text("Count for me")')
    second.wait_for_selector('[data-testid=message][data-role=assistant][data-status=streaming]')
    lengths = []
    while second.locator('[data-testid=message][data-role=assistant][data-status=streaming]').count():
        lengths.append(len(reply_text(second)))
        time.sleep(0.1)
    assert len(set(lengths)) >= 5, f'the second tab did not see the reply grow: {lengths}'
    assert lengths == sorted(lengths)
    second.wait_for_selector('[data-testid=message][data-role=assistant][data-status=complete]')
    stored = app.messages('twotabs')[-1]
    assert stored['status'] == 'complete'
    assert normalized(reply_text(first)) == normalized(reply_text(second)) == normalized(stored['content'])
    assert first.page_errors == second.page_errors == []  # type: ignore[attr-defined]


def test_tab_reloaded_mid_reply_shows_partial_text_at_once_and_resumes(app: AppProcess, fake: FakeAnthropic,
                                                                         browser: Browser) -> None:
    page = open_room(browser, f'{app.url}/room/reload')
    fake.enqueue_words(60, rate=20)
    send(page, 'Go')
    page.wait_for_function(f'{REPLY_JS}?.innerText.length > 40')
    page.reload()
    page.wait_for_selector('[data-testid=message][data-role=assistant]')
    shown_at_once = reply_text(page)
    assert len(shown_at_once) > 40, 'the reloaded tab must show the partial text at once'
    assert page.locator('[data-testid=stop]').is_visible()
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=complete]', timeout=15_000)
    stored = app.messages('reload')[-1]['content']
    assert normalized(reply_text(page)) == normalized(stored)
    words = stored.split()
    assert len(words) == 60 and len(set(words)) == 60, 'no duplicated or missing words'
    assert not page.locator('[data-testid=stop]').is_visible()


def test_stop_keeps_partial_text_as_stopped(app: AppProcess, fake: FakeAnthropic, browser: Browser) -> None:
    page = open_room(browser, f'{app.url}/room/stopping')
    fake.enqueue_words(200, rate=20)
    send(page, 'Talk a lot')
    page.wait_for_function(f'{REPLY_JS}?.innerText.length > 30')
    closed_before = len(fake.disconnects)
    clicked = time.time()
    page.click('[data-testid=stop]')
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=stopped]')
    while len(fake.disconnects) == closed_before and time.time() - clicked < 2:
        time.sleep(0.02)
    assert len(fake.disconnects) > closed_before, 'stop must close the upstream request, not just ignore it'
    assert fake.disconnects[-1] - clicked < 1.0
    stored = app.messages('stopping')[-1]
    assert stored['status'] == 'stopped' and 0 < len(stored['content'].split()) < 200
    assert page.locator('[data-testid=continue]').is_visible() and page.locator('[data-testid=retry]').is_visible()


def test_composer_keeps_focus_and_shift_enter_adds_a_line(app: AppProcess, browser: Browser) -> None:
    page = open_room(browser, f'{app.url}/room/keys')
    composer = page.locator('textarea[data-testid=composer]')
    composer.fill('line one')
    composer.press('Shift+Enter')
    composer.type('line two')
    composer.press('Enter')
    page.wait_for_selector('[data-testid=message][data-role=user]')
    assert app.wait_for('keys', lambda m: m)[0]['content'] == 'line one\nline two'
    assert composer.input_value() == ''
    assert page.evaluate("document.activeElement.getAttribute('data-testid')") == 'composer'


def test_home_page_lists_rooms_and_new_room_opens_an_empty_room(app: AppProcess, browser: Browser) -> None:
    app.wait_for('twotabs', lambda m: m)
    page = browser.new_page()
    page.goto(app.url)
    page.wait_for_selector('[data-testid=room-link][data-room-id=twotabs]')
    listed = {room['id']: room for room in app.get_json('/api/rooms')['rooms']}
    assert listed['twotabs']['title'] == 'A fine title', 'suggested after the first exchange'
    assert listed['twotabs']['title'] in page.inner_text('[data-testid=room-link][data-room-id=twotabs]')
    page.click('[data-testid=new-room]')
    page.wait_for_url('**/room/*')
    page.wait_for_selector('[data-testid=empty-room]')


def test_startup_prints_the_url_and_bad_start_exits_with_one_line(tmp_path: Path) -> None:
    with running_app(tmp_path / 'data') as app:
        assert f'http://localhost:{app.port}/' in app.log
        assert 'demo model' in app.log
        taken = subprocess.run([sys.executable, 'main.py', '--port', str(app.port), '--data-dir', str(tmp_path / 'd'),
                                '--no-browser'], cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert taken.returncode != 0 and len(taken.stderr.strip().splitlines()) == 1
        assert 'already' in taken.stderr


def test_theme_choice_is_remembered_and_keyboard_shortcuts_work(app: AppProcess, fake: FakeAnthropic,
                                                                  browser: Browser) -> None:
    page = open_room(browser, f'{app.url}/room/keyboard')
    page.click('[data-testid=theme-toggle]')
    page.reload()
    page.wait_for_selector('[data-testid=connection][data-state=live]')
    page.wait_for_function("document.body.classList.contains('body--dark')")
    page.click('[data-testid=page-title]')
    page.keyboard.press('?')
    page.wait_for_selector('[data-testid=shortcuts-dialog]')
    page.keyboard.press('Escape')
    page.click('[data-testid=page-title]')
    page.keyboard.press('/')
    assert page.evaluate("document.activeElement.getAttribute('data-testid')") == 'composer'
    fake.enqueue_words(200, rate=20)
    send(page, 'long one')
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=streaming]')
    page.keyboard.press('Escape')
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=stopped]')
