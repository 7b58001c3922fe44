"""People in the hub: authorship and edit rights, reply modes, reactions, replies, and who changed the room."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import ScriptedModel, wait_idle
from test_hub import make_rooms

from chat.config import Settings
from chat.errors import MessageRejected
from chat.events import RoomEvent
from chat.models import Person, addresses_claude
from chat.records import message_from_record, message_to_record

ANN = Person('a1a1a1a1a1a1a1a1', 'Ann')
BOB = Person('b2b2b2b2b2b2b2b2', 'Bob')


async def test_only_the_author_may_edit_and_an_edit_is_marked(settings: Settings, model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    mine = await hub.post('my words', author='Ann', author_id=ANN.id)
    await wait_idle(hub)
    assert mine.author_id == ANN.id and hub.messages[1].author_id is None, "Claude's replies have no author id"
    for someone in (BOB, Person(None, 'Ann'), None):
        with pytest.raises(MessageRejected, match='Only the person who wrote'):
            hub.edit(mine.id, 'not your words', someone)
    with pytest.raises(MessageRejected):
        hub.edit(hub.messages[1].id, 'a reply is nobody to edit', ANN)
    assert mine.content == 'my words' and not mine.edited
    hub.edit(mine.id, 'my better words', ANN)
    await wait_idle(hub)
    assert mine.content == 'my better words' and mine.edited
    record = message_to_record(mine)
    assert record['author_id'] == ANN.id and record['edited'] is True
    assert message_from_record(record).edited and message_from_record(record).author_id == ANN.id


def test_claude_is_addressed_by_at_claude_as_a_word() -> None:
    for text in ('@claude what now?', 'what now, @Claude?', 'hey @CLAUDE', '(@claude)'):
        assert addresses_claude(text), text
    for text in ('claude, hi', 'mail me at bob@claude.ai', '@claudette', 'no mention'):
        assert not addresses_claude(text), text


async def test_a_mention_room_answers_only_when_addressed_and_sends_the_rest_as_context(
        settings: Settings, model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    hub.configure(reply_mode='mention')
    await hub.post('lunch at noon?', author='Ann', author_id=ANN.id)
    await hub.post('sure', author='Bob', author_id=BOB.id)
    await wait_idle(hub)
    assert [m.role for m in hub.messages] == ['user', 'user'] and model.asked == []
    model.enqueue('Noon works.')
    await hub.post('@claude is noon fine?', author='Ann', author_id=ANN.id)
    await wait_idle(hub)
    assert hub.messages[-1].content == 'Noon works.'
    assert 'Ann: lunch at noon?' in model.asked[0][-1].content and 'Bob: sure' in model.asked[0][-1].content
    model.enqueue('Asked without a mention.')
    await hub.post('and dessert?', author='Bob', author_id=BOB.id, ask_claude=True)
    await wait_idle(hub)
    assert hub.messages[-1].content == 'Asked without a mention.' and hub.messages[-2].ask_claude
    hub.configure(reply_mode='every')
    model.enqueue('Every message now.')
    await hub.post('thanks', author='Ann', author_id=ANN.id)
    await wait_idle(hub)
    assert hub.messages[-1].content == 'Every message now.'
    with pytest.raises(MessageRejected, match='reply mode'):
        hub.configure(reply_mode='sometimes')


async def test_reactions_toggle_per_person_and_survive_a_restart(settings: Settings, model: ScriptedModel,
                                                                tmp_path: Path) -> None:
    hub = await make_rooms(settings, model, tmp_path).get('r1')
    message = await hub.post('party?', author='Ann', author_id=ANN.id)
    await wait_idle(hub)
    events: list[RoomEvent] = []
    hub.subscribe(events.append)
    hub.react(message.id, '🎉', ANN)
    hub.react(message.id, '🎉', BOB)
    hub.react(message.id, '👍', BOB)
    hub.react(message.id, '👍', BOB)  # Bob takes it back
    assert message.reactions == {'🎉': {ANN.id: 'Ann', BOB.id: 'Bob'}}
    assert [e.kind for e in events] == ['updated'] * 4
    assert message_to_record(message)['reactions'] == {'🎉': ['Ann', 'Bob']}
    with pytest.raises(MessageRejected):
        hub.react(message.id, '<b>', ANN)
    with pytest.raises(MessageRejected):
        hub.react('nope', '🎉', ANN)
    await hub.flush()
    reopened = await make_rooms(settings, model, tmp_path).get('r1')
    assert reopened.messages[0].reactions == {'🎉': {ANN.id: 'Ann', BOB.id: 'Bob'}}
    reopened.react(message.id, '🎉', ANN)
    assert reopened.messages[0].reactions == {'🎉': {BOB.id: 'Bob'}}


async def test_a_reply_quotes_an_earlier_message_and_claude_gets_the_quote(settings: Settings,
                                                                          model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    first = await hub.post('The meeting is on Tuesday ' + 'and more ' * 50, author='Ann', author_id=ANN.id)
    await wait_idle(hub)
    model.enqueue('Yes, Tuesday.')
    answer = await hub.post('Which Tuesday?', author='Bob', author_id=BOB.id, reply_to=first.id)
    await wait_idle(hub)
    assert answer.reply_to is not None and answer.reply_to['id'] == first.id and answer.reply_to['author'] == 'Ann'
    assert answer.reply_to['excerpt'].startswith('The meeting is on Tuesday') and len(answer.reply_to['excerpt']) <= 200
    assert model.asked[-1][-1].content.endswith(
        f'Bob: (replying to Ann: "{answer.reply_to["excerpt"]}")\nWhich Tuesday?')
    with pytest.raises(MessageRejected, match='no longer'):
        await hub.post('to nothing', reply_to='missing')


async def test_stop_and_regenerate_and_settings_say_who_did_them(settings: Settings, model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    events: list[RoomEvent] = []
    hub.subscribe(events.append)
    model.gate = asyncio.Event()
    model.enqueue('partial ', 'never')
    await hub.post('go', author='Ann', author_id=ANN.id)
    while hub.streaming is None or not hub.streaming.content:
        await asyncio.sleep(0.005)
    assert hub.stop(BOB)
    await wait_idle(hub)
    model.gate = None
    assert hub.messages[-1].activity == 'stopped by Bob'
    model.enqueue('a new one')
    hub.regenerate(hub.messages[-1].id, ANN)
    await wait_idle(hub)
    assert hub.messages[-1].activity == 'regenerated by Ann' and hub.messages[-1].content == 'a new one'
    hub.select_version(hub.messages[-1].id, 0, BOB)
    assert hub.messages[-1].activity == 'version 1 shown by Bob'
    hub.configure(by=ANN, title='Plans')
    said = [e.text for e in events if e.kind == 'activity']
    assert said == ['Bob stopped the reply', 'Ann asked for a new version of the last reply',
                    'Bob switched a message to version 1 of 2', 'Ann changed the room settings']
