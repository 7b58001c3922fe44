"""Copy, regenerate, edit and version flipping in the room page, live in a second tab (NiceGUI user simulation)."""
from __future__ import annotations

import asyncio

from test_room_users import send

from chat.hub import RoomHub
from chat.models import Status


async def settle(hub: RoomHub) -> None:
    for _ in range(500):
        if hub._worker is None and hub.messages and hub.messages[-1].status != Status.STREAMING:
            return
        await asyncio.sleep(0.01)
    raise AssertionError('the hub never settled')


async def test_regenerate_shows_versions_in_every_tab_and_flips_back(app_users) -> None:
    rooms, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/versions')
    await bob.open('/room/versions')
    await send(ann, 'first question')
    hub = rooms.open_hub('versions')
    assert hub is not None
    await settle(hub)
    first_reply = hub.messages[-1].content
    ann.find(marker='regenerate').click()
    await asyncio.sleep(0.05)
    await settle(hub)
    await bob.should_see('2 / 2')
    bob.find(marker='version-prev').click()
    await ann.should_see('1 / 2')
    assert hub.messages[-1].content == first_reply
    await ann.should_see(marker='regenerate')


async def test_edit_reruns_the_conversation_and_copy_is_offered(app_users) -> None:
    rooms, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/editing')
    await bob.open('/room/editing')
    await send(ann, 'original words')
    hub = rooms.open_hub('editing')
    assert hub is not None
    await settle(hub)
    await ann.should_see(marker='copy')
    ann.find(marker='edit').click()
    ann.find(marker='edit-input').clear().type('better words')
    ann.find(marker='edit-save').click()
    await asyncio.sleep(0.05)
    await settle(hub)
    assert hub.messages[0].content == 'better words'
    await bob.should_see('better words')
    await bob.should_not_see('original words')
    assert 'better words' in hub.messages[-1].content
