"""Regenerate and edit keep what they replace as previous versions, in memory, on disk and in events."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ScriptedModel, wait_idle
from test_hub import make_rooms

from chat.config import Settings
from chat.errors import MessageRejected
from chat.events import RoomEvent
from chat.models import Message, Person, Status, Usage
from chat.versions import keep_as_previous, switch_to

ANN = Person('a1b2c3d4e5f60718', 'Ann')
"""The author of the messages these tests edit."""


async def test_regenerate_keeps_the_old_reply_as_a_version_and_flipping_back_works(
        settings: Settings, model: ScriptedModel, tmp_path: Path) -> None:
    rooms = make_rooms(settings, model, tmp_path)
    hub = await rooms.get('r1')
    model.enqueue('first answer')
    await hub.post('question')
    await wait_idle(hub)
    reply = hub.messages[-1]
    model.enqueue('second answer')
    hub.regenerate(reply.id)
    await wait_idle(hub)
    assert (reply.content, reply.version, len(reply.versions)) == ('second answer', 1, 1)
    assert [t.content for t in model.asked[1]] == ['question'], 'the old reply is not sent to the model'
    hub.select_version(reply.id, 0)
    assert (reply.content, reply.version) == ('first answer', 0)
    await hub.flush()
    reopened = await make_rooms(settings, model, tmp_path).get('r1')
    again = reopened.messages[-1]
    assert (again.content, again.version, again.versions[0]['content']) == ('first answer', 0, 'second answer')


async def test_edit_reruns_from_there_and_the_old_branch_comes_back_with_its_version(
        settings: Settings, model: ScriptedModel, tmp_path: Path) -> None:
    rooms = make_rooms(settings, model, tmp_path)
    hub = await rooms.get('r1')
    for text in ('one', 'two'):
        model.enqueue(f'answer to {text}')
        await hub.post(text, author_id=ANN.id)
        await wait_idle(hub)
    first = hub.messages[0]
    events: list[RoomEvent] = []
    hub.subscribe(events.append)
    model.enqueue('answer to uno')
    hub.edit(first.id, 'uno', by=ANN)
    await wait_idle(hub)
    assert [m.content for m in hub.messages] == ['uno', 'answer to uno']
    assert [e.message.content for e in events if e.kind == 'removed' and e.message] == [
        'answer to one', 'two', 'answer to two']
    assert hub.messages[1].seq > 4, 'a new message never reuses the seq of a shelved one'
    hub.select_version(first.id, 0)
    assert [m.content for m in hub.messages] == ['one', 'answer to one', 'two', 'answer to two']
    seqs = [m.seq for m in hub.messages]
    assert seqs == sorted(seqs)
    await hub.flush()
    reopened = await make_rooms(settings, model, tmp_path).get('r1')
    assert [m.content for m in reopened.messages] == ['one', 'answer to one', 'two', 'answer to two']
    reopened.select_version(reopened.messages[0].id, 1)
    assert [m.content for m in reopened.messages] == ['uno', 'answer to uno']


async def test_only_the_last_reply_regenerates_and_nothing_changes_during_a_reply(
        settings: Settings, model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    await hub.post('a', author_id=ANN.id)
    await wait_idle(hub)
    await hub.post('b')
    with pytest.raises(MessageRejected, match='Wait'):
        hub.edit(hub.messages[0].id, 'changed', by=ANN)
    await wait_idle(hub)
    with pytest.raises(MessageRejected, match='last reply'):
        hub.regenerate(hub.messages[1].id)
    with pytest.raises(MessageRejected):
        hub.edit(hub.messages[1].id, 'not mine', by=ANN)
    assert hub.messages[-1].status == Status.COMPLETE


def test_a_version_keeps_its_usage_and_an_odd_imported_one_counts_as_none() -> None:
    """Flipping between replies shows each one's own token counts (the room's total follows them)."""
    reply = Message(id='a1', seq=2, role='assistant', content='first', usage=Usage(input_tokens=10, output_tokens=3))
    keep_as_previous(reply, [])
    reply.content, reply.usage = 'second', Usage(input_tokens=12, output_tokens=5)
    switch_to(reply, [], 0)
    assert (reply.content, reply.usage) == ('first', Usage(input_tokens=10, output_tokens=3))
    switch_to(reply, [], 1)
    assert (reply.content, reply.usage) == ('second', Usage(input_tokens=12, output_tokens=5))
    for odd in ({'input_tokens': 'lots'}, {'output_tokens': -1}, [1, 2], None):
        reply.versions[0]['usage'] = odd
        switch_to(reply, [], 0)
        assert reply.usage is None, odd
        switch_to(reply, [], 1)
