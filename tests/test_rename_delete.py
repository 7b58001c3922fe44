"""Rename and delete rooms: the title changes everywhere, a deleted room's file goes to trash/ and its tabs are told."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import ScriptedModel, wait_idle
from test_hub import make_rooms
from test_room_users import send

from chat.config import Settings
from chat.errors import MessageRejected
from chat.events import RoomEvent


async def test_delete_moves_the_file_to_trash_tells_subscribers_and_refuses_more(
        settings: Settings, model: ScriptedModel, tmp_path: Path) -> None:
    rooms = make_rooms(settings, model, tmp_path)
    hub = await rooms.get('doomed')
    await hub.post('last words')
    await wait_idle(hub)
    events: list[RoomEvent] = []
    hub.subscribe(events.append)
    await rooms.delete('doomed')
    assert [e.kind for e in events][-1] == 'deleted'
    assert not (tmp_path / 'doomed.json').exists()
    trashed = list((tmp_path / 'trash').glob('doomed-*.json'))
    assert len(trashed) == 1 and 'last words' in trashed[0].read_text()
    with pytest.raises(MessageRejected, match='deleted'):
        await hub.post('anyone?')
    assert 'doomed' not in [s.id for s in await rooms.summaries()]
    fresh = await rooms.get('doomed')
    assert fresh.messages == [], 'the id can start a new room'


async def test_rename_and_delete_from_the_home_page(app_users) -> None:
    rooms, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/club')
    await send(ann, 'hello there')
    hub = rooms.open_hub('club')
    assert hub is not None
    await wait_idle(hub)
    await bob.open('/room/club')
    home = new_user()
    await home.open('/')
    home.find(marker='rename-club').click()
    home.find(marker='rename-input').clear().type('Book club')
    home.find(marker='rename-save').click()
    await bob.should_see('Book club')
    await home.open('/')
    home.find(marker='delete-club').click()
    home.find(marker='delete-confirm').click()
    await asyncio.sleep(0.1)
    await bob.should_see('This room was deleted')


async def test_delete_from_the_room_asks_first_and_every_tab_is_told(app_users) -> None:
    rooms, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/gone')
    await send(ann, 'soon gone')
    await bob.open('/room/gone')
    ann.find(marker='room-settings').click()
    await asyncio.sleep(0.05)
    ann.find(marker='delete-room').click()
    hub = rooms.open_hub('gone')
    assert hub is not None and not hub.deleted, 'nothing happens before the confirmation'
    ann.find(marker='delete-confirm').click()
    await bob.should_see('This room was deleted')
    await ann.should_see('This room was deleted')
    assert rooms.open_hub('gone') is None
