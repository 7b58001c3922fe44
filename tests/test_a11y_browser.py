"""Accessibility in real Chromium: axe-core (tests/vendor/axe.min.js) finds no serious or critical violation on the
home page, an empty room and a room with a conversation, in light and dark, with the message actions hidden (a mouse)
and shown (a touch screen); and what axe cannot see: new messages are announced politely, `?` types into a text box
but opens the shortcuts elsewhere, the theme toggle says its state, the focus ring is plain to see, the version
arrows have names."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import AppProcess
from playwright.sync_api import Browser, BrowserContext, Page
from test_composer_browser import enter
from test_layout_browser import post

from chat.bench.fake_anthropic import FakeAnthropic

pytestmark = pytest.mark.browser
AXE = Path(__file__).parent / 'vendor' / 'axe.min.js'
COMPOSER = 'textarea[data-testid=composer]'
DESKTOP = {'width': 1280, 'height': 800}
PHONE = {'width': 390, 'height': 844}
REPLY = '''Here is a short overview.

## Trains

- **Paris → Lyon**: about two hours
- [Timetables](https://example.com/timetables)

> Book early for the best prices.

| From | To | Time |
| --- | --- | --- |
| Paris | Lyon | 2 h |

```python
print("bon voyage")
print("a line far too long for a phone: " + "the stations of the line from Paris to Lyon, one after the other" * 3)
```

| Station | Platform | Departure | Arrival | Changes | Seats | Price | Operator | Notes |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| Paris Gare de Lyon | 11 | 07:56 | 09:52 | none | 412 | 39 € | SNCF Voyageurs | the wide table scrolls in its box |
'''

RUN_AXE = '''async () => {
  const result = await axe.run(document, { resultTypes: ['violations'] });
  return result.violations.filter((v) => ['serious', 'critical'].includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact,
    nodes: v.nodes.slice(0, 5).map((n) =>
      `${n.target.join(" ")}: ${(n.any[0] || n.all[0] || n.none[0] || {}).message}`),
  }));
}'''


@pytest.fixture(scope='module')
def conversation(app: AppProcess, fake: FakeAnthropic) -> str:
    """A room with two people, a formatted reply (with a code line and a table too wide for a phone: boxes that
    scroll must be reachable by keyboard), a mention and a reply that failed."""
    room = 'a11y-conversation'
    fake.enqueue_text([REPLY])
    post(app, room, 'How do I get from Paris to Lyon?')
    app.wait_for(room, lambda ms: len(ms) == 2 and ms[-1]['status'] == 'complete')
    fake.enqueue_status(401)
    post(app, room, '@claude and back again?', author='Bob')
    app.wait_for(room, lambda ms: len(ms) == 4 and ms[-1]['status'] == 'error')
    return room


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={'width': 1280, 'height': 800})
    yield context
    context.close()


@pytest.mark.parametrize('scheme', ['light', 'dark'])
@pytest.mark.parametrize('where', ['home', 'empty room', 'conversation'])
def test_no_serious_or_critical_axe_violations(app: AppProcess, browser: Browser, conversation: str, where: str,
                                               scheme: str) -> None:
    path = {'home': '/', 'empty room': '/room/a11y-empty', 'conversation': f'/room/{conversation}'}[where]
    context = browser.new_context(viewport={'width': 1280, 'height': 800}, color_scheme=scheme)
    page = open_page(context, app.url + path)
    assert page.evaluate("document.body.classList.contains('body--dark')") == (scheme == 'dark')
    assert page.evaluate('document.documentElement.lang') == 'en-US'
    if where == 'conversation':
        page.wait_for_selector('[data-testid=message] table')
        page.wait_for_selector('[data-testid=message][data-status=error] [data-testid=retry]')
    assert axe(page) == []
    if where == 'conversation':  # as a touch screen shows them: every message's actions at once
        page.add_style_tag(content='.msg-actions { opacity: 1 !important; position: static !important; '
                                   'transition: none !important; }')
        assert axe(page) == []
    assert page.page_errors == []  # type: ignore[attr-defined]
    context.close()


@pytest.mark.parametrize('scheme', ['light', 'dark'])
@pytest.mark.parametrize('size', [DESKTOP, PHONE], ids=['desktop', 'phone'])
def test_no_serious_or_critical_axe_violations_with_each_dialog_open(app: AppProcess, browser: Browser,
                                                                     conversation: str, size: dict[str, int],
                                                                     scheme: str) -> None:
    """Regression: an open dialog had no accessible name (axe: aria-dialog-name), so a screen reader said only
    "dialog"; the name prompt a first visit shows is checked too."""
    context = browser.new_context(viewport=size, color_scheme=scheme)
    page = open_page(context, f'{app.url}/room/{conversation}')
    page.wait_for_selector('[data-testid=message] table')
    assert page.locator('[data-testid=name-prompt]').is_visible(), 'a first visit asks for a name'
    assert axe(page) == []
    for open_it, name in ((lambda: page.click('[data-testid=share]'), 'Share this room'),
                          (lambda: page.click('[data-testid=room-settings]'), 'Room settings'),
                          (lambda: (page.click('[data-testid=page-title]'), page.keyboard.press('?')),
                           'Keyboard shortcuts')):
        open_it()
        dialog = page.get_by_role('dialog', name=name)
        dialog.wait_for()
        page.wait_for_timeout(400)  # the opening transition: axe measures colours as they are at the end
        assert axe(page) == [], name
        page.keyboard.press('Escape')
        dialog.wait_for(state='hidden')
    assert page.page_errors == []  # type: ignore[attr-defined]
    context.close()


@pytest.mark.parametrize(('size', 'scheme'), [(DESKTOP, 'light'), (PHONE, 'dark')], ids=['desktop-light',
                                                                                         'phone-dark'])
def test_the_edit_dialog_has_a_name_and_no_violations(app: AppProcess, browser: Browser, size: dict[str, int],
                                                      scheme: str) -> None:
    """Regression: the dialog that edits your own message had no accessible name (axe: aria-dialog-name)."""
    context = browser.new_context(viewport=size, color_scheme=scheme)
    room = f'a11y-edit-{scheme}'
    page = enter(context, app, room, 'Eda')
    page.locator(COMPOSER).fill('a message to change')
    page.locator(COMPOSER).press('Enter')
    app.wait_for(room, lambda ms: len(ms) == 2 and ms[-1]['status'] == 'complete')
    mine = page.locator('[data-testid=message][data-own=true]')
    mine.hover()
    mine.locator('[data-testid=edit]').click()
    dialog = page.get_by_role('dialog', name='Edit your message')
    dialog.wait_for()
    page.wait_for_timeout(400)  # the opening transition
    assert axe(page) == []
    page.keyboard.press('Escape')
    dialog.wait_for(state='hidden')
    assert page.page_errors == []  # type: ignore[attr-defined]
    context.close()


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_a_room_notice_is_readable_in_both_themes(app: AppProcess, browser: Browser, scheme: str) -> None:
    """A room's notice (here: its file was damaged and set aside) passes axe's contrast check, dark too, and in dark
    is not a light box on the dark page."""
    room = f'a11y-notice-{scheme}'
    (app.data_dir / f'{room}.json').write_bytes(b'{"messages": {"1": ')
    context = browser.new_context(viewport=PHONE, color_scheme=scheme)
    page = open_page(context, f'{app.url}/room/{room}')
    notice = page.locator('[data-testid=room-notice]')
    notice.wait_for()
    assert 'damaged' in notice.inner_text()
    assert axe(page) == []
    background = notice.evaluate('el => getComputedStyle(el).backgroundColor')
    assert (luminance(background) < 0.2) == (scheme == 'dark'), f'{scheme}: the notice is {background}'
    context.close()


def test_new_messages_are_announced_to_screen_readers_politely(app: AppProcess, browser: Browser,
                                                               fake: FakeAnthropic) -> None:
    """Every text the live region takes is recorded (it is overwritten by the next batch, which a poll could miss:
    the test was flaky when a tab got Ann's message and Claude's reply in two batches)."""
    room = 'a11y-announce'
    ann_context, bob_context = browser.new_context(), browser.new_context()
    ann, bob = enter(ann_context, app, room, 'Ann'), enter(bob_context, app, room, 'Bob')
    region = ann.locator('[data-testid=announcer]')
    assert region.get_attribute('aria-live') == 'polite' and region.get_attribute('role') == 'status'
    for page in (ann, bob):
        record_announcements(page)
    fake.enqueue_text(['Hello to you both.'])
    bob.locator(COMPOSER).fill('Hello, Ann!')
    bob.locator(COMPOSER).press('Enter')
    announced(ann, 'Claude replied: Hello to you both.')
    assert any('Bob: Hello, Ann!' in text for text in said(ann))
    fake.enqueue_text(['Indeed.'])
    ann.locator(COMPOSER).fill('Hi Bob')  # one's own message is not read back
    ann.locator(COMPOSER).press('Enter')
    announced(bob, 'Ann: Hi Bob')
    announced(bob, 'Claude replied: Indeed.')
    announced(ann, 'Claude replied: Indeed.')
    assert not any('Ann: Hi Bob' in text for text in said(ann))
    ann_context.close()
    bob_context.close()


def test_messages_a_moment_apart_are_announced_together_not_one_over_the_other(app: AppProcess,
                                                                                context: BrowserContext) -> None:
    """Regression: a message and a reply arriving in two batches 150 ms apart were each announced 400 ms after their
    own batch, so the reply replaced the message in the live region 150 ms after it was put there, before a screen
    reader had read it. Batches within that moment are said together."""
    page = open_page(context, f'{app.url}/room/a11y-batches')
    record_announcements(page)
    page.evaluate('''async () => {
      const list = document.querySelector('.messages');
      const add = (id, role, author, text) => {
        const message = document.createElement('div');
        for (const [name, value] of Object.entries({ 'data-testid': 'message', 'data-message-id': id,
            'data-role': role, 'data-status': 'complete', 'data-ts': String(Date.now() / 1000) })) {
          message.setAttribute(name, value);
        }
        message.innerHTML = `<span data-testid=message-author>${author}</span>`
          + `<div data-testid=message-content>${text}</div>`;
        list.appendChild(message);
      };
      add('batch-1', 'user', 'Ann', 'Hi Bob');
      await new Promise((resolve) => setTimeout(resolve, 150));
      add('batch-2', 'assistant', 'Claude', 'Hello Ann');
    }''')
    announced(page, 'Claude replied: Hello Ann')
    page.wait_for_timeout(600)  # nothing more comes
    assert said(page) == ['Ann: Hi Bob Claude replied: Hello Ann']


def test_question_mark_types_in_a_text_box_and_opens_the_shortcuts_elsewhere(app: AppProcess,
                                                                              context: BrowserContext) -> None:
    page = open_page(context, f'{app.url}/room/a11y-keys')
    composer = page.locator(COMPOSER)
    composer.click()
    page.keyboard.type('Why?')
    assert composer.input_value() == 'Why?'
    assert not page.locator('[data-testid=shortcuts-dialog]').is_visible()
    page.click('[data-testid=page-title]')
    page.keyboard.press('?')
    page.wait_for_selector('[data-testid=shortcuts-dialog]')
    assert composer.input_value() == 'Why?'


def test_theme_toggle_says_its_state_and_the_focus_ring_is_plain(app: AppProcess, context: BrowserContext) -> None:
    page = open_page(context, app.url)
    toggle = page.locator('[data-testid=theme-toggle]')
    page.wait_for_function('document.querySelector("[data-testid=theme-toggle]").dataset.theme === "auto"')
    states = []
    for label in ('Theme: as the system', 'Theme: dark', 'Theme: light'):
        # the label follows a click after a round trip to the server: wait for it, on a busy machine too
        page.wait_for_function('l => document.querySelector("[data-testid=theme-toggle]").getAttribute("aria-label") '
                               '=== l', arg=label)
        states.append((toggle.get_attribute('aria-label'), toggle.get_attribute('aria-pressed'), toggle.inner_text(),
                       page.evaluate("document.body.classList.contains('body--dark')")))
        toggle.click()
    assert states == [('Theme: as the system', 'mixed', 'brightness_auto', False),
                      ('Theme: dark', 'true', 'dark_mode', True),
                      ('Theme: light', 'false', 'light_mode', False)]
    page.click('[data-testid=page-title]')
    for _ in range(40):  # the keyboard reaches the New room button, with a ring one sees
        page.keyboard.press('Tab')
        if page.evaluate("document.activeElement.getAttribute('data-testid')") == 'new-room':
            break
    assert page.evaluate("document.activeElement.getAttribute('data-testid')") == 'new-room'
    ring = page.evaluate('''(() => { const s = getComputedStyle(document.activeElement);
        return [s.outlineStyle, parseFloat(s.outlineWidth), s.boxShadow]; })()''')
    assert (ring[0] == 'solid' and ring[1] >= 2) or '4px' in ring[2], f'no visible focus ring: {ring}'


def test_version_arrows_have_names(app: AppProcess, context: BrowserContext, fake: FakeAnthropic) -> None:
    page = open_page(context, f'{app.url}/room/a11y-versions')
    fake.enqueue_text(['First answer.'])
    page.locator(COMPOSER).fill('Say something')
    page.locator(COMPOSER).press('Enter')
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=complete] [data-testid=regenerate]')
    fake.enqueue_text(['Second answer.'])
    page.click('[data-testid=regenerate]')
    page.wait_for_selector('[data-testid=version-prev]')
    assert page.get_by_role('button', name='Previous version').count() == 1
    assert page.get_by_role('button', name='Next version').count() == 1


# helpers ---------------------------------------------------------------------------------------------------------

def open_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    errors: list[str] = []
    page.on('pageerror', lambda error: errors.append(str(error)))
    page.page_errors = errors  # type: ignore[attr-defined]
    page.goto(url)
    page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=15_000)
    page.wait_for_function('document.querySelector("[data-testid=theme-toggle]").hasAttribute("data-theme")')
    page.wait_for_timeout(300)  # Quasar's transitions (the drawer, the header) settle
    return page


def record_announcements(page: Page) -> None:
    """From now on, every text the page's live region takes goes to `window.__said`, however soon it is replaced."""
    page.evaluate('''() => {
      window.__said = [];
      const region = document.querySelector('[data-testid=announcer]');
      new MutationObserver(() => window.__said.push(region.textContent))
        .observe(region, { childList: true, characterData: true, subtree: true });
    }''')


def said(page: Page) -> list[str]:
    return page.evaluate('window.__said')


def announced(page: Page, text: str) -> None:
    """Until the page's live region has said `text` (in any announcement since `record_announcements`). Polled by
    time: animation frames stop in whichever of two tabs is in the background."""
    page.wait_for_function('text => window.__said.some((said) => said.includes(text))', arg=text, polling=100)


def axe(page: Page) -> list[dict[str, Any]]:
    """The serious and critical violations axe-core finds on the page as it is now."""
    if not page.evaluate('typeof window.axe === "object"'):
        page.add_script_tag(content=AXE.read_text(encoding='utf-8'))
    return page.evaluate(RUN_AXE)



def luminance(css_colour: str) -> float:
    """The relative luminance (WCAG) of an `rgb(...)` or `rgba(...)` colour."""
    channels = [float(v) / 255 for v in css_colour[css_colour.index('(') + 1:-1].split(',')[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
