"""People in the message view (NiceGUI user simulation): reaction chips, replies that quote, mentions of you."""
from __future__ import annotations

import asyncio

from nicegui import ui
from nicegui.testing.user import User
from nicegui.testing.user_interaction import UserInteraction
from test_room_users import send

from chat.hub import RoomHub
from chat.rooms import Rooms
from chat.ui.message_view import mentions


def test_a_mention_is_at_and_the_whole_name_in_any_case() -> None:
    for text in ('@Ann look', 'hi @ann!', '(@ANN)', 'see @Ann.', '@ann, @bob'):
        assert mentions(text, 'Ann'), text
    for text in ('Ann, look', '@Annabel', 'mail ann@example.org', 'x@Ann', '@An n'):
        assert not mentions(text, 'Ann'), text
    assert mentions('thanks @Ann   Lee for this', 'Ann Lee') and mentions('@ann\nlee', 'Ann Lee')
    assert not mentions('@Ann alone', 'Ann Lee') and not mentions('@Ann', '  ')
    assert mentions('ping @J.R.', 'J.R.') and not mentions('ping @JxR.', 'J.R.'), 'a name is text, not a pattern'


async def test_reactions_toggle_per_person_live_in_both_tabs(app_users) -> None:
    rooms, new_user = app_users
    ann, bob = await person(new_user, 'Ann'), await person(new_user, 'Bob')
    hub = await quiet_room(rooms, 'reacts', ann, bob)
    await send(ann, 'Hello all')
    await bob.should_see('Hello all')
    message = hub.messages[0]
    assert chips(ann, message.id) == []
    in_message(bob, message.id, 'pick-reaction', '👍').click()
    await eventually(lambda: chips(ann, message.id) == [('👍', '1', 'false', 'Bob')])
    assert chips(bob, message.id) == [('👍', '1', 'true', 'Bob')], "Bob's own reaction is pressed for him"
    in_message(ann, message.id, 'reaction').click()
    await eventually(lambda: chips(bob, message.id) == [('👍', '2', 'true', 'Bob, Ann')])
    assert chips(ann, message.id) == [('👍', '2', 'true', 'Bob, Ann')]
    in_message(ann, message.id, 'pick-reaction', '🎉').click()
    await eventually(lambda: [chip[0] for chip in chips(bob, message.id)] == ['👍', '🎉'])
    in_message(bob, message.id, 'reaction', '👍').click()
    await eventually(lambda: chips(ann, message.id) == [('👍', '1', 'true', 'Ann'), ('🎉', '1', 'true', 'Ann')])
    assert hub.messages[0].reactions == {'👍': {message.author_id: 'Ann'}, '🎉': {message.author_id: 'Ann'}}


async def test_chips_are_not_rebuilt_when_nothing_about_them_changed(app_users) -> None:
    """Guards against every 'updated' event (a status change, another reaction) re-sending a message's chips."""
    rooms, new_user = app_users
    ann = await person(new_user, 'Ann')
    hub = await quiet_room(rooms, 'steady', ann)
    await send(ann, 'first')
    await send(ann, 'second')
    first, second = hub.messages
    in_message(ann, first.id, 'pick-reaction', '👀').click()
    await eventually(lambda: len(chips(ann, first.id)) == 1)
    chip = next(iter(in_message(ann, first.id, 'reaction').elements))
    hub._changed(first)
    in_message(ann, second.id, 'pick-reaction', '👍').click()
    await eventually(lambda: len(chips(ann, second.id)) == 1)
    assert next(iter(in_message(ann, first.id, 'reaction').elements)) is chip


async def test_a_reply_quotes_its_message_and_stands_out_for_that_messages_author(app_users) -> None:
    rooms, new_user = app_users
    ann, bob = await person(new_user, 'Ann'), await person(new_user, 'Bob')
    hub = await quiet_room(rooms, 'replies', ann, bob)
    await send(ann, 'Lunch at noon?')
    await bob.should_see('Lunch at noon?')
    quoted = hub.messages[0]
    in_message(bob, quoted.id, 'reply').click()
    await send(bob, 'Noon is fine')
    await ann.should_see('Noon is fine')
    reply = hub.messages[1]
    assert reply.reply_to is not None and reply.reply_to['id'] == quoted.id
    for user in (ann, bob):
        quote = next(iter(in_message(user, reply.id, 'reply-quote').elements))
        assert isinstance(quote, ui.link) and quote.props['href'] == f'#m-{quoted.id}'
        assert texts(quote) == ['Ann:', 'Lunch at noon?']
    assert mention_of(ann, reply.id) == 'true', 'a reply to her message stands out for Ann'
    assert mention_of(bob, reply.id) == 'false' and mention_of(ann, quoted.id) == 'false'
    await ann.open('/room/replies')  # built again, history first: the highlight does not wait for an update
    assert mention_of(ann, reply.id) == 'true'


async def test_a_mention_of_your_name_stands_out_for_you_only(app_users) -> None:
    rooms, new_user = app_users
    ann, bob = await person(new_user, 'Ann Lee'), await person(new_user, 'Bob')
    hub = await quiet_room(rooms, 'mentions', ann, bob)
    await send(bob, 'what do you think, @ann lee?')
    await send(bob, 'and @Annabel?')
    await send(ann, 'I think @Ann Lee agrees')
    await bob.should_see('I think')
    to_ann, to_annabel, own = hub.messages
    await eventually(lambda: mention_of(ann, to_ann.id) == 'true')
    assert mention_of(bob, to_ann.id) == 'false'
    assert mention_of(ann, to_annabel.id) == 'false' and mention_of(ann, own.id) == 'false', 'not Ann, or her own'
    await ann.open('/room/mentions')
    assert mention_of(ann, to_ann.id) == 'true' and mention_of(ann, to_annabel.id) == 'false'


async def test_edit_is_offered_on_your_own_messages_only_reply_and_react_on_all(app_users) -> None:
    rooms, new_user = app_users
    ann, bob = await person(new_user, 'Ann'), await person(new_user, 'Bob')
    await ann.open('/room/rights')
    await bob.open('/room/rights')
    await send(ann, 'my words')
    hub = rooms.open_hub('rights')
    assert hub is not None
    for _ in range(500):
        if len(hub.messages) == 2 and hub._worker is None:
            break
        await asyncio.sleep(0.01)
    mine, claudes = hub.messages
    await bob.should_see('Demo model')
    assert markers(ann, mine.id) >= {'edit', 'reply', 'react', 'copy'}
    assert 'edit' not in markers(bob, mine.id) and {'reply', 'react'} <= markers(bob, mine.id)
    for user in (ann, bob):
        assert 'edit' not in markers(user, claudes.id) and {'reply', 'react'} <= markers(user, claudes.id)
    in_message(bob, claudes.id, 'pick-reaction', '✅').click()
    await eventually(lambda: chips(ann, claudes.id) == [('✅', '1', 'false', 'Bob')])


# helpers ---------------------------------------------------------------------------------------------------------


async def person(new_user, name: str) -> User:  # type: ignore[no-untyped-def]
    """A user whose browser already picked a display name (the name cookie the first-visit prompt sets)."""
    user = new_user()
    user.http_client.cookies.set('rooms_name', name.replace(' ', '%20'))
    return user


async def quiet_room(rooms: Rooms, room: str, *users: User) -> RoomHub:
    """The room opened by `users`, where Claude answers only when mentioned (only people's messages in it)."""
    hub = await rooms.get(room)
    hub.configure(reply_mode='mention')
    for user in users:
        await user.open(f'/room/{room}')
    return hub


def frame_of(user: User, message_id: str) -> ui.element:
    assert user.client is not None
    return next(e for e in user.client.layout.descendants() if e.props.get('data-message-id') == message_id)


def in_message(user: User, message_id: str, marker: str, emoji: str | None = None) -> UserInteraction:
    if marker == 'pick-reaction':  # the picker's emoji are made when it opens: open it as the browser does
        for menu in in_message(user, message_id, 'reaction-picker').elements:
            menu.open()  # type: ignore[attr-defined]
    found = {e for e in frame_of(user, message_id).descendants()
             if marker in e._markers and (emoji is None or e.props.get('data-emoji') == emoji)}
    assert found, f'no {marker} {emoji or ""} in message {message_id}'
    return UserInteraction(user, found, None)


def chips(user: User, message_id: str) -> list[tuple[str, str, str, str]]:
    """Each chip of a message as (emoji, count, pressed, who), in order."""
    return [(e.props['data-emoji'], e.props['data-count'], e.props['aria-pressed'], e.props['title'])
            for e in frame_of(user, message_id).descendants() if 'reaction' in e._markers]


def markers(user: User, message_id: str) -> set[str]:
    return {marker for e in frame_of(user, message_id).descendants() for marker in e._markers}


def mention_of(user: User, message_id: str) -> str:
    return frame_of(user, message_id).props['data-mention']


def texts(element: ui.element) -> list[str]:
    return [e.text for e in element.descendants() if isinstance(e, ui.label)]


async def eventually(check, timeout: float = 3.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    assert check()
