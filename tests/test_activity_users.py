"""Who changed the room for everyone, as every tab sees it (NiceGUI's simulated users)."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest
from nicegui.testing.user import User
from test_room_users import send, simulated_app

from chat.config import Settings
from chat.models import Status
from chat.rooms import Rooms

Users = tuple[Rooms, Callable[[], User]]


@pytest.fixture
async def app_users(settings: Settings) -> AsyncIterator[Users]:
    async with simulated_app(replace(settings, demo_delay=0.05)) as result:  # a slow reply: time to stop it
        yield result


async def named(new_user: Callable[[], User], room: str, name: str) -> User:
    user = new_user()
    await user.open(f'/room/{room}')
    user.find(marker='name-input').type(name)
    user.find(marker='name-save').click()
    return user


async def test_a_stop_says_who_stopped_it_in_every_tab_and_only_the_author_may_edit(app_users: Users) -> None:
    rooms, new_user = app_users
    ann = await named(new_user, 'who', 'Ann')
    bob = await named(new_user, 'who', 'Bob')
    await send(ann, 'tell me a long story')
    hub = rooms.open_hub('who')
    assert hub is not None
    for _ in range(500):
        if hub.streaming is not None and hub.streaming.content:
            break
        await asyncio.sleep(0.01)
    bob.find(marker='stop').click()
    for _ in range(500):
        if hub.messages[-1].status == Status.STOPPED:
            break
        await asyncio.sleep(0.01)
    assert hub.messages[-1].activity == 'stopped by Bob'
    for user in (ann, bob):
        await user.should_see('stopped by Bob')
    assert any(user.notify.contains('Bob stopped the reply') for user in (ann, bob)), 'the notification'
    assert hub.messages[0].author_id is not None
    with pytest.raises(AssertionError):
        await bob.should_see(marker='edit', retries=2)  # Bob sees no Edit on Ann's message (nor on the reply)
    await ann.should_see(marker='edit')
