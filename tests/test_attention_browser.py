"""Attention and moving between rooms in real Chromium, two people in two browser contexts: the title count of a
hidden tab, notifications of mentions, the "New" divider, the room switcher's unread markers, Alt+K and the drawer."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import AppProcess, running_app, send
from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.browser

NOTIFICATION_RECORDER = '''
window.__notifications = [];
window.Notification = class {
  static get permission() { return localStorage.getItem('test-permission') || 'default'; }
  static requestPermission() { localStorage.setItem('test-permission', 'granted'); return Promise.resolve('granted'); }
  constructor(title, options) { window.__notifications.push({ title, body: options?.body, tag: options?.tag }); }
  close() {}
};
'''
"""Stands in for the browser's notifications, which headless Chromium does not show."""
UNREAD = '[data-testid=switcher-room][data-room-id="{}"][data-unread={}]'


@pytest.fixture(scope='module')
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    with running_app(tmp_path_factory.mktemp('attention') / 'data', '--model', 'demo') as process:
        yield process


def person(browser: Browser, app: AppProcess, name: str, **options: Any) -> BrowserContext:
    """A browser of its own (cookies, localStorage) for someone who picked `name`."""
    context = browser.new_context(**options)
    context.add_cookies([{'name': 'rooms_name', 'value': name, 'url': app.url}])
    return context


def visit(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_selector('[data-testid=connection][data-state=live]')
    page.wait_for_function('window.roomsAttention !== undefined')
    page.page_errors = errors  # type: ignore[attr-defined]
    return page


def post(app: AppProcess, room: str, text: str, author: str = 'Bob') -> dict[str, Any]:
    """A message from someone else (a script, as the JSON API lets anyone take part); answered like any other."""
    response = httpx.post(f'{app.url}/api/rooms/{room}/messages', json={'text': text, 'author': author})
    assert response.status_code == 201, response.text
    return response.json()['message']


def answered(app: AppProcess, room: str, count: int) -> list[dict[str, Any]]:
    return app.wait_for(room, lambda ms: len(ms) >= count and ms[-1]['status'] == 'complete')


def set_hidden(page: Page, hidden: bool) -> None:
    """What switching to another tab (or back) does to the page, which headless Chromium cannot do."""
    page.evaluate('''(hidden) => {
        const state = hidden ? 'hidden' : 'visible';
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => state });
        Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden });
        document.dispatchEvent(new Event('visibilitychange'));
    }''', hidden)


def seen_stored(page: Page, room: str) -> None:
    page.wait_for_function(f'localStorage.getItem("rooms-seen:{room}") !== null')


def test_a_hidden_tab_counts_new_messages_in_its_title_once_each(app: AppProcess, browser: Browser) -> None:
    post(app, 'counted', 'Before Ann came')
    answered(app, 'counted', 2)
    ann = visit(person(browser, app, 'Ann'), f'{app.url}/room/counted')
    base = ann.title()
    assert base.endswith(' · Rooms') and not base.startswith('(')
    set_hidden(ann, True)
    send(ann, 'Ann writes from a tab in the background')  # her own message is no news to her; its reply is
    answered(app, 'counted', 4)
    post(app, 'counted', 'Bob says hi')
    answered(app, 'counted', 6)
    ann.wait_for_function(f'document.title === {f"(3) {base}"!r}')
    time.sleep(0.5)
    assert ann.title() == f'(3) {base}', 'a streamed reply counts once, when it is added'
    set_hidden(ann, False)
    ann.wait_for_function(f'document.title === {base!r}')
    assert ann.page_errors == []  # type: ignore[attr-defined]


def test_a_mention_raises_a_notification_once_allowed(app: AppProcess, browser: Browser) -> None:
    context = person(browser, app, 'Ann')
    context.add_init_script(NOTIFICATION_RECORDER)
    ann = visit(context, f'{app.url}/room/mentions')
    toggle = ann.locator('[data-testid=notify-toggle]')
    assert toggle.get_attribute('aria-pressed') == 'false'
    toggle.click()
    ann.wait_for_selector('[data-testid=notify-toggle][aria-pressed=true]')
    ann.reload()  # the choice is remembered
    ann.wait_for_selector('[data-testid=notify-toggle][aria-pressed=true]')
    ann.wait_for_selector('[data-testid=connection][data-state=live]')

    set_hidden(ann, True)
    post(app, 'mentions', 'Nothing for Ann here')
    post(app, 'mentions', '@Ann can you look at this?')
    ann.wait_for_selector('[data-testid=message][data-mention=true]')
    ann.wait_for_function('window.__notifications.length > 0')
    answered(app, 'mentions', 4)
    time.sleep(0.5)
    notes = ann.evaluate('window.__notifications')
    assert len(notes) == 1, notes
    assert notes[0]['title'].startswith('Bob in ') and 'can you look at this' in notes[0]['body']

    toggle.click()
    ann.wait_for_selector('[data-testid=notify-toggle][aria-pressed=false]')
    post(app, 'mentions', '@Ann once more')
    ann.wait_for_function('document.querySelectorAll("[data-testid=message][data-mention=true]").length === 2')
    time.sleep(0.5)
    assert len(ann.evaluate('window.__notifications')) == 1, 'turned off: no notification'


def test_the_new_divider_marks_where_you_left_off(app: AppProcess, browser: Browser) -> None:
    post(app, 'divided', 'An old message')
    answered(app, 'divided', 2)
    context = person(browser, app, 'Ann')
    ann = visit(context, f'{app.url}/room/divided')
    seen_stored(ann, 'divided')
    assert ann.locator('[data-testid=new-divider]').count() == 0, 'a first visit: no divider'
    ann.goto(f'{app.url}/room/elsewhere')
    first_new = post(app, 'divided', 'Bob wrote this while Ann was away')
    answered(app, 'divided', 4)

    ann = visit(context, f'{app.url}/room/divided')
    divider = ann.locator('[data-testid=new-divider]')
    divider.wait_for()
    assert divider.inner_text() == 'New'
    after = ann.locator('[data-testid=new-divider] + [data-testid=message]')
    assert after.get_attribute('data-message-id') == first_new['id']
    assert ann.locator('[data-testid=message]').count() == 4

    # back to a tab left in the background: the divider moves to what came meanwhile
    set_hidden(ann, True)
    later = post(app, 'divided', 'And this while the tab was hidden')
    answered(app, 'divided', 6)
    ann.wait_for_selector(f'[data-message-id="{later["id"]}"]')
    set_hidden(ann, False)
    ann.wait_for_function(f'document.querySelector("[data-testid=new-divider] + [data-testid=message]")'
                          f'?.getAttribute("data-message-id") === {later["id"]!r}')
    assert ann.locator('[data-testid=new-divider]').count() == 1
    assert ann.page_errors == []  # type: ignore[attr-defined]


def test_the_switcher_marks_another_room_unread_live_and_clears_it_once_seen(app: AppProcess,
                                                                             browser: Browser) -> None:
    post(app, 'bobs-room', 'Bob started this room')
    answered(app, 'bobs-room', 2)
    ann_context = person(browser, app, 'Ann')
    ann = visit(ann_context, f'{app.url}/room/anns-room')
    ann.wait_for_selector(UNREAD.format('bobs-room', 'false'))
    assert ann.locator('[data-testid=room-switcher] [aria-current=page]').get_attribute('data-room-id') == 'anns-room'

    bob = visit(person(browser, app, 'Bob'), f'{app.url}/room/bobs-room')
    send(bob, 'Anyone here?')
    ann.wait_for_selector(UNREAD.format('bobs-room', 'true'))
    order = ann.eval_on_selector_all('[data-testid=switcher-room]', 'items => items.map(i => i.dataset.roomId)')
    assert order[:2] == ['anns-room', 'bobs-room'], 'her new room first, then the room with the newest message'

    other_tab = visit(ann_context, f'{app.url}/room/bobs-room')  # Ann reads it in another tab of her browser
    other_tab.wait_for_selector('text=Anyone here?')
    ann.wait_for_selector(UNREAD.format('bobs-room', 'false'))
    other_tab.close()

    send(bob, 'Still there?')
    ann.wait_for_selector(UNREAD.format('bobs-room', 'true'))
    ann.click('[data-testid=switcher-room][data-room-id=bobs-room]')
    ann.wait_for_url(f'{app.url}/room/bobs-room')
    ann.wait_for_selector('[data-testid=connection][data-state=live]')
    ann.wait_for_selector(UNREAD.format('bobs-room', 'false'))
    assert ann.locator('[data-room-id=anns-room]').count() == 0, 'a room is listed from its first message on'
    assert ann.locator('[data-testid=room-switcher] [aria-current=page]').get_attribute('data-room-id') == 'bobs-room'
    assert bob.page_errors == []  # type: ignore[attr-defined]


def test_alt_k_focuses_the_switcher_arrows_move_and_enter_opens(app: AppProcess, browser: Browser) -> None:
    for room in ('keys-one', 'keys-two'):
        post(app, room, f'Hello {room}')
        answered(app, room, 2)
    ann = visit(person(browser, app, 'Ann', viewport={'width': 1280, 'height': 800}), f'{app.url}/room/keys-two')
    ann.locator('textarea[data-testid=composer]').focus()
    ann.keyboard.press('Alt+k')
    ann.wait_for_function('document.activeElement?.getAttribute("aria-current") === "page"')
    ann.wait_for_selector('[data-testid=room-switcher] [data-room-id=keys-one]')
    # the list holds this module's other rooms too, newest first: the arrows follow its order, whatever it is now
    order = ann.eval_on_selector_all('[data-testid=room-switcher] [data-room-id]',
                                     'links => links.map(link => link.getAttribute("data-room-id"))')
    below = order[order.index('keys-two') + 1]
    ann.keyboard.press('ArrowDown')
    ann.wait_for_function(f'document.activeElement?.getAttribute("data-room-id") === "{below}"')
    ann.keyboard.press('ArrowUp')
    ann.wait_for_function('document.activeElement?.getAttribute("data-room-id") === "keys-two"')
    for _ in range(len(order)):
        ann.keyboard.press('ArrowDown')
        if ann.evaluate('document.activeElement?.getAttribute("data-room-id")') == 'keys-one':
            break
    ann.keyboard.press('Enter')
    ann.wait_for_url(f'{app.url}/room/keys-one')
    ann.wait_for_selector('[data-testid=connection][data-state=live]')
    ann.click('[data-testid=shortcuts]')
    ann.wait_for_selector('[data-testid=shortcuts-dialog] >> text=Alt+K')


def test_on_a_phone_the_switcher_is_a_drawer_opened_from_the_header(app: AppProcess, browser: Browser) -> None:
    for room in ('phone-one', 'phone-two'):
        post(app, room, f'Hello {room}')
        answered(app, room, 2)
    context = person(browser, app, 'Ann', viewport={'width': 390, 'height': 844}, is_mobile=True, has_touch=True)
    ann = visit(context, f'{app.url}/room/phone-two')
    room_list = ann.locator('[data-testid=room-switcher]')
    button = ann.locator('[data-testid=room-switcher-button]')
    assert button.get_attribute('aria-label') == 'Rooms'
    assert button.is_visible() and not in_view(room_list)
    button.click()
    ann.wait_for_function('(() => { const r = document.querySelector("[data-testid=room-switcher]")'
                          '.getBoundingClientRect(); return r.left >= 0 && r.right > 0; })()')
    assert room_list.locator('[data-room-id=phone-one]').is_visible()

    # Esc closes the drawer and nothing else; Alt+K opens it again with the current room focused
    room_list.locator('[data-room-id=phone-one]').focus()
    ann.keyboard.press('Escape')
    ann.wait_for_function('document.querySelector("[data-testid=room-switcher]").getBoundingClientRect().right <= 0')
    ann.keyboard.press('Alt+k')
    ann.wait_for_function('document.activeElement?.getAttribute("data-room-id") === "phone-two"')
    room_list.locator('[data-room-id=phone-one]').click()
    ann.wait_for_url(f'{app.url}/room/phone-one')


def test_a_room_link_shows_no_switcher(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    token = 'owner-token-attention-browser'
    with running_app(tmp_path_factory.mktemp('attention-links') / 'data', '--token', token, '--model', 'demo') as app:
        owner = {'Authorization': f'Bearer {token}'}
        for room in ('guest-room', 'secret-room'):
            assert httpx.post(f'{app.url}/api/rooms/{room}/messages', json={'text': f'in {room}'},
                              headers=owner).status_code == 201
        from chat.links import RoomLinks
        key = RoomLinks(app.data_dir).key('guest-room')
        guest = visit(browser.new_context(), f'{app.url}/room/guest-room?token={key}')
        guest.wait_for_selector('text=in guest-room')
        assert guest.locator('[data-testid=room-switcher], [data-testid=room-switcher-button]').count() == 0
        assert guest.locator('text=secret-room').count() == 0
        assert guest.locator('[data-testid=notify-toggle]').count() == 1, 'mentions still reach a guest'
        guest.keyboard.press('Alt+k')  # nothing to open, nothing breaks
        assert guest.page_errors == []  # type: ignore[attr-defined]


def in_view(locator: Any) -> bool:
    box = locator.bounding_box()
    return box is not None and box['x'] + box['width'] > 0 and box['width'] > 0
