"""The composer in real Chromium: the @ list (two people in two browser contexts), Esc in dialogs versus stopping a
reply, and the name prompt (readable in both themes, labelled, never over the composer on a phone)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from browser_support import AppProcess, enter
from playwright.sync_api import Browser, Page

from chat.bench.fake_anthropic import FakeAnthropic

pytestmark = pytest.mark.browser
COMPOSER = 'textarea[data-testid=composer]'
STREAMING = '[data-testid=message][data-role=assistant][data-status=streaming]'


def test_at_offers_claude_and_the_people_here_filtered_and_picked_with_the_keyboard(
        app: AppProcess, browser: Browser) -> None:
    room = 'mentions'
    ann_context, bob_context = browser.new_context(), browser.new_context()
    ann = enter(ann_context, app, room, 'Ann')
    bob = enter(bob_context, app, room, 'Bob')
    answer_only_mentions(ann)
    bob.wait_for_selector('[data-testid=reply-mode][data-mode=mention]')
    assert bob.locator('[data-testid=ask-claude]').is_visible()
    ann.wait_for_selector('[data-testid=mention-names][data-names*=Bob]', state='attached')
    composer = ann.locator(COMPOSER)
    mention_list = ann.locator('[data-testid=mention-list]')

    composer.press_sequentially('@')
    mention_list.wait_for()
    assert option_names(ann) == ['Claude', 'Bob'], 'Claude and the others here, not yourself'
    assert composer.get_attribute('role') == 'combobox' and composer.get_attribute('aria-expanded') == 'true'
    assert mention_list.get_attribute('role') == 'listbox'
    composer.press_sequentially('B')
    ann.wait_for_function("document.querySelectorAll('[data-testid=mention-option]').length === 1")
    assert option_names(ann) == ['Bob']
    selected = ann.locator('[data-testid=mention-option][aria-selected=true]')
    assert selected.get_attribute('data-name') == 'Bob'
    assert composer.get_attribute('aria-activedescendant') == selected.get_attribute('id')
    composer.press('Enter')  # picks: the list is open
    mention_list.wait_for(state='hidden')
    assert composer.input_value() == '@Bob '
    assert composer.get_attribute('aria-expanded') == 'false'
    composer.press_sequentially('are you coming?')
    composer.press('Enter')  # sends: the list is closed
    app.wait_for(room, lambda messages: [m['content'] for m in messages] == ['@Bob are you coming?'])

    # Esc closes the list and does nothing else; Tab picks too; arrows move
    composer.press_sequentially('Hey @')
    mention_list.wait_for()
    composer.press('Escape')
    mention_list.wait_for(state='hidden')
    assert composer.input_value() == 'Hey @'
    composer.press_sequentially('b')
    assert not mention_list.is_visible(), 'closed with Esc: it stays closed for that word'
    composer.press_sequentially(' and @')
    mention_list.wait_for()
    composer.press('ArrowDown')
    composer.press('ArrowDown')
    composer.press('ArrowUp')
    assert ann.locator('[data-testid=mention-option][aria-selected=true]').get_attribute('data-name') == 'Bob'
    composer.press('ArrowUp')
    composer.press('Tab')
    assert composer.input_value() == 'Hey @b and @claude '
    assert ann.evaluate("document.activeElement.getAttribute('data-testid')") == 'composer'

    # the mouse works too, and a message with @claude as a word gets a reply in a mention room
    composer.fill('')
    composer.press_sequentially('what do you think, @cl')
    ann.locator('[data-testid=mention-option][data-name=Claude]').click()
    assert composer.input_value() == 'what do you think, @claude '
    composer.press('Enter')
    messages = app.wait_for(room, lambda ms: any(m['role'] == 'assistant' and m['status'] == 'complete' for m in ms))
    assert [m['role'] for m in messages] == ['user', 'user', 'assistant']
    assert 'what do you think, @claude' in messages[-1]['content'], 'the fake echoes what it was asked'
    assert ann.page_errors == []  # type: ignore[attr-defined]
    ann_context.close()
    bob_context.close()


def test_esc_closes_a_dialog_or_the_list_without_stopping_the_reply_and_then_stops_it(
        app: AppProcess, fake: FakeAnthropic, browser: Browser) -> None:
    context = browser.new_context()
    page = enter(context, app, 'escape', 'Esa')
    fake.enqueue_words(1200, rate=20)  # a minute: still streaming on a loaded machine; Esc stops it at the end
    page.locator(COMPOSER).fill('Tell me a long story')
    page.locator(COMPOSER).press('Enter')
    page.wait_for_selector(STREAMING)

    page.click('[data-testid=shortcuts]')
    dialog = page.locator('[data-testid=shortcuts-dialog]')
    dialog.wait_for()
    page.keyboard.press('Escape')
    dialog.wait_for(state='hidden')
    time.sleep(0.5)
    assert page.locator(STREAMING).count() == 1, 'the Esc that closed the dialog must not stop the reply'

    page.click('[data-testid=room-settings]')
    page.wait_for_selector('[data-testid=room-settings-dialog]')
    page.click('[data-testid=settings-reply-mode]')
    page.wait_for_selector('.q-menu')
    page.keyboard.press('Escape')  # closes the select's menu only
    page.wait_for_selector('.q-menu', state='detached')
    assert page.locator('[data-testid=room-settings-dialog]').is_visible()
    page.keyboard.press('Escape')
    page.wait_for_selector('[data-testid=room-settings-dialog]', state='detached')
    page.locator(COMPOSER).press_sequentially('@')
    page.wait_for_selector('[data-testid=mention-list]')
    page.keyboard.press('Escape')
    page.wait_for_selector('[data-testid=mention-list]', state='hidden')
    time.sleep(0.5)
    assert page.locator(STREAMING).count() == 1, 'nor the Esc that closed a menu or the @ list'

    # in the composer, Esc first drops the message being replied to
    page.locator(COMPOSER).fill('')
    page.click('[data-testid=message][data-role=user] [data-testid=reply]')
    chip = page.locator('[data-testid=replying-to]')
    chip.wait_for()
    assert 'Replying to Esa: Tell me a long story' in chip.inner_text()
    page.wait_for_function("document.activeElement?.getAttribute('data-testid') === 'composer'")
    page.keyboard.press('Escape')
    chip.wait_for(state='hidden')
    time.sleep(0.5)
    assert page.locator(STREAMING).count() == 1, 'nor the Esc that dropped the reply chip'

    page.keyboard.press('Escape')
    page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=stopped]')
    assert page.page_errors == []  # type: ignore[attr-defined]
    context.close()


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_name_prompt_is_readable_labelled_and_leaves_the_composer_usable_on_a_phone(
        app: AppProcess, browser: Browser, scheme: str) -> None:
    context = browser.new_context(viewport={'width': 390, 'height': 844}, color_scheme=scheme)
    page = enter(context, app, f'prompt-{scheme}', None)
    assert page.evaluate("document.body.classList.contains('body--dark')") == (scheme == 'dark')
    prompt = page.locator('[data-testid=name-prompt]')
    assert prompt.is_visible()
    text = page.locator('[data-testid=name-prompt-text]')
    assert text.inner_text() == 'What should others in the room call you?'
    assert contrast(text) >= 4.5, f'prompt text contrast {contrast(text):.2f} in {scheme}'
    assert page.get_by_role('textbox', name='Your name', exact=True).get_attribute('data-testid') == 'name-input'
    save = page.get_by_role('button', name='Save', exact=True)
    assert save.inner_text().strip() == 'Save', 'the visible label is the accessible name (no SAVE in capitals)'
    assert contrast(save) >= 4.5
    assert page.get_by_role('button', name='Not now', exact=True).inner_text().strip() == 'Not now'

    composer = page.locator(COMPOSER)
    box, prompt_box = composer.bounding_box(), prompt.bounding_box()
    assert box is not None and prompt_box is not None
    assert prompt_box['y'] + prompt_box['height'] <= box['y'], 'the prompt sits above the composer'
    assert box['y'] + box['height'] <= 844 and box['width'] > 150, 'the composer is on screen and wide enough'
    on_top = page.evaluate('([x, y]) => document.querySelector("textarea[data-testid=composer]").closest(".q-field")'
                           '.contains(document.elementFromPoint(x, y))',
                           [box['x'] + box['width'] / 2, box['y'] + box['height'] / 2])
    assert on_top, 'nothing covers the composer'
    composer.fill('hello before picking a name')
    composer.press('Enter')
    page.wait_for_selector('[data-testid=message][data-role=user]:has-text("hello before picking a name")')
    assert prompt.is_visible()
    context.close()


LIST_SETTLED_OVER_FIELD = """() => {
  const list = document.querySelector('[data-testid=mention-list]').getBoundingClientRect();
  const field = document.querySelector('.q-field:has(textarea[data-testid=composer])').getBoundingClientRect();
  const where = [list.left, list.top, field.left, field.top].join();
  const settled = window.__composerLayout === where;  // unchanged since the last poll: Quasar's transitions ended
  window.__composerLayout = where;
  return settled && Math.abs(list.left - field.left) <= 1;
}"""


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_screenshots_of_the_composer_with_the_mention_list_and_a_reply_chip(
        app: AppProcess, browser: Browser, scheme: str, tmp_path: Path) -> None:
    """Real renders at phone and desktop sizes (ROOMS_SHOTS=dir keeps them for a look): the list stays on screen
    and leaves the chip and the text box in sight."""
    room = f'composer-shots-{scheme}'
    contexts = [browser.new_context(color_scheme=scheme, viewport={'width': 1280, 'height': 800}) for _ in range(2)]
    ann, bob = enter(contexts[0], app, room, 'Ann'), enter(contexts[1], app, room, 'Bob Marley')
    answer_only_mentions(ann)
    bob.locator(COMPOSER).fill('Shall we plan the trip to the mountains next weekend? I can drive, and the forecast '
                               'looks good for Saturday.')
    bob.locator(COMPOSER).press('Enter')
    ann.wait_for_selector('[data-testid=message][data-role=user] [data-testid=reply]')
    ann.click('[data-testid=message][data-role=user] [data-testid=reply]')
    ann.locator(COMPOSER).press_sequentially('Sounds good, @')
    ann.wait_for_selector('[data-testid=mention-list]')
    folder = Path(os.environ.get('ROOMS_SHOTS') or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    for width, height in ((390, 844), (1280, 800)):
        ann.set_viewport_size({'width': width, 'height': height})
        # Quasar moves the footer after a resize (the side list goes), and the list follows it each frame
        ann.wait_for_function(LIST_SETTLED_OVER_FIELD, polling=250)
        shown = {name: ann.locator(selector).bounding_box() for name, selector in (
            ('list', '[data-testid=mention-list]'), ('chip', '[data-testid=replying-to]'),
            ('field', '.q-field:has(textarea[data-testid=composer])'), ('ask', '[data-testid=ask-claude]'))}
        assert all(shown.values()), shown
        box = shown['list']
        assert box['x'] >= 0 and box['y'] >= 0 and box['x'] + box['width'] <= width, f'off screen at {width}: {box}'
        assert box['y'] + box['height'] <= shown['chip']['y'] + 1, 'the list leaves the chip and text box in sight'
        assert abs(box['x'] - shown['field']['x']) <= 1, f'the list is not over the text box at {width}'
        assert shown['ask']['x'] + shown['ask']['width'] <= width
        assert option_names(ann) == ['Claude', 'Bob Marley']
        path = folder / f'composer-{scheme}-{width}.png'
        ann.screenshot(path=str(path))
        assert path.stat().st_size > 10_000
    for context in contexts:
        context.close()


# helpers ---------------------------------------------------------------------------------------------------------

def answer_only_mentions(page: Page) -> None:
    """Switch the room to `mention` in its settings dialog, as a person does."""
    page.click('[data-testid=room-settings]')
    page.click('[data-testid=settings-reply-mode]')
    page.click('.q-menu .q-item:has-text("only messages that mention @claude")')
    page.click('[data-testid=settings-save]')
    page.wait_for_selector('[data-testid=reply-mode][data-mode=mention]')
    page.wait_for_selector('[data-testid=room-settings-dialog]', state='detached')


def option_names(page: Page) -> list[str]:
    return page.eval_on_selector_all('[data-testid=mention-option]', 'os => os.map(o => o.dataset.name)')


CONTRAST_JS = '''el => {
  const rgba = (c) => { const v = c.match(/[\\d.]+/g).map(Number); return v.length === 3 ? [...v, 1] : v; };
  const over = (top, below) => top.slice(0, 3).map((c, i) => c * top[3] + below[i] * (1 - top[3]));
  const layers = [];
  for (let node = el; node; node = node.parentElement) {
    const bg = rgba(getComputedStyle(node).backgroundColor);
    if (bg[3] > 0) layers.push(bg);
    if (bg[3] === 1) break;
  }
  let background = [255, 255, 255];
  for (const layer of layers.reverse()) background = over(layer, background);
  const text = over(rgba(getComputedStyle(el).color), background);
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [hi, lo] = [lum(text), lum(background)].sort((a, b) => b - a);
  return (hi + 0.05) / (lo + 0.05);
}'''


def contrast(locator) -> float:  # type: ignore[no-untyped-def]
    """WCAG contrast of an element's text colour against the background it is drawn on."""
    return locator.evaluate(CONTRAST_JS)
