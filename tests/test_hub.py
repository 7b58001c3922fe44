"""The hub with a scripted model and no UI: order, queueing, stop, checkpoints, recovery."""
from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from conftest import ScriptedModel, wait_idle

from chat.config import Settings
from chat.errors import MessageRejected, ModelError
from chat.events import RoomEvent
from chat.models import Message, Status
from chat.rooms import Rooms
from chat.store import RoomStore


def make_rooms(settings: Settings, model: ScriptedModel, data_dir: Path | None = None) -> Rooms:
    return Rooms(RoomStore(data_dir), lambda _name: model, settings)


async def test_messages_get_increasing_seq_and_reply_follows(settings: Settings, model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    model.enqueue('Hel', 'lo')
    user = await hub.post('  hi there  ', author='Ann')
    await wait_idle(hub)
    assert [m.seq for m in hub.messages] == [1, 2]
    assert user.content == 'hi there' and user.author == 'Ann'
    reply = hub.messages[1]
    assert (reply.role, reply.content, reply.status, reply.model) == ('assistant', 'Hello', Status.COMPLETE, 'scripted')
    assert model.asked[0][-1].content == 'Ann: hi there'


async def test_messages_sent_during_a_reply_are_queued_and_answered_next(settings: Settings,
                                                                         model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    model.gate = asyncio.Event()
    model.enqueue('first ', 'reply')
    model.enqueue('second reply')
    events: list[RoomEvent] = []
    hub.subscribe(events.append)
    await hub.post('one')
    while hub.streaming is None or not hub.streaming.content:  # the reply waits at the gate after its first words
        await asyncio.sleep(0.001)
    await hub.post('two')
    await hub.post('three')
    assert [m.content for m in hub.messages] == ['one', 'first ', 'two', 'three']
    model.gate.set()
    await wait_idle(hub)
    assert [(m.seq, m.role) for m in hub.messages] == [(1, 'user'), (2, 'assistant'), (3, 'user'), (4, 'user'),
                                                      (5, 'assistant')]
    assert len(model.asked) == 2, 'one turn answers every message that arrived during the reply'
    assert model.asked[1][-1].content == 'two\n\nthree'
    added = [e.message.seq for e in events if e.kind == 'added' and e.message]
    assert added == sorted(added)


async def test_blank_and_oversized_messages_are_refused(settings: Settings, model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    with pytest.raises(MessageRejected, match='empty'):
        await hub.post(' \n\t ')
    with pytest.raises(MessageRejected, match='limit'):
        await hub.post('x' * (settings.max_message_chars + 1))
    assert hub.messages == [] and model.asked == []


async def test_stop_keeps_partial_text_as_stopped(settings: Settings, model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    model.gate = asyncio.Event()
    model.enqueue('partial ', 'never')
    await hub.post('go')
    while not (hub.streaming and hub.streaming.content):
        await asyncio.sleep(0.001)
    assert hub.stop()
    await wait_idle(hub)
    assert (hub.messages[1].status, hub.messages[1].content) == (Status.STOPPED, 'partial ')
    assert not hub.stop()


async def test_model_error_keeps_partial_text_and_next_message_works(settings: Settings,
                                                                     model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    model.enqueue('half ', ModelError('Claude is overloaded'))
    await hub.post('a')
    await wait_idle(hub)
    assert (hub.messages[1].status, hub.messages[1].content, hub.messages[1].error) == (
        Status.ERROR, 'half ', 'Claude is overloaded')
    model.enqueue('fine')
    await hub.post('b')
    await wait_idle(hub)
    assert hub.messages[-1].content == 'fine' and hub.messages[-1].status == Status.COMPLETE


async def test_unexpected_exception_never_leaves_a_reply_streaming(settings: Settings, model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    model.enqueue('x', RuntimeError('boom'))
    await hub.post('a')
    await wait_idle(hub)
    assert hub.messages[1].status == Status.ERROR and 'RuntimeError' in (hub.messages[1].error or '')


async def test_retry_and_continue_run_in_place(settings: Settings, model: ScriptedModel) -> None:
    hub = await make_rooms(settings, model).get('r1')
    model.enqueue('bro', ModelError('dropped'))
    await hub.post('a')
    await wait_idle(hub)
    reply = hub.messages[1]
    model.enqueue('whole')
    hub.retry(reply.id)
    await wait_idle(hub)
    assert (reply.content, reply.status, len(hub.messages)) == ('whole', Status.COMPLETE, 2)
    reply.status = Status.STOPPED
    model.enqueue(' and more')
    hub.resume(reply.id)
    await wait_idle(hub)
    assert reply.content == 'whole and more'
    assert model.asked[-1][-1].role == 'assistant', 'continue sends the partial reply as a prefill'
    with pytest.raises(MessageRejected):
        hub.retry(hub.messages[0].id)


async def test_checkpoints_are_bounded_in_rate_and_leave_the_room_file_alone(
        settings: Settings, model: ScriptedModel, tmp_path: Path) -> None:
    data = tmp_path / 'd'
    data.mkdir()
    rooms = make_rooms(settings, model, data)
    hub = await rooms.get('r1')
    model.delay = 0.005
    model.enqueue(*[f'w{i} ' for i in range(100)])  # about 0.5 s of streaming
    saves: list[float] = []
    checkpoints: list[int] = []
    room_file = hub._writer._file
    original_save, original_checkpoint = room_file.save, room_file.checkpoint

    def counting_save(messages: list[Message]) -> None:
        saves.append(time.monotonic())
        original_save(messages)

    def counting_checkpoint(message: Message) -> None:
        original_checkpoint(message)
        assert room_file.reply_path is not None
        checkpoints.append(room_file.reply_path.stat().st_size)
    room_file.save = counting_save  # type: ignore[method-assign]
    room_file.checkpoint = counting_checkpoint  # type: ignore[method-assign]
    started = time.monotonic()
    await hub.post('go')
    await wait_idle(hub)
    took = time.monotonic() - started
    assert len(saves) <= 3, 'the room file is written for the question, the reply starting and the reply settling'
    assert 1 <= len(checkpoints) <= took / settings.checkpoint_interval + 2, 'at most one checkpoint per interval'
    assert max(checkpoints) < 4096, 'a checkpoint writes the reply, not the room'
    assert room_file.reply_path is not None and not room_file.reply_path.exists(), 'folded into the room file'
    assert [m.content for m in (await make_rooms(settings, model, tmp_path / 'd').get('r1')).messages][-1] \
        == ''.join(f'w{i} ' for i in range(100))


async def test_a_reply_cut_off_after_a_checkpoint_comes_back_from_it(settings: Settings, model: ScriptedModel,
                                                                     tmp_path: Path) -> None:
    """A crash mid-reply: the room file has the reply as it started, its checkpoint file has the text since."""
    data = tmp_path / 'd'
    data.mkdir()
    hub = await make_rooms(settings, model, data).get('long')
    for index in range(2000):  # a long room: its file is not rewritten while the reply streams
        hub._append(Message(id=f'x{index}', seq=hub._next_seq(), role='user', content=f'old message {index}'))
    await hub.flush()
    room_path = data / 'long.json'
    model.gate = asyncio.Event()
    model.enqueue('kept ', 'through ', 'the crash')
    await hub.post('question')
    await hub.flush()
    size, mtime = room_path.stat().st_size, room_path.stat().st_mtime_ns
    while not (hub.streaming and hub.streaming.content):
        await asyncio.sleep(0.001)
    hub.streaming.content = 'kept through'
    hub._writer.checkpoint(hub.streaming)
    await hub.flush()
    assert (room_path.stat().st_size, room_path.stat().st_mtime_ns) == (size, mtime), 'a checkpoint leaves it alone'
    assert (data / 'long.reply.json').stat().st_size < 4096
    reopened = await make_rooms(settings, model, data).get('long')  # as a new process after a crash would
    assert (reopened.messages[-1].content, reopened.messages[-1].status) == ('kept through', Status.INTERRUPTED)
    await reopened.flush()
    assert not (data / 'long.reply.json').exists(), 'recovery folds the checkpoint into the room file'
    again = await make_rooms(settings, model, data).get('long')
    assert (again.messages[-1].content, again.messages[-1].status) == ('kept through', Status.INTERRUPTED)
    model.gate.set()
    await wait_idle(hub)


async def test_streaming_reply_on_disk_becomes_interrupted_on_restart(settings: Settings, model: ScriptedModel,
                                                                       tmp_path: Path) -> None:
    data = tmp_path / 'd'
    data.mkdir()
    hub = await make_rooms(settings, model, data).get('r1')
    model.gate = asyncio.Event()
    model.enqueue('cut ', 'off')
    await hub.post('question')
    while not (hub.streaming and hub.streaming.content):
        await asyncio.sleep(0.001)
    await asyncio.sleep(settings.checkpoint_interval * 2)
    hub._writer.save(hub.streaming)
    await hub.flush()
    # a new process opens the same files while the old reply was still streaming
    reopened = await make_rooms(settings, model, data).get('r1')
    assert [(m.content, m.status) for m in reopened.messages] == [('question', Status.COMPLETE),
                                                                 ('cut ', Status.INTERRUPTED)]
    model.gate.set()
    await wait_idle(hub)


async def test_reply_finishes_and_is_saved_with_no_subscriber(settings: Settings, model: ScriptedModel,
                                                               tmp_path: Path) -> None:
    data = tmp_path / 'd'
    data.mkdir()
    hub = await make_rooms(settings, model, data).get('r1')
    unsubscribe = hub.subscribe(lambda event: None)
    model.delay = 0.01
    model.enqueue('a', 'b', 'c')
    await hub.post('q')
    unsubscribe()
    assert hub.subscriber_count == 0
    await wait_idle(hub)
    reopened = await make_rooms(settings, model, data).get('r1')
    assert [(m.content, m.status) for m in reopened.messages][-1] == ('abc', Status.COMPLETE)


async def test_a_room_that_outgrows_the_context_window_sends_the_newest_turns_and_says_so(
        settings: Settings, model: ScriptedModel) -> None:
    """Old turns are left out (never the newest), the first sent turn is a user turn, and the reply notes it."""
    hub = await make_rooms(settings, model).get('r1')
    model.context_window = settings.max_tokens + 2_000 + 3_000  # type: ignore[attr-defined]  # ~9,000 chars fit
    for index in range(6):
        await hub.post(f'{index} ' + 'x' * 3_000)
        await wait_idle(hub)
    asked = model.asked[-1]
    assert asked[0].role == 'user' and asked[-1].content.startswith('5 ')
    assert sum(len(t.content) for t in asked) < 9_500
    assert hub.messages[-1].left_out == 11 - len(asked)
    assert hub.messages[1].left_out == 0
