"""Two people in two Chromium contexts: reactions, replies that quote, mentions of you, edit rights, screenshots."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import AppProcess, enter, running_app, send
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

pytestmark = pytest.mark.browser


@pytest.fixture(scope='module')
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """The app answering with the offline demo model."""
    with running_app(tmp_path_factory.mktemp('people') / 'data', '--model', 'demo') as process:
        yield process


@pytest.fixture
def two(browser: Browser) -> Iterator[tuple[BrowserContext, BrowserContext]]:
    """Ann's browser and Bob's: each its own cookies, so its own participant id and name."""
    contexts = browser.new_context(), browser.new_context()
    yield contexts
    for context in contexts:
        context.close()


def test_reactions_are_live_toggled_per_person_and_pressed_for_your_own(app: AppProcess, two) -> None:
    ann, bob = enter(two[0], app, 'reacts', 'Ann'), enter(two[1], app, 'reacts', 'Bob')
    send(ann, 'Hello from Ann')
    messages = app.wait_for('reacts', lambda ms: len(ms) == 2 and ms[1]['status'] == 'complete')
    hello, answer = messages[0]['id'], messages[1]['id']
    react(ann, hello, '👍')
    expect(chip(bob, hello, '👍')).to_have_attribute('data-count', '1')
    expect(chip(bob, hello, '👍')).to_have_attribute('aria-pressed', 'false')
    expect(chip(bob, hello, '👍')).to_have_attribute('title', 'Ann')
    expect(chip(ann, hello, '👍')).to_have_attribute('aria-pressed', 'true')
    expect(chip(bob, hello, '👍')).to_contain_text('👍 1')
    chip(bob, hello, '👍').click()
    for page in (ann, bob):
        expect(chip(page, hello, '👍')).to_have_attribute('data-count', '2')
        expect(chip(page, hello, '👍')).to_have_attribute('title', 'Ann, Bob')
    expect(chip(bob, hello, '👍')).to_have_attribute('aria-pressed', 'true')
    chip(ann, hello, '👍').click()
    for page in (ann, bob):
        expect(chip(page, hello, '👍')).to_have_attribute('data-count', '1')
        expect(chip(page, hello, '👍')).to_have_attribute('title', 'Bob')
    expect(chip(ann, hello, '👍')).to_have_attribute('aria-pressed', 'false')
    react(bob, answer, '🎉')  # Claude's replies take reactions too
    expect(chip(ann, answer, '🎉')).to_have_attribute('data-count', '1')
    assert app.messages('reacts')[1]['reactions'] == {'🎉': ['Bob']}
    for page in (ann, bob):
        assert page.page_errors == []  # type: ignore[attr-defined]


def test_the_picker_works_from_the_keyboard_and_esc_closes_only_it(app: AppProcess, two) -> None:
    ann, bob = enter(two[0], app, 'keys', 'Ann'), enter(two[1], app, 'keys', 'Bob')
    send(ann, 'first words')
    first = app.wait_for('keys', lambda ms: len(ms) == 2 and ms[1]['status'] == 'complete')[0]['id']
    button = in_message(ann, first, 'react')
    expect(button).to_have_attribute('aria-label', 'Add a reaction')
    button.focus()
    ann.keyboard.press('Enter')
    picker = ann.locator('.q-menu [data-testid=pick-reaction]')
    expect(picker).to_have_count(8)
    for emoji_button in picker.all():
        assert (emoji_button.get_attribute('aria-label') or '').startswith('React with ')
    expect(ann.locator('.q-menu')).to_be_focused()
    ann.keyboard.press('Tab')
    focused = ann.evaluate('document.activeElement.getAttribute("data-emoji")')
    assert focused, 'Tab moves into the picker'
    ann.keyboard.press('Enter')
    expect(chip(bob, first, focused)).to_have_attribute('data-count', '1')
    expect(ann.locator('.q-menu')).to_have_count(0)
    send(bob, 'a question that gets a streamed answer')
    app.wait_for('keys', lambda ms: len(ms) == 4 and ms[3]['status'] == 'streaming')
    in_message(ann, first, 'react').click()
    expect(picker).to_have_count(8)
    ann.keyboard.press('Escape')
    expect(ann.locator('.q-menu')).to_have_count(0)
    assert app.wait_for('keys', lambda ms: ms[3]['status'] != 'streaming')[3]['status'] == 'complete', \
        'Esc in the picker closes it and does not stop the reply'


def test_a_reply_quotes_links_back_and_stands_out_for_the_quoted_author(app: AppProcess, two) -> None:
    ann, bob = enter(two[0], app, 'quotes', 'Ann'), enter(two[1], app, 'quotes', 'Bob')
    send(ann, 'Shall we meet at noon on Friday?')
    app.wait_for('quotes', lambda ms: len(ms) == 2 and ms[1]['status'] == 'complete')
    send(bob, 'Anyone else, @Ann?')
    messages = app.wait_for('quotes', lambda ms: len(ms) == 4 and ms[3]['status'] == 'complete')
    question, mention = messages[0]['id'], messages[2]['id']
    in_message(bob, question, 'reply').click()
    send(bob, 'Friday works for me')
    messages = app.wait_for('quotes', lambda ms: len(ms) >= 5)
    answer = messages[4]['id']
    for page in (ann, bob):
        quote = in_message(page, answer, 'reply-quote')
        expect(quote).to_have_attribute('href', f'#m-{question}')
        expect(quote).to_contain_text('Ann:')
        expect(quote).to_contain_text('Shall we meet at noon on Friday?')
    expect(message(ann, answer)).to_have_attribute('data-mention', 'true')
    expect(message(ann, mention)).to_have_attribute('data-mention', 'true')
    expect(message(bob, answer)).to_have_attribute('data-mention', 'false')
    expect(message(ann, question)).to_have_attribute('data-mention', 'false')
    accent = message(ann, answer).evaluate(  # on the bubble the text is in
        "e => getComputedStyle(e.querySelector('[data-testid=message-content]').parentElement).borderLeftWidth")
    assert accent == '4px', 'a visible accent, not only an attribute'
    ann.evaluate('window.scrollTo(0, document.body.scrollHeight)')
    in_message(ann, answer, 'reply-quote').click()
    expect(message(ann, question)).to_have_attribute('data-anchored', '')
    assert ann.url.endswith(f'#m-{question}')
    ann.reload()
    ann.wait_for_selector('[data-testid=connection][data-state=live]')
    expect(message(ann, answer)).to_have_attribute('data-mention', 'true')


def test_edit_is_offered_only_on_your_own_messages(app: AppProcess, two) -> None:
    ann, bob = enter(two[0], app, 'rights', 'Ann'), enter(two[1], app, 'rights', 'Bob')
    send(ann, 'Ann wrote this')
    app.wait_for('rights', lambda ms: len(ms) == 2 and ms[1]['status'] == 'complete')
    send(bob, 'Bob wrote that')
    messages = app.wait_for('rights', lambda ms: len(ms) == 4 and ms[3]['status'] == 'complete')
    by_ann, claude, by_bob = messages[0]['id'], messages[1]['id'], messages[2]['id']
    for page, own, other in ((ann, by_ann, by_bob), (bob, by_bob, by_ann)):
        expect(in_message(page, own, 'edit')).to_have_count(1)
        expect(in_message(page, other, 'reply')).to_have_count(1)
        expect(in_message(page, other, 'edit')).to_have_count(0)
        expect(in_message(page, claude, 'edit')).to_have_count(0)
        expect(in_message(page, claude, 'react')).to_have_count(1)


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_screenshots_of_reactions_quotes_and_mentions(app: AppProcess, browser: Browser, scheme: str,
                                                      tmp_path: Path) -> None:
    """Real renders at phone and desktop sizes (ROOMS_SHOTS=dir keeps them for a look)."""
    room = f'shots-{scheme}'
    contexts = [browser.new_context(color_scheme=scheme, viewport={'width': 1280, 'height': 800})
                for _ in range(2)]
    try:
        ann, bob = enter(contexts[0], app, room, 'Ann'), enter(contexts[1], app, room, 'Bob Marley')
        send(ann, 'Shall we meet at noon on Friday? I can book the big room on the second floor.')
        first = app.wait_for(room, lambda ms: len(ms) == 2 and ms[1]['status'] == 'complete')
        react(bob, first[0]['id'], '👍')
        react(ann, first[0]['id'], '👍')
        react(bob, first[0]['id'], '🎉')
        react(ann, first[1]['id'], '🤔')
        in_message(bob, first[0]['id'], 'reply').click()
        send(bob, 'Friday works for me, @Ann. Noon is a bit early though.')
        reply = app.wait_for(room, lambda ms: len(ms) == 4 and ms[3]['status'] == 'complete')[2]['id']
        expect(ann.locator('[data-testid=reply-quote]')).to_have_count(1)
        expect(chip(ann, first[0]['id'], '🎉')).to_have_count(1)
        if scheme == 'dark':
            ann.evaluate("localStorage.setItem('rooms-theme', 'dark')")
            ann.reload()
            ann.wait_for_selector('body.body--dark [data-testid=connection][data-state=live]')
        folder = Path(os.environ.get('ROOMS_SHOTS') or tmp_path)
        folder.mkdir(parents=True, exist_ok=True)
        for width, height in ((390, 844), (1280, 800)):
            ann.set_viewport_size({'width': width, 'height': height})
            for shown, block in ((first[0]['id'], 'start'), (reply, 'center')):
                message(ann, shown).evaluate('(e, block) => e.scrollIntoView({block})', block)
                ann.wait_for_timeout(300)
                path = folder / f'people-{scheme}-{width}-{block}.png'
                ann.screenshot(path=str(path))
                assert path.stat().st_size > 10_000
        in_message(ann, first[0]['id'], 'react').click()
        expect(ann.locator('.q-menu [data-testid=pick-reaction]')).to_have_count(8)
        ann.wait_for_timeout(300)
        ann.screenshot(path=str(folder / f'people-{scheme}-picker.png'))
    finally:
        for context in contexts:
            context.close()


# helpers ---------------------------------------------------------------------------------------------------------


def message(page: Page, message_id: str) -> Locator:
    return page.locator(f'[data-testid=message][data-message-id="{message_id}"]')


def in_message(page: Page, message_id: str, testid: str) -> Locator:
    return message(page, message_id).locator(f'[data-testid={testid}]')


def chip(page: Page, message_id: str, emoji: str) -> Locator:
    return message(page, message_id).locator(f'[data-testid=reaction][data-emoji="{emoji}"]')


def react(page: Page, message_id: str, emoji: str) -> None:
    in_message(page, message_id, 'react').click()
    page.locator(f'.q-menu [data-testid=pick-reaction][data-emoji="{emoji}"]').click()
    expect(page.locator('.q-menu')).to_have_count(0)
