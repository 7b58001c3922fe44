"""Sharing (start message, links, QR, the Share dialog) and people in a room (names, who is here, who is typing)."""
from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Iterator

import httpx
import pytest
from browser_support import AppProcess, chromium, running_app
from playwright.sync_api import Browser, BrowserContext, Page

from chat import share
from chat.config import parse_settings
from chat.links import RoomLinks
from chat.ui.people import clean_name
from chat.ui.presence import TYPING_EXPIRY, TYPING_THROTTLE, Presence, RoomPresence, describe_typing

TOKEN = 'share-token-0123456789'


# the start message ---------------------------------------------------------------------------------------------


def test_share_prints_the_owner_link_room_links_and_a_qr_code() -> None:
    settings = parse_settings(['--share', '--token', TOKEN, '--port', '8123'], environ={})
    links = RoomLinks(None)
    text = share.startup_message(settings, '192.168.1.20', 'newroom', links, ['older', 'old'])
    assert settings.host == '0.0.0.0' and settings.token_required
    assert f'owner link (opens every room; keep it to yourself): http://192.168.1.20:8123/?token={TOKEN}' in text
    for room in ('older', 'old', 'newroom'):
        assert f'http://192.168.1.20:8123/room/{room}?token={links.key(room)}' in text
    assert f'/room/newroom?token={TOKEN}' not in text, 'a room link never carries the owner token'
    assert f'http://localhost:8123/?token={TOKEN}' in text
    qr = share.qr_terminal(f'http://192.168.1.20:8123/?token={TOKEN}')
    assert qr.strip() and qr.rstrip('\n') in text
    assert len(qr.splitlines()) > 10 and set(''.join(qr.split())) <= set('█▀▄ ')


def test_share_with_a_random_token_and_no_lan_address_says_so() -> None:
    settings = parse_settings(['--share'], environ={})
    assert settings.token is not None and len(settings.token) >= 22  # 24 random bytes, url-safe: 192 bits
    text = share.startup_message(settings, None, 'r', RoomLinks(None))
    assert 'no LAN address found' in text and f'?token={settings.token}' in text


def test_token_alone_prints_local_links_and_no_qr() -> None:
    settings = parse_settings(['--token', TOKEN, '--port', '9000'], environ={})
    links = RoomLinks(None)
    text = share.startup_message(settings, share.lan_host(settings), 'abc', links)
    assert settings.host == '127.0.0.1'
    assert f'http://localhost:9000/?token={TOKEN}' in text
    assert f'http://localhost:9000/room/abc?token={links.key("abc")}' in text
    assert '█' not in text


def test_the_startup_message_says_why_the_demo_model_answers() -> None:
    """Regression: it said "no ANTHROPIC_API_KEY set" to someone who set one and chose `--model demo`."""
    keyless = share.startup_message(parse_settings([], environ={}), None, 'abc', RoomLinks(None))
    assert 'replies from: the offline demo model (no ANTHROPIC_API_KEY set)' in keyless
    chosen = share.startup_message(parse_settings(['--model', 'demo'], environ={'ANTHROPIC_API_KEY': 'sk-x'}), None,
                                   'abc', RoomLinks(None))
    assert 'replies from: the offline demo model (--model demo)' in chosen and 'sk-x' not in chosen


def test_no_token_no_token_in_links() -> None:
    settings = parse_settings([], environ={})
    text = share.startup_message(settings, None, 'abc', RoomLinks(None))
    assert 'http://localhost:8080/' in text and 'token' not in text
    assert share.start_path(settings) == '/'
    assert share.room_link(settings, 'x', RoomLinks(None)) == 'http://localhost:8080/room/x'


def test_links_quote_the_token_and_the_native_window_gets_it() -> None:
    settings = parse_settings(['--token', 'a b/c&d=e+f'], environ={})
    assert share.start_path(settings, '/room/x') == '/room/x?token=a%20b%2Fc%26d%3De%2Bf'
    assert share.native_window_url(settings) == 'http://127.0.0.1:8080/?token=a%20b%2Fc%26d%3De%2Bf'


def test_lan_address_is_a_non_loopback_ipv4_of_this_machine_or_none() -> None:
    """Read from the kernel's interface list: nothing is sent anywhere."""
    address = share.lan_address()
    if address is not None:
        parsed = ipaddress.IPv4Address(address)
        assert not parsed.is_loopback and not parsed.is_link_local


# presence, without a browser -------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_typing_reports_are_throttled_and_only_a_start_or_an_end_is_news() -> None:
    clock = Clock()
    room = RoomPresence(clock)
    renders: list[str] = []
    room.join('a', 'Ann', lambda: renders.append('a'))
    room.join('b', 'Bob', lambda: renders.append('b'))
    renders.clear()
    assert room.typing('a')
    assert renders == ['a', 'b'] and room.typing_names() == ['Ann'] and room.typing_names('a') == []
    renders.clear()
    clock.now += TYPING_THROTTLE / 2
    assert not room.typing('a'), 'a second report within the throttle window must be dropped'
    clock.now += TYPING_THROTTLE / 2
    assert room.typing('a')
    assert renders == [], 'still typing: nothing to tell the other tabs'
    clock.now += TYPING_EXPIRY - 0.01
    room.expire()
    assert room.typing_names() == ['Ann'] and renders == []
    clock.now += 0.02
    room.expire()
    assert room.typing_names() == [] and renders == ['a', 'b']
    room.close()


async def test_typing_expires_by_itself_and_sending_ends_it() -> None:
    room = RoomPresence()
    calls: list[int] = []
    room.join('a', 'Ann', lambda: calls.append(1))
    room.typing('a')
    room.stopped_typing('a')
    assert room.typing_names() == []
    assert room.typing('a'), 'typing again right after sending counts at once'
    assert room.typing_names() == ['Ann']
    room.members['a'].typing_until = time.monotonic() + 0.05  # as if reported almost TYPING_EXPIRY ago
    room._schedule_expiry()
    await asyncio.sleep(0.2)
    assert room.typing_names() == []
    room.close()


def test_registry_forgets_empty_rooms_and_names_default_to_someone() -> None:
    presence = Presence()
    room = presence.room('r')
    room.join('a', None, lambda: None)
    room.join('b', 'Bob', lambda: None)
    assert room.names() == ['Someone', 'Bob']
    room.rename('a', 'Ann')
    assert room.names() == ['Ann', 'Bob']
    presence.leave('r', 'a')
    presence.leave('r', 'b')
    assert presence.room('r') is not room, 'an empty room is dropped'


def test_names_are_one_short_line_and_typing_reads_naturally() -> None:
    assert clean_name('  Ann\n\x00Lee  ') == 'Ann Lee'
    assert len(clean_name('x' * 100)) == 40
    assert clean_name('Someone') == ''
    assert describe_typing([]) == ''
    assert describe_typing(['Ann']) == 'Ann is typing…'
    assert describe_typing(['Ann', 'Bob']) == 'Ann and Bob are typing…'
    assert describe_typing(['Ann', 'Bob', 'Cy', 'Di']) == 'Ann, Bob and 2 others are typing…'


# in Chromium -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope='module')
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    # --share binds 0.0.0.0; the test only ever talks to 127.0.0.1
    with running_app(tmp_path_factory.mktemp('share') / 'data', '--share', '--token', TOKEN, '--model', 'demo') \
            as process:
        yield process


@pytest.fixture(scope='module')
def browser() -> Iterator[Browser]:
    with chromium() as instance:
        yield instance


def enter(context: BrowserContext, app: AppProcess, room: str, name: str | None) -> Page:
    page = context.new_page()
    page.goto(f'{app.url}/room/{room}?token={TOKEN}')
    page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=10_000)
    if name is not None:
        page.wait_for_selector('[data-testid=name-prompt]')
        page.fill('[data-testid=name-input]', name)
        page.click('[data-testid=name-save]')
        page.wait_for_selector('[data-testid=name-prompt]', state='hidden')
    return page


@pytest.mark.browser
def test_start_message_shows_the_owner_link_and_room_links(app: AppProcess) -> None:
    lan = share.lan_address()
    if lan is not None:
        assert f'http://{lan}:{app.port}/?token={TOKEN}' in app.log
        assert f'http://{lan}:{app.port}/room/' in app.log and '█' in app.log
        assert '/room/?token=' not in app.log
    else:
        assert 'no LAN address found' in app.log


@pytest.mark.browser
def test_share_dialog_shows_the_lan_link_with_the_token_a_qr_code_and_copies(app: AppProcess,
                                                                             browser: Browser) -> None:
    context = browser.new_context()
    context.grant_permissions(['clipboard-read', 'clipboard-write'], origin=app.url)
    page = enter(context, app, 'shared', 'Sharer')
    page.click('[data-testid=share]')
    page.wait_for_selector('[data-testid=share-dialog]')
    link = page.input_value('[data-testid=share-link]')
    expected_host = share.lan_address() or 'localhost'
    assert link == f'http://{expected_host}:{app.port}/room/shared?token={RoomLinks(app.data_dir).key("shared")}'
    owner_link = page.input_value('[data-testid=share-owner-link]')
    assert owner_link == f'http://{expected_host}:{app.port}/?token={TOKEN}'
    qr = page.locator('[data-testid=share-qr] img')
    assert qr.get_attribute('src') == share.qr_svg_data_uri(link), 'the QR code must encode exactly the link'
    assert qr.evaluate('img => img.complete && img.naturalWidth > 0')
    page.click('[data-testid=share-copy]')
    page.wait_for_selector('text=Link copied')
    assert page.evaluate('navigator.clipboard.readText()') == link
    page.keyboard.press('Escape')
    page.wait_for_selector('[data-testid=share-dialog]', state='detached')
    assert TOKEN not in page.content(), 'the dialog is built on demand and removed when closed'
    context.close()


@pytest.mark.browser
def test_two_browsers_see_each_others_names_presence_and_typing(app: AppProcess, browser: Browser) -> None:
    ann_context, bob_context = browser.new_context(), browser.new_context()
    ann = enter(ann_context, app, 'people', 'Ann')
    bob_frames: list[str] = []
    bob = bob_context.new_page()
    bob.on('websocket', lambda ws: ws.on('framereceived', lambda frame: bob_frames.append(str(frame))))
    bob.goto(f'{app.url}/room/people?token={TOKEN}')
    bob.wait_for_selector('[data-testid=name-prompt]')
    bob.fill('[data-testid=name-input]', 'Bob')
    bob.click('[data-testid=name-save]')
    for page, me, other in ((ann, 'Ann', 'Bob'), (bob, 'Bob', 'Ann')):
        page.wait_for_selector('[data-testid=presence][data-count="2"]')
        here = page.inner_text('[data-testid=presence]')
        assert f'{me} (you)' in here and other in here, here
        assert page.inner_text('[data-testid=my-name]').endswith(me)

    # typing: shown live in the other browser, throttled on the wire, gone once sent
    frames_before = len(bob_frames)
    composer = ann.locator('textarea[data-testid=composer]')
    composer.press_sequentially('hello from ann, typing slowly', delay=100)  # ~3 s of keystrokes
    bob.wait_for_selector('[data-testid=typing]:has-text("Ann is typing…")')
    assert ann.inner_text('[data-testid=typing]') == '', 'nobody is told about their own typing'
    typing_frames = [f for f in bob_frames[frames_before:] if 'is typing' in f]
    assert 1 <= len(typing_frames) <= 2, f'typing must not flood the socket: {len(typing_frames)} updates'
    composer.press('Enter')
    bob.wait_for_selector('[data-testid=typing]:text-is("")', state='attached')
    bob.locator('textarea[data-testid=composer]').fill('and Bob answers')
    bob.locator('textarea[data-testid=composer]').press('Enter')

    for page in (ann, bob):
        page.wait_for_selector('[data-testid=message][data-role=user]:has-text("and Bob answers")')
        authors = page.locator('[data-testid=message][data-role=user] [data-testid=message-author]').all_inner_texts()
        assert authors == ['Ann', 'Bob'], authors
    stored = httpx.get(f'{app.url}/api/rooms/people/messages', headers={'Authorization': f'Bearer {TOKEN}'})
    assert [m['author'] for m in stored.json()['messages'] if m['role'] == 'user'] == ['Ann', 'Bob']

    # the name is asked once per browser; it can be changed from the header, and everyone sees the change
    ann.reload()
    ann.wait_for_selector('[data-testid=connection][data-state=live]')
    assert not ann.locator('[data-testid=name-prompt]').is_visible()
    assert ann.inner_text('[data-testid=my-name]').endswith('Ann')
    ann.click('[data-testid=my-name]')
    ann.fill('[data-testid=name-input]', 'Annie')
    ann.press('[data-testid=name-input]', 'Enter')
    bob.wait_for_selector('[data-testid=presence]:has-text("Annie")')

    # leaving is seen too
    ann_context.close()
    bob.wait_for_selector('[data-testid=presence][data-count="1"]', timeout=15_000)
    bob_context.close()


@pytest.mark.browser
def test_typing_indicator_expires_when_typing_stops(app: AppProcess, browser: Browser) -> None:
    ann_context, bob_context = browser.new_context(), browser.new_context()
    ann = enter(ann_context, app, 'pause', 'Ann')
    bob = enter(bob_context, app, 'pause', 'Bob')
    ann.locator('textarea[data-testid=composer]').press_sequentially('thinking')
    bob.wait_for_selector('[data-testid=typing]:has-text("Ann is typing…")')
    started = time.monotonic()
    bob.wait_for_selector('[data-testid=typing]:text-is("")', state='attached', timeout=10_000)
    assert TYPING_EXPIRY - 1 < time.monotonic() - started < TYPING_EXPIRY + 3
    ann_context.close()
    bob_context.close()


@pytest.mark.browser
def test_first_visit_prompt_is_not_a_modal(app: AppProcess, browser: Browser) -> None:
    """The name prompt must not block the room: a newcomer can read and send before picking a name."""
    context = browser.new_context()
    page = enter(context, app, 'first', None)
    assert page.locator('[data-testid=name-prompt]').is_visible()
    page.locator('textarea[data-testid=composer]').fill('no name yet')
    page.locator('textarea[data-testid=composer]').press('Enter')
    page.wait_for_selector('[data-testid=message][data-role=user]:has-text("no name yet")')
    assert page.inner_text('[data-testid=message][data-role=user] [data-testid=message-author]') == 'Someone'
    page.click('[data-testid=name-later]')
    assert not page.locator('[data-testid=name-prompt]').is_visible()
    context.close()
