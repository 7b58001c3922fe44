"""Layout in real Chromium at phone size (390x844): wide content (a table, a 300-character code line, a long URL, a
long word) never makes the page scroll sideways and stays inside its message; the header is one row; every dialog's
buttons are on screen; Stop floats without squeezing the composer, a reply says it waits for Claude until its first
word, and a reply that failed before it has nothing to copy. Message actions show on hover and focus, and always
on a touch screen."""
from __future__ import annotations

import datetime
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import USER_AGENT, AppProcess, running_app
from playwright.sync_api import Browser, BrowserContext, Page
from test_composer_browser import enter

from chat.bench.fake_anthropic import FakeAnthropic

pytestmark = pytest.mark.browser
PHONE = {'width': 390, 'height': 844}
COMPOSER = 'textarea[data-testid=composer]'
TOKEN = 'owner-token-for-layout-0123'

CODE_LINE = 'total = ' + ' + '.join(f'measurement_{i:02}' for i in range(20))
TABLE = '\n'.join(['| ' + ' | '.join(f'Column heading {i}' for i in range(10)) + ' |',
                   '|' + ' --- |' * 10,
                   '| ' + ' | '.join(f'a cell with several words {i}' for i in range(10)) + ' |'])
URL = 'https://example.com/' + '/'.join(f'a-rather-long-path-segment-{i}' for i in range(8)) + '?query=' + 'x' * 60
WORD = 'Pneumonoultramicroscopicsilicovolcanoconiosis' * 4
WIDE = f'Wide things:\n\n{TABLE}\n\n```python\n{CODE_LINE}\n```\n\n{URL}\n\n{WORD}'

INSIDE_JS = '''() => {
  const width = window.innerWidth;
  const problems = [];
  const box = (el) => el.getBoundingClientRect();
  if (document.scrollingElement.scrollWidth > width) {
    problems.push(`the page is ${document.scrollingElement.scrollWidth} px wide`);
  }
  for (const message of document.querySelectorAll('[data-testid=message]')) {
    const outer = box(message);
    const id = message.getAttribute('data-message-id');
    if (outer.left < 0 || outer.right > width + 0.5) problems.push(`message ${id}: ${outer.left}..${outer.right}`);
    const bubble = box(message.querySelector('[data-testid=message-content]').parentElement);
    for (const wide of message.querySelectorAll('pre, table')) {
      let shown = wide;  // what one sees of it: the box it scrolls in, if any (e.g. a table's wrapper)
      for (let node = wide; node !== message; node = node.parentElement) {
        if (getComputedStyle(node).overflowX !== 'visible') { shown = node; break; }
      }
      const inner = box(shown);
      if (inner.left < bubble.left - 0.5 || inner.right > bubble.right + 0.5) {
        problems.push(`${wide.tagName} in ${id}: ${inner.left}..${inner.right} vs ${bubble.left}..${bubble.right}`);
      }
    }
  }
  return problems;
}'''

BUTTONS_ON_SCREEN_JS = '''() => {
  const problems = [];
  const cards = [...document.querySelectorAll('.q-dialog__inner > div')].filter((c) => c.offsetParent !== null);
  const buttons = [...document.querySelectorAll('.q-dialog .q-btn')].filter((b) => b.offsetParent !== null);
  // sideways first, before anything scrolls: Quasar lets a dialog's card scroll (overflow: auto), so a button pushed
  // off its side could be scrolled into view, but no one scrolls a dialog sideways to find it
  for (const card of cards) {
    if (card.scrollWidth > card.clientWidth) {
      problems.push(`a card scrolls sideways: ${card.scrollWidth} > ${card.clientWidth}`);
    }
  }
  const name = (button) => button.textContent.trim() || button.getAttribute('aria-label');
  for (const button of buttons) {
    const r = button.getBoundingClientRect();
    if (r.left < 0 || r.right > window.innerWidth + 0.5) problems.push(`${name(button)}: ${r.left}..${r.right}`);
  }
  for (const button of buttons) {  // a tall dialog on a phone may scroll down to its buttons
    button.scrollIntoView({ block: 'nearest' });
    const r = button.getBoundingClientRect();
    if (r.top < 0 || r.bottom > window.innerHeight + 0.5) problems.push(`${name(button)}: ${JSON.stringify(r)}`);
  }
  return [buttons.length, problems];
}'''


@pytest.fixture(scope='module')
def wide_room(app: AppProcess, fake: FakeAnthropic) -> str:
    """A room where a person posted the wide corpus and Claude answered with it."""
    room = 'wide-content'
    fake.enqueue_text(['Here it is again.\n\n', WIDE])
    post(app, room, WIDE)
    app.wait_for(room, lambda ms: len(ms) == 2 and ms[-1]['status'] == 'complete')
    return room


@pytest.fixture(scope='module')
def token_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """The app with the access token on (as with --share): the owner sees the owner link and New link rows."""
    with running_app(tmp_path_factory.mktemp('token') / 'data', '--token', TOKEN, '--model', 'demo') as process:
        yield process


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[BrowserContext]:
    scheme = getattr(request, 'param', 'light')
    context = browser.new_context(viewport=PHONE, color_scheme=scheme)
    yield context
    context.close()


@pytest.mark.parametrize('size', [PHONE, {'width': 1280, 'height': 800}], ids=['phone', 'desktop'])
def test_wide_content_never_scrolls_the_page_sideways_and_stays_inside_its_message(
        app: AppProcess, browser: Browser, wide_room: str, size: dict[str, int]) -> None:
    assert len(CODE_LINE) >= 300
    context = browser.new_context(viewport=size)
    page = context.new_page()
    page.goto(f'{app.url}/room/{wide_room}')
    page.wait_for_selector('[data-testid=connection][data-state=live]')
    page.wait_for_function('document.querySelectorAll("[data-testid=message] pre").length === 2')
    page.wait_for_function('document.querySelectorAll("[data-testid=message] table").length === 2')
    assert page.evaluate(INSIDE_JS) == []
    for selector in ('pre', 'table'):  # too wide for a phone: each scrolls inside its message, nothing is cut off
        if size != PHONE:
            break
        scrollable = page.eval_on_selector_all(
            f'[data-testid=message] {selector}',
            '''els => els.map(el => { for (let n = el; n; n = n.parentElement) {
                 if (n.scrollWidth > n.clientWidth + 1 && getComputedStyle(n).overflowX !== 'visible') return true;
                 if (n.getAttribute('data-testid') === 'message') return false; } return false; })''')
        assert scrollable == [True, True], f'{selector}: {scrollable}'
    assert WORD[:40] in page.inner_text('[data-testid=message][data-role=user] [data-testid=message-content]')
    context.close()


def test_phone_header_is_one_row_without_the_shortcuts_button(app: AppProcess, phone: BrowserContext,
                                                               wide_room: str) -> None:
    page = enter(phone, app, wide_room, 'Maximilian Alexander')
    header = page.locator('.q-header').bounding_box()
    assert header is not None and header['height'] <= 64, f'the header wraps: {header}'
    assert not page.locator('[data-testid=shortcuts]').is_visible(), 'no keyboard on a phone'
    title = page.locator('[data-testid=page-title]').bounding_box()
    assert title is not None and title['width'] >= 80, f'the room name has too little room: {title}'
    for testid in ('room-settings', 'share', 'my-name', 'theme-toggle', 'connection'):
        box = page.locator(f'[data-testid={testid}]').bounding_box()
        assert box is not None and box['x'] + box['width'] <= PHONE['width'], f'{testid} is off screen: {box}'
        assert box['y'] + box['height'] <= header['y'] + header['height'], f'{testid} is below the header'
    name = page.get_by_role('button', name='Maximilian Alexander, your name in this room')
    assert name.get_attribute('data-testid') == 'my-name'


@pytest.mark.parametrize('phone', ['light', 'dark'], indirect=True)
def test_every_dialog_keeps_its_buttons_on_a_phone_screen(app: AppProcess, phone: BrowserContext,
                                                          fake: FakeAnthropic) -> None:
    page = enter(phone, app, 'dialogs', 'Dee')
    fake.enqueue_text(['Noted.'])
    page.locator(COMPOSER).fill('A message of my own, to edit')
    page.locator(COMPOSER).press('Enter')
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=complete]')

    page.click('[data-testid=share]')
    page.wait_for_selector('[data-testid=share-copy]')
    assert_dialog_buttons_on_screen(page, 'share')
    page.keyboard.press('Escape')
    page.wait_for_selector('[data-testid=share-dialog]', state='detached')

    page.click('[data-testid=room-settings]')
    page.wait_for_selector('[data-testid=room-settings-dialog]')
    assert_dialog_buttons_on_screen(page, 'settings')
    assert_cancel_and_save_in_one_row(page)
    page.click('[data-testid=room-settings-dialog] [data-testid=delete-room]')
    page.wait_for_selector('[data-testid=delete-confirm]')
    assert_dialog_buttons_on_screen(page, 'delete the room')
    page.keyboard.press('Escape')
    page.wait_for_selector('[data-testid=delete-confirm]', state='hidden')
    page.keyboard.press('Escape')
    page.wait_for_selector('[data-testid=room-settings-dialog]', state='hidden')

    page.click('[data-testid=message][data-role=user] [data-testid=edit]')
    page.wait_for_selector('[data-testid=edit-save]')
    assert_dialog_buttons_on_screen(page, 'edit')
    page.keyboard.press('Escape')

    page.click('[data-testid=page-title]')
    page.keyboard.press('?')  # its button is hidden on a phone; a keyboard (a tablet's, say) still opens it
    page.wait_for_selector('[data-testid=shortcuts-dialog]')
    assert_dialog_buttons_on_screen(page, 'shortcuts')
    page.keyboard.press('Escape')

    page.goto(app.url)
    for action, button in (('rename-room', 'rename-save'), ('delete-room', 'delete-confirm')):
        page.click(f'[data-testid={action}][data-room-id=dialogs]')
        page.wait_for_selector(f'[data-testid={button}]')
        assert_dialog_buttons_on_screen(page, action)
        page.keyboard.press('Escape')
        page.wait_for_selector(f'[data-testid={button}]', state='hidden')
    assert page.page_errors == []  # type: ignore[attr-defined]


@pytest.mark.parametrize('phone', ['dark'], indirect=True)
def test_share_and_settings_keep_their_buttons_on_a_phone_screen_with_the_token_on(
        token_app: AppProcess, phone: BrowserContext) -> None:
    """With the access token on, Share adds the owner link and New link, and Settings its New link row."""
    page = phone.new_page()
    page.goto(f'{token_app.url}/room/dialogs-with-token?token={TOKEN}')
    page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=15_000)
    page.click('[data-testid=share]')
    page.wait_for_selector('[data-testid=share-owner-copy]')
    page.wait_for_selector('[data-testid=share-renew]')
    assert_dialog_buttons_on_screen(page, 'share with the token')
    page.keyboard.press('Escape')
    page.wait_for_selector('[data-testid=share-dialog]', state='detached')
    page.click('[data-testid=room-settings]')
    page.wait_for_selector('[data-testid=settings-new-link]')
    assert_dialog_buttons_on_screen(page, 'settings with the token')
    assert_cancel_and_save_in_one_row(page)


def test_stop_floats_over_the_list_and_a_reply_waits_visibly_for_claude(app: AppProcess, phone: BrowserContext,
                                                                       fake: FakeAnthropic) -> None:
    page = enter(phone, app, 'waiting', 'Wes')
    field = page.locator(f'.q-field:has({COMPOSER})')
    before = field.bounding_box()
    fake.enqueue_hang([])  # an API that never answers
    page.locator(COMPOSER).fill('Are you there?')
    page.locator(COMPOSER).press('Enter')
    streaming = page.locator('[data-testid=message][data-role=assistant][data-status=streaming]')
    streaming.wait_for()
    waiting = streaming.locator('[data-testid=waiting]')
    waiting.wait_for()
    assert waiting.inner_text().startswith('Waiting for Claude')
    assert not streaming.locator('[data-testid=message-status]').is_visible(), 'no bare "writing…" meanwhile'
    stop = page.locator('[data-testid=stop]')
    stop.wait_for()
    during, stop_box = field.bounding_box(), stop.bounding_box()
    assert before is not None and during is not None and stop_box is not None
    assert during['width'] == before['width'], 'Stop takes no room from the text box'
    assert stop_box['y'] + stop_box['height'] <= during['y'], 'Stop sits above the composer, not on it'
    assert 0 <= stop_box['x'] and stop_box['x'] + stop_box['width'] <= PHONE['width']
    stop.click()
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=stopped]')
    assert page.locator('[data-testid=waiting]:visible').count() == 0

    fake.enqueue_status(401)  # fails before its first word
    page.locator(COMPOSER).fill('Try again?')
    page.locator(COMPOSER).press('Enter')
    failed = page.locator('[data-testid=message][data-role=assistant][data-status=error]')
    failed.wait_for()
    failed.locator('[data-testid=retry]').wait_for()
    assert failed.locator('[data-testid=copy]').count() == 0, 'nothing to copy in an empty failed reply'
    assert failed.locator('[data-testid=reply]').count() == 1
    assert page.page_errors == []  # type: ignore[attr-defined]


def test_message_actions_show_on_hover_and_focus_and_always_on_a_touch_screen(app: AppProcess, browser: Browser,
                                                                            wide_room: str) -> None:
    shown = '''el => { const s = getComputedStyle(el); return [s.opacity, s.position]; }'''
    desk = browser.new_context(viewport={'width': 1280, 'height': 800})
    page = desk.new_page()
    page.goto(f'{app.url}/room/{wide_room}')
    page.wait_for_selector('[data-testid=connection][data-state=live]')
    actions = page.locator('[data-testid=message][data-role=user] .msg-actions')
    page.mouse.move(5, 795)
    page.wait_for_timeout(300)
    assert actions.evaluate(shown)[0] == '0', 'out of the way while the pointer is elsewhere'
    page.hover('[data-testid=message][data-role=user] [data-testid=message-content]')
    page.wait_for_timeout(300)
    assert actions.evaluate(shown)[0] == '1'
    page.mouse.move(5, 795)
    page.locator('[data-testid=message][data-role=user] [data-testid=copy]').focus()
    page.wait_for_timeout(300)
    assert actions.evaluate(shown)[0] == '1', 'a keyboard reaches them and sees them'
    desk.close()

    touch = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    page = touch.new_page()
    page.goto(f'{app.url}/room/{wide_room}')
    page.wait_for_selector('[data-testid=connection][data-state=live]')
    assert page.evaluate("matchMedia('(hover: none)').matches")
    assert page.locator('[data-testid=message][data-role=user] .msg-actions').evaluate(shown) == ['1', 'static']
    touch.close()


def test_a_reply_cut_off_at_max_tokens_shows_its_continue_without_a_hover(app: AppProcess, browser: Browser,
                                                                          fake: FakeAnthropic) -> None:
    """Its note says "Continue writes the rest": the button is there to see, as under a stopped reply."""
    room = 'cut-off'
    fake.enqueue_text(['Once upon a time, ', 'there was'], stop_reason='max_tokens')
    post(app, room, 'Tell me a long story')
    app.wait_for(room, lambda ms: len(ms) == 2 and ms[-1]['status'] == 'complete')
    context = browser.new_context(viewport={'width': 1280, 'height': 800})
    page = context.new_page()
    page.goto(f'{app.url}/room/{room}')
    page.wait_for_selector('[data-testid=connection][data-state=live]')
    page.mouse.move(5, 795)
    page.wait_for_timeout(300)
    reply = page.locator('[data-testid=message][data-role=assistant]')
    assert reply.locator('[data-testid=cut-off]').is_visible()
    assert reply.locator('.msg-actions').evaluate('el => getComputedStyle(el).opacity') == '1'
    assert reply.locator('[data-testid=continue]').inner_text().strip().endswith('Continue'), 'with its word'
    context.close()


def test_one_persons_consecutive_messages_group_under_a_day_separator_with_relative_times(
        app: AppProcess, browser: Browser) -> None:
    room = 'grouping'
    post(app, room, 'Hello', author='Hana')  # makes the room (Claude answers it)
    app.wait_for(room, lambda ms: len(ms) == 2 and ms[-1]['status'] != 'streaming')
    send_json(app, f'/api/rooms/{room}', {'reply_mode': 'mention'}, method='PATCH')
    for text, author in (('First of two', 'Gus'), ('Second of two', 'Gus'), ('Someone else', 'Hana')):
        post(app, room, text, author=author)
    app.wait_for(room, lambda ms: len(ms) == 5)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f'{app.url}/room/{room}')
    page.wait_for_selector('[data-testid=connection][data-state=live]')
    page.wait_for_selector('[data-testid=message][data-grouped=true]')
    seen = page.eval_on_selector_all('[data-testid=message][data-role=user]', '''els => els.map(e => [
        e.querySelector('[data-testid=message-content]').textContent.trim(), e.dataset.day || null,
        e.dataset.grouped || null, getComputedStyle(e.querySelector('.msg-avatar')).visibility])''')
    assert seen[0] == ['Hello', 'Today', None, 'visible']
    assert seen[1] == ['First of two', None, None, 'visible']
    assert seen[2] == ['Second of two', None, 'true', 'hidden'], 'one avatar and name for the group'
    assert seen[3] == ['Someone else', None, None, 'visible']
    time = page.locator('[data-testid=message][data-role=user] .msg-time').first
    assert time.inner_text() == 'just now'
    assert str(datetime.date.today().year) in (time.get_attribute('title') or ''), 'the full date and time as title'
    initials = page.locator('[data-testid=message][data-role=user] .msg-avatar').nth(1).inner_text()
    assert initials == 'G'
    context.close()


# helpers ---------------------------------------------------------------------------------------------------------

def assert_cancel_and_save_in_one_row(page: Page) -> None:
    dialog = page.locator('[data-testid=room-settings-dialog]')
    cancel, save = (dialog.get_by_role('button', name=name, exact=True).bounding_box() for name in ('Cancel', 'Save'))
    assert cancel is not None and save is not None
    assert abs(cancel['y'] - save['y']) <= 2, f'Cancel and Save are not side by side: {cancel} {save}'
    assert cancel['x'] + cancel['width'] <= save['x'], 'Cancel comes before Save'


def assert_dialog_buttons_on_screen(page: Page, which: str) -> None:
    page.wait_for_timeout(300)  # the dialog's opening transition
    count, problems = page.evaluate(BUTTONS_ON_SCREEN_JS)
    assert count >= 1, f'no buttons found in the {which} dialog'
    assert problems == [], f'{which} dialog: {problems}'


def post(app: AppProcess, room: str, text: str, author: str = 'Wanda') -> dict[str, Any]:
    return send_json(app, f'/api/rooms/{room}/messages', {'text': text, 'author': author})


def send_json(app: AppProcess, path: str, body: dict[str, Any], method: str = 'POST') -> dict[str, Any]:
    request = urllib.request.Request(app.url + path, method=method, data=json.dumps(body).encode(),
                                     headers={'Content-Type': 'application/json', 'User-Agent': USER_AGENT})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
