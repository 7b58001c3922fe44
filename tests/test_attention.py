"""The room switcher and the activity registry behind it, through NiceGUI's simulated `user`: which rooms a tab lists,
in which order, and how the list follows what happens in other rooms."""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from nicegui import ui
from nicegui.testing.user import User
from test_room_users import SilentModel, simulated_app

from chat.config import Settings
from chat.hub import RoomHub
from chat.links import RoomLinks
from chat.rooms import Rooms
from chat.ui.switcher import RoomActivity, registry_of

TOKEN = 'owner-token-attention-0123'

Users = tuple[Rooms, Callable[[], User]]


async def quiet_room(rooms: Rooms, room_id: str, *texts: str) -> RoomHub:
    """A room holding `texts` as messages nobody answers."""
    hub = await rooms.get(room_id)
    hub._model_for = lambda _name: SilentModel()
    for text in texts:
        await hub.post(text, author='Bob')
    return hub


def listed(user: User) -> list[str]:
    """The room ids the user's switcher lists, top first."""
    room_list = user.find(marker='room-switcher').elements.pop()
    return [item.props['data-room-id'] for item in room_list.default_slot.children]


def item_of(user: User, room_id: str) -> ui.link:
    return next(item for item in user.find(marker='switcher-room').elements if item.props['data-room-id'] == room_id)


def scripts_of(user: User) -> list[str]:
    """The JavaScript the page sends this user's tab from now on."""
    assert user.client is not None
    sent: list[str] = []
    emit = user.client.outbox._emit

    async def recording(message):  # type: ignore[no-untyped-def]
        if message[1] == 'run_javascript':
            sent.append(message[2]['code'])
        await emit(message)
    user.client.outbox._emit = recording  # type: ignore[method-assign]
    return sent


async def until(condition: Callable[[], object], timeout: float = 3.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError('the condition never held')


async def test_the_registry_hears_every_room_without_keeping_it_open(app_users: Users) -> None:
    """Guards eviction: the registry hears a hub through its relay, so a room nobody shows still counts as idle."""
    rooms, _ = app_users
    early = await quiet_room(rooms, 'early')  # opened before the registry existed
    text_relay = early.events.relay
    registry = registry_of(rooms)
    heard: list[RoomActivity] = []
    registry.listen(heard.append)
    registry.watch(early)
    registry.watch(early)  # once, however often asked
    later = await quiet_room(rooms, 'later')  # opened after: heard through rooms.on_open
    await early.post('first words of early', author='Bob')
    await later.post('first words of later', author='Ann')
    later.configure(title='Renamed later')
    assert [(a.summary.id, a.message.content if a.message else None) for a in heard] == [
        ('early', 'first words of early'), ('later', 'first words of later'), ('later', None)]
    assert heard[-1].summary.title == 'Renamed later' and heard[0].summary.message_count == 1
    assert early.subscriber_count == 0 and later.subscriber_count == 0
    await early.flush()
    assert early.is_idle, 'nobody shows the room: it may be closed'
    assert text_relay is None or early.events.relay is not text_relay, 'the text relay is kept, after the registry'
    await rooms.delete('later')
    assert heard[-1].deleted and heard[-1].summary.id == 'later'
    assert registry_of(rooms) is registry


async def test_the_switcher_lists_rooms_most_recent_first_and_marks_the_current_one(app_users: Users) -> None:
    rooms, new_user = app_users
    for room_id in ('oldest', 'middle', 'newest'):
        await quiet_room(rooms, room_id, f'hello from {room_id}')
    ann = new_user()
    await ann.open('/room/middle')
    assert listed(ann) == ['newest', 'middle', 'oldest']
    assert item_of(ann, 'middle').props.get('aria-current') == 'page'
    assert 'aria-current' not in item_of(ann, 'newest').props
    assert item_of(ann, 'oldest').props['href'] == '/room/oldest'
    assert float(item_of(ann, 'newest').props['data-at']) > float(item_of(ann, 'middle').props['data-at'])
    await ann.should_see('hello from oldest')  # the title of a room: its first words
    ann.find(marker='room-switcher-button')  # the drawer's button in the header

    bob = new_user()
    await bob.open('/room/brand-new')  # an empty room is listed at once, for the tab that shows it
    assert listed(bob) == ['brand-new', 'newest', 'middle', 'oldest']
    await bob.should_see('New room')
    (await rooms.get('middle')).configure(title='Middle, renamed')
    await bob.should_see('Middle, renamed')
    assert listed(bob) == ['brand-new', 'newest', 'middle', 'oldest'], 'a new title moves no room'
    await (await rooms.get('oldest')).post('news in the oldest room', author='Carl')
    await until(lambda: listed(bob) == ['brand-new', 'oldest', 'newest', 'middle'])
    await (await rooms.get('brand-new')).post('the first message here', author='Carl')
    await until(lambda: listed(bob) == ['brand-new', 'oldest', 'newest', 'middle'])
    assert float(item_of(bob, 'brand-new').props['data-at']) > float(item_of(bob, 'oldest').props['data-at'])


async def test_the_switcher_follows_other_rooms_live(app_users: Users) -> None:
    rooms, new_user = app_users
    for room_id in ('here', 'elsewhere'):
        await quiet_room(rooms, room_id, f'hello from {room_id}')
    ann = new_user()
    await ann.open('/room/here')
    assert listed(ann) == ['elsewhere', 'here']
    before = float(item_of(ann, 'elsewhere').props['data-at'])

    here = rooms.open_hub('here')
    assert here is not None
    await here.post('news here', author='Bob')
    await until(lambda: listed(ann) == ['here', 'elsewhere'])
    await (await quiet_room(rooms, 'elsewhere')).post('news elsewhere', author='Bob')
    await until(lambda: listed(ann) == ['elsewhere', 'here'])
    assert float(item_of(ann, 'elsewhere').props['data-at']) > before, 'the newest message time goes to the tab'

    await quiet_room(rooms, 'fresh', 'a room born while Ann looks')
    await until(lambda: listed(ann) == ['fresh', 'elsewhere', 'here'])
    await ann.should_see('a room born while Ann looks')
    (await rooms.get('elsewhere')).configure(title='A better title')
    await ann.should_see('A better title')
    assert listed(ann) == ['fresh', 'elsewhere', 'here'], 'a new title does not move a room'
    await rooms.delete('fresh')
    await until(lambda: listed(ann) == ['elsewhere', 'here'])
    await ann.should_not_see('a room born while Ann looks')


async def test_the_tab_hears_each_message_of_its_room_once_and_which_are_its_own(app_users: Users) -> None:
    """attention.js counts a reply once, when it is added, not per streamed piece; a person's own messages never
    count."""
    rooms, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/talk')
    await bob.open('/room/talk')
    await (await quiet_room(rooms, 'other')).post('not this room', author='Carl')
    sent = scripts_of(ann)
    hub = rooms.open_hub('talk')
    assert hub is not None
    for user, text in ((ann, 'from Ann'), (bob, 'from Bob')):
        count = len(hub.messages)
        user.find(marker='composer').type(text).trigger('keydown.enter.exact.prevent')
        await until(lambda count=count: len(hub.messages) == count + 2 and hub.messages[-1].status == 'complete')
    await until(lambda: len([s for s in sent if 'roomsAttention?.added' in s]) == 4)
    added = [s for s in sent if 'roomsAttention?.added' in s]
    ids = [m.id for m in hub.messages]
    assert [f'"{i}"' in script for script, i in zip(added, ids, strict=True)] == [True] * 4
    mine = [script.endswith('true])') for script in added]
    assert mine == [True, False, False, False], 'only the message Ann wrote is hers (replies are Claude\'s)'


async def test_a_room_link_tab_lists_no_other_room(settings: Settings) -> None:
    async with simulated_app(replace(settings, token=TOKEN)) as (rooms, new_user):
        await quiet_room(rooms, 'open-to-guest', 'the guest room')
        await quiet_room(rooms, 'private', 'the private room')
        key = RoomLinks(settings.data_dir).key('open-to-guest')
        guest = new_user()
        await guest.open(f'/room/open-to-guest?token={key}')
        await guest.should_see('the guest room')
        await guest.should_not_see(marker='room-switcher')
        await guest.should_not_see(marker='room-switcher-button')
        await guest.should_not_see('the private room')
        owner = new_user()
        await owner.open(f'/room/open-to-guest?token={TOKEN}')
        assert listed(owner) == ['private', 'open-to-guest']
