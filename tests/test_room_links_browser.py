"""Room links in Chromium: a room link opens its room and nothing else, and a new link shuts out its open tabs."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browser_support import AppProcess, open_room, running_app, send
from playwright.sync_api import Browser

from chat.links import RoomLinks

TOKEN = 'owner-token-for-links-0123'
OWNER = {'Authorization': f'Bearer {TOKEN}'}

pytestmark = pytest.mark.browser


@pytest.fixture(scope='module')
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    with running_app(tmp_path_factory.mktemp('links') / 'data', '--token', TOKEN, '--model', 'demo') as process:
        yield process


def messages(app: AppProcess, room: str) -> list[dict[str, Any]]:
    return httpx.get(f'{app.url}/api/rooms/{room}/messages', headers=OWNER).json()['messages']


def wait_answered(app: AppProcess, room: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = messages(app, room)
        if len(found) >= 2 and found[-1]['status'] == 'complete':
            return found
        time.sleep(0.05)
    raise TimeoutError(messages(app, room))


def test_a_room_link_opens_its_room_only_and_a_new_link_shuts_its_tabs_out(app: AppProcess, browser: Browser) -> None:
    for room, text in (('alpha', 'the secret of alpha'), ('beta', 'the secret of beta')):
        assert httpx.post(f'{app.url}/api/rooms/{room}/messages', json={'text': text}, headers=OWNER) \
            .status_code == 201
        wait_answered(app, room)
    key = RoomLinks(app.data_dir).key('alpha')
    assert httpx.get(f'{app.url}/api/rooms/alpha', headers=OWNER).json()['share_url'].endswith(f'?token={key}')

    owner_context, guest_context = browser.new_context(), browser.new_context()
    owner = open_room(owner_context, f'{app.url}/room/alpha?token={TOKEN}')
    guest = open_room(guest_context, f'{app.url}/room/alpha?token={key}')
    assert guest.url == f'{app.url}/room/alpha'
    guest.wait_for_selector('text=the secret of alpha')

    # what a guest sees: the room link, no owner link, no new link, no delete
    guest.click('[data-testid=share]')
    guest.wait_for_selector('[data-testid=share-dialog]')
    assert guest.input_value('[data-testid=share-link]').endswith(f'/room/alpha?token={key}')
    assert guest.locator('[data-testid=share-owner-link]').count() == 0
    assert guest.locator('[data-testid=share-renew]').count() == 0
    assert TOKEN not in guest.content()
    guest.keyboard.press('Escape')
    guest.click('[data-testid=room-settings]')
    guest.wait_for_selector('[data-testid=room-settings-dialog]')
    assert guest.locator('[data-testid=delete-room]').count() == 0
    assert guest.locator('[data-testid=settings-new-link]').count() == 0
    guest.keyboard.press('Escape')

    # the guest's socket cannot read another room's text
    beta_id = messages(app, 'beta')[0]['id']
    answer = guest.evaluate('''(id) => new Promise(resolve => window.socket.emit(
        "rooms_sync", {room: "beta", client_id: window.clientId, msgs: [id]}, resolve))''', beta_id)
    assert answer == {'texts': {}}
    other = guest_context.new_page()
    for path in ('/', '/room/beta', '/api/rooms', '/api/search?q=secret'):
        response = other.goto(f'{app.url}{path}')
        assert response is not None and response.status == 403, path
        assert 'secret of beta' not in other.content()
    other.close()

    # the owner makes a new link from the room settings: the guest's open tab is shut out at once
    owner.click('[data-testid=room-settings]')
    owner.click('[data-testid=settings-new-link]')
    owner.wait_for_selector('text=New room link made')
    guest.wait_for_selector('[data-testid=token-required]', timeout=10_000)
    assert 'the secret of alpha' not in guest.content()
    owner.keyboard.press('Escape')
    owner.wait_for_selector('[data-testid=room-settings-dialog]', state='hidden')
    send(owner, 'the owner stays in')
    owner.wait_for_selector('text=the owner stays in')
    assert owner.locator('[data-testid=connection][data-state=live]').count() == 1

    new_key = RoomLinks(app.data_dir).key('alpha')
    assert new_key != key
    back = open_room(guest_context, f'{app.url}/room/alpha?token={new_key}')
    back.wait_for_selector('text=the owner stays in')
    owner_context.close()
    guest_context.close()

