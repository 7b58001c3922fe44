"""The composer through NiceGUI's simulated `user`: whom Claude answers (live in every tab), Send and ask Claude,
the message being replied to, and whom the @ list offers."""
from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable

from nicegui.testing.user import User
from test_room_users import send

from chat.hub import RoomHub
from chat.models import Message, Status
from chat.rooms import Rooms
from chat.ui.room_page import RoomView

EVERY = 'Claude answers every message'
MENTION = 'Claude answers when you write @claude'
Users = tuple[Rooms, Callable[[], User]]


async def test_reply_mode_shows_in_the_composer_and_follows_the_settings_live_in_every_tab(app_users: Users) -> None:
    _, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/modes')
    await bob.open('/room/modes')
    for user in (ann, bob):
        await user.should_see(EVERY, marker='reply-mode')
        await user.should_not_see(marker='ask-claude')

    await choose_reply_mode(ann, 'mention')
    for user in (ann, bob):
        await user.should_see(MENTION, marker='reply-mode')
        await user.should_see(marker='ask-claude')

    await choose_reply_mode(bob, 'every')
    for user in (ann, bob):
        await user.should_see(EVERY, marker='reply-mode')
        await user.should_not_see(marker='ask-claude')


async def test_in_a_mention_room_send_and_ask_claude_gets_a_reply_and_a_plain_send_does_not(app_users: Users) -> None:
    hub, ann = await open_mention_room(app_users, 'asking')
    await send(ann, 'Just talking among ourselves')
    await wait_for(hub, lambda: user_messages(hub) == ['Just talking among ourselves'])
    await asyncio.sleep(0.3)
    assert replies(hub) == [], 'a message that does not address Claude is not answered'

    ann.find(marker='composer').type('What is the capital of France?')
    ann.find(marker='ask-claude').click()
    await wait_for(hub, lambda: len(replies(hub)) == 1 and replies(hub)[0].status == Status.COMPLETE)
    asked = hub.messages[-2]
    assert asked.content == 'What is the capital of France?' and asked.ask_claude
    assert ann.find(marker='composer').elements.pop().value == '', 'sent: the box is empty again'

    ann.find(marker='composer').type('and with the keyboard').trigger('keydown.enter.ctrl.prevent')
    await wait_for(hub, lambda: len(replies(hub)) == 2 and replies(hub)[1].status == Status.COMPLETE)
    assert hub.messages[-2].content == 'and with the keyboard' and hub.messages[-2].ask_claude


async def test_reply_chip_shows_the_quoted_message_can_be_cancelled_and_goes_once_sent(app_users: Users) -> None:
    rooms, new_user = app_users
    hub = await rooms.get('replies')
    hub.configure(reply_mode='mention')  # no model replies in the way
    ann, bob = new_user(), new_user()
    await ann.open('/room/replies')
    await bob.open('/room/replies')
    await send(bob, 'Shall we meet at noon on the bridge?')
    await wait_for(hub, lambda: len(hub.messages) == 1)
    quoted = hub.messages[0]
    await ann.should_not_see(marker='replying-to')

    view_of(ann).reply(quoted)
    await ann.should_see('Replying to Someone: Shall we meet at noon on the bridge?')
    await bob.should_not_see(marker='replying-to')
    ann.find(marker='cancel-reply').click()
    await ann.should_not_see(marker='replying-to')
    assert view_of(ann).replying_to is None

    view_of(ann).reply(quoted)
    await ann.should_see(marker='replying-to')
    await send(ann, 'Yes, see you there')
    await wait_for(hub, lambda: len(hub.messages) == 2)
    assert hub.messages[1].reply_to is not None and hub.messages[1].reply_to['id'] == quoted.id
    await ann.should_not_see(marker='replying-to')
    await send(ann, 'A message of its own')
    await wait_for(hub, lambda: len(hub.messages) == 3)
    assert hub.messages[2].reply_to is None, 'the reply is for one message only'


async def test_a_refused_reply_keeps_the_text_and_the_chip(app_users: Users) -> None:
    """Guards the composer's promise: a message the hub refuses (here: its quote is gone) loses nothing typed."""
    hub, ann = await open_mention_room(app_users, 'refused')
    gone = Message(id='gone', seq=99, role='user', content='a message that is no longer here')
    view_of(ann).reply(gone)
    await send(ann, 'my careful answer')
    await ann.should_see('no longer in the room')
    assert ann.find(marker='composer').elements.pop().value == 'my careful answer'
    await ann.should_see(marker='replying-to')
    assert hub.messages == []


async def test_the_mention_list_offers_the_others_here_by_name(app_users: Users) -> None:
    _, new_user = app_users
    ann, bob, nameless = new_user(), new_user(), new_user()
    for user, name in ((ann, 'Ann'), (bob, 'Bob'), (nameless, None)):
        await user.open('/room/names')
        if name:
            user.find(marker='name-input').type(name)
            user.find(marker='name-save').click()
    await ann.should_see('Bob')
    for _ in range(100):
        if mention_names(ann) == ['Bob'] and mention_names(bob) == ['Ann']:
            break
        await asyncio.sleep(0.01)
    assert mention_names(ann) == ['Bob'], 'not yourself, and nobody without a name'
    assert mention_names(bob) == ['Ann']
    assert mention_names(nameless) == ['Ann', 'Bob']


# helpers ---------------------------------------------------------------------------------------------------------

async def choose_reply_mode(user: User, mode: str) -> None:
    user.find(marker='room-settings').click()
    await user.should_see(marker='settings-reply-mode')
    user.find(marker='settings-reply-mode').elements.pop().set_value(mode)
    user.find(marker='settings-save').click()


def view_of(user: User) -> RoomView:
    """The room view of a user's tab (the page keeps no other handle on it)."""
    views = [o for o in gc.get_objects() if isinstance(o, RoomView) and o.client is user.client]
    assert len(views) == 1
    return views[0]


def mention_names(user: User) -> list[str]:
    assert user.client is not None
    source = next(e for e in user.client.layout.descendants() if e.props.get('data-testid') == 'mention-names')
    return json.loads(source.props['data-names'])


def user_messages(hub: RoomHub) -> list[str]:
    return [m.content for m in hub.messages if m.role == 'user']


def replies(hub: RoomHub) -> list[Message]:
    return [m for m in hub.messages if m.role == 'assistant']


async def wait_for(hub: RoomHub, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f'the room never got there: {[(m.role, m.content[:40]) for m in hub.messages]}')


async def open_mention_room(app_users: Users, room: str) -> tuple[RoomHub, User]:
    """A room that answers only mentions, opened by one person."""
    rooms, new_user = app_users
    hub = await rooms.get(room)
    hub.configure(reply_mode='mention')
    person = new_user()
    await person.open(f'/room/{room}')
    return hub, person
