"""Unicode survives store, API and tabs; bad room ids get 404 everywhere and never touch a file.

`python main.py` against a loopback fake of the Anthropic API, with real Chromium tabs.
"""
# ruff: noqa: RUF001  (look-alike letters from other scripts are the point here)
from __future__ import annotations

import http.client
import json
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from browser_support import AppProcess, open_room
from playwright.sync_api import Browser, Page

from chat.bench.fake_anthropic import FakeAnthropic

pytestmark = pytest.mark.browser

USER_TEXT = ('Grüße 😀 family 👩\u200d👩\u200d👧\u200d👦 thumbs 👍🏽 flag 🇩🇪 café (e\u0301) '
             'Z\u0335\u0321a\u0338l\u0334g\u0337o rtl \u200fשלום\u200f مرحبا override \u202eevil\u202c '
             'math 𝕏 中文 zero\u200bwidth word\u2060joiner \ufeffbom nul a\x00b end')
MODEL_CHUNKS = ['Answer: ', '👩\u200d', '👩\u200d👧', '\u200d👦', ' e', '\u0301', ' 🇩', '🇪', ' 👍', '🏽',
                ' \u200f', 'שלום', '\u200f ', '𝕏', '\x00', ' נ', 'ִ', ' done']
"""The reply, cut between the code points of ZWJ sequences, flags, skin tones and combining marks."""
MODEL_TEXT = ''.join(MODEL_CHUNKS)
TITLE = '👩\u200d👩\u200d👧\u200d👦 \u200fשלום\u200f cafe\u0301 𝕏 中文'
VISIBLE = ['Grüße', '😀', '👩\u200d👩\u200d👧\u200d👦', '👍🏽', '🇩🇪', 'e\u0301', 'שלום', 'مرحبا', '𝕏', '中文',
           '\u200f', '\u202e', 'Z\u0335\u0321a\u0338']

API_ROUTES = ['messages', 'export.md', 'export.json']
"""Every API route under /api/rooms/{room_id}/."""
BAD_IDS = ['a%2Fb', '%2F', '..', '.', '%2e%2e', '..%2F..%2Fescape', '%2e%2e%2f%2e%2e%2fescape', '%2e', 'a.b',
           '.hidden', 'a%00b', '%00', 'x' * 65, '-' * 65, 'a%5Cb', '..%5C..%5Cescape', 'a%20b', '%C3%A9t%C3%A9',
           'escape.json', 'a%0Ab', '%252e%252e']
"""Room ids outside ^[A-Za-z0-9_-]{1,64}$, as they appear in a request line (percent-encoded where needed)."""



def test_unicode_round_trip_through_store_api_and_tabs(app: AppProcess, fake: FakeAnthropic,
                                                       browser: Browser) -> None:
    room = 'unicode'
    first, second = open_room(browser, f'{app.url}/room/{room}'), open_room(browser, f'{app.url}/room/{room}')
    fake.enqueue_text(MODEL_CHUNKS, delay=0.02)
    fake.enqueue_plain([TITLE])  # the title the model suggests after the first exchange
    composer = first.locator('textarea[data-testid=composer]')
    composer.fill(USER_TEXT)
    composer.press('Enter')
    messages = app.wait_for(room, lambda ms: len(ms) == 2 and ms[-1]['status'] == 'complete')
    assert [m['content'] for m in messages] == [USER_TEXT, MODEL_TEXT]

    wait_file(app.data_dir / f'{room}.json', [USER_TEXT, MODEL_TEXT])
    sent = [r for r in fake.requests if r.get('stream')][-1]['messages'][-1]['content']  # what the model was sent
    assert USER_TEXT in (sent if isinstance(sent, str) else ''.join(block.get('text', '') for block in sent))
    export = raw_get(app, f'/api/rooms/{room}/export.md')
    assert export[0] == 200 and USER_TEXT in export[1] and MODEL_TEXT in export[1]

    for page in (first, second):
        assert_shows(page, messages)
    deadline = time.monotonic() + 10
    while (titles := {r['id']: r['title'] for r in json.loads(raw_get(app, '/api/rooms')[1])['rooms']})[room] != TITLE:
        assert time.monotonic() < deadline, titles
        time.sleep(0.05)
    first.locator('[data-testid=page-title]').filter(has_text=TITLE).wait_for()  # live
    second.reload()
    second.wait_for_selector('[data-testid=connection][data-state=live]')
    assert_shows(second, messages)
    assert second.inner_text('[data-testid=page-title]') == TITLE
    assert TITLE in second.title()

    home = browser.new_page()
    home.goto(app.url)
    card = home.locator(f'[data-testid=room-link][data-room-id={room}]')
    assert TITLE in card.inner_text()
    assert first.page_errors == second.page_errors == []  # type: ignore[attr-defined]
    for page in (first, second, home):
        page.close()


def test_lone_surrogate_from_the_model_does_not_break_the_room(app: AppProcess, fake: FakeAnthropic,
                                                               browser: Browser) -> None:
    """Any Anthropic-compatible server (or a browser) can send JSON with an unpaired \\ud800: the room must survive."""
    room = 'surrogate'
    fake.enqueue_text(['broken ', '\ud800', ' text'])
    page = open_room(browser, f'{app.url}/room/{room}')
    asked = sum(1 for r in fake.requests if r.get('stream'))
    page.locator('textarea[data-testid=composer]').fill('hello')
    page.locator('textarea[data-testid=composer]').press('Enter')
    page.wait_for_function("() => !document.querySelector('textarea[data-testid=composer]').value", polling=20)
    deadline = time.monotonic() + 10
    while sum(1 for r in fake.requests if r.get('stream')) == asked or fake.active_streams:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    reply = page.locator('[data-testid=message][data-role=assistant] [data-testid=message-content]')
    try:
        reply.filter(has_text='broken').wait_for(timeout=3_000)
    finally:
        page.close()
    for path in (f'/room/{room}', *(f'/api/rooms/{room}/{route}' for route in API_ROUTES)):
        assert raw_get(app, path)[0] == 200, path


def test_bad_room_ids_get_404_everywhere_and_touch_no_file(app: AppProcess, browser: Browser) -> None:
    data_dir = app.data_dir
    outside = data_dir.parent
    log_start = len(app.log)
    before_inside, before_outside = tree(data_dir), tree(outside)
    for bad in BAD_IDS:
        for path in (f'/room/{bad}', *(f'/api/rooms/{bad}/{route}' for route in API_ROUTES)):
            status, body = raw_get(app, path)
            assert status == 404, (path, status, body[:200])
    # a valid id of a room nobody wrote in: a page (the room starts on its first message), but 404 in the API
    assert raw_get(app, '/room/nobody-here')[0] == 200
    for route in API_ROUTES:
        assert raw_get(app, f'/api/rooms/nobody-here/{route}')[0] == 404
    rooms = json.loads(raw_get(app, '/api/rooms')[1])['rooms']
    assert all(r['id'] != 'nobody-here' for r in rooms)

    # a tab asking to follow bad rooms over its socket gets nothing and joins nothing
    page = open_room(browser, f'{app.url}/room/sockets')
    for bad in ['../escape', 'a/b', '..', 'x' * 65, 'a\x00b', '', 'nobody-there']:
        answer = page.evaluate('''room => new Promise(resolve => window.socket.emit('rooms_sync',
            {room, client_id: window.clientId, msgs: ['x']}, resolve))''', bad)
        assert answer == {'texts': {}}, (bad, answer)
    page.close()

    assert tree(data_dir) == before_inside, 'a bad or unused room id created a file in the data dir'
    log = app.log_path.relative_to(outside)
    assert tree(outside) - {log} == before_outside - {log}, 'a file appeared next to the data dir'
    assert not any(p.name.startswith('escape') for p in outside.parent.rglob('escape*'))
    assert 'Traceback' not in app.log[log_start:]


# helpers ------------------------------------------------------------------------------------------------------


def assert_shows(page: Page, messages: list[dict]) -> None:
    """The tab holds each message's exact text and renders every visible piece of it."""
    for message in messages:
        page.wait_for_function('''([id, text]) => {
            const bodies = window.roomsBodies && window.roomsBodies.get(id);
            return bodies && [...bodies].some(b => b.getText() === text);
        }''', arg=[message['id'], message['content']], polling=50, timeout=10_000)
    page.wait_for_timeout(100)  # the last throttled render
    user, reply = (page.locator(f'[data-testid=message][data-message-id="{m["id"]}"] [data-testid=message-content]')
                   .inner_text() for m in messages)
    for piece in VISIBLE:
        assert piece in user, (piece, user)
    for piece in ['👩\u200d👩\u200d👧\u200d👦', 'e\u0301', '🇩🇪', '👍🏽', '\u200fשלום\u200f', '𝕏', 'נִ']:
        assert piece in reply, (piece, reply)
    # the NUL is the one character the markdown renderer may show as U+FFFD (CommonMark says it must)
    assert visible_text(user) == visible_text(USER_TEXT)
    assert visible_text(reply) == visible_text(MODEL_TEXT)


def wait_file(path: Path, contents: list[str]) -> None:
    """The room's file (written just after the reply completes) holds exactly these texts, in order."""
    deadline = time.monotonic() + 5
    while True:
        stored = json.loads(path.read_text(encoding='utf-8'))['messages']
        found = [r['content'] for r in sorted(stored.values(), key=lambda r: r['seq']) if r['status'] == 'complete']
        if found == contents:
            return
        assert time.monotonic() < deadline, found
        time.sleep(0.02)


def visible_text(text: str) -> str:
    return ' '.join(text.replace('\x00', '').replace('\ufffd', '').split())


def raw_get(app: AppProcess, path: str) -> tuple[int, str]:
    """GET exactly this path: no client-side normalisation of dots or percent-escapes."""
    connection = http.client.HTTPConnection('127.0.0.1', app.port, timeout=10)
    try:
        connection.putrequest('GET', path if path.isascii() else quote(path, safe='/%'), skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read().decode('utf-8', 'replace')
    finally:
        connection.close()


def tree(root: Path) -> set[Path]:
    return {path.relative_to(root) for path in root.rglob('*')}
