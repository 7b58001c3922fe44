"""The real Claude model (real anthropic SDK) against the loopback fake, driven through a real RoomHub."""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from conftest import wait_idle

from chat.bench.fake_anthropic import FakeAnthropic
from chat.config import Settings
from chat.events import RoomEvent
from chat.llm import Claude
from chat.models import Message, Status
from chat.rooms import Rooms
from chat.store import RoomStore
from chat.turns import Turn

MODEL = 'claude-sonnet-5-5'
API_KEY = 'sk-ant-api03-test-Zq9VeryS3cretKey'
SYSTEM = 'You are the test assistant of room r1. Answer briefly.'


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


@pytest_asyncio.fixture
async def claude(fake: FakeAnthropic) -> AsyncIterator[Claude]:
    model = Claude(MODEL, api_key=API_KEY, base_url=fake.base_url, max_tokens=512, max_retries=2, timeout=5.0)
    yield model
    await model.close()


@pytest.fixture
def claude_settings(tmp_path: Path, fake: FakeAnthropic) -> Settings:
    return Settings(data_dir=tmp_path, model=MODEL, api_key=API_KEY, base_url=fake.base_url, max_tokens=512,
                    system_prompt=SYSTEM, checkpoint_interval=0.05)


@pytest_asyncio.fixture
async def rooms(tmp_path: Path, claude: Claude, claude_settings: Settings) -> AsyncIterator[Rooms]:
    registry = Rooms(RoomStore(tmp_path), lambda _name: claude, claude_settings)
    yield registry
    await registry.close()


async def test_text_arrives_delta_by_delta_and_the_whole_reply_is_stored(
        rooms: Rooms, fake: FakeAnthropic, claude: Claude, claude_settings: Settings, tmp_path: Path) -> None:
    """Each SSE text delta becomes one hub delta event at the right offset, while the stream is still open."""
    chunks = ['Hel', 'lo', ', **wor', 'ld**! ', '\U0001F642 e\u0301']
    fake.enqueue_text(chunks, delay=0.03)
    hub = await rooms.get('r1')
    deltas: list[tuple[int, str, int]] = []
    hub.subscribe(lambda e: deltas.append((e.offset, e.text, fake.active_streams)) if e.kind == 'delta' else None)
    await hub.post('hi', author='Ann')
    await wait_idle(hub)
    texts = [(offset, text) for offset, text, _ in deltas if text]
    assert [text for _, text in texts] == chunks
    assert [offset for offset, _ in texts] == [sum(map(len, chunks[:i])) for i in range(len(chunks))]
    assert deltas[0][2] == 1, 'the first delta arrived while the upstream stream was still open'
    assert deltas[-1] == (len(''.join(chunks)), '', 0), 'the closing empty delta sits at the final length'
    reply = hub.messages[-1]
    assert (reply.role, reply.content, reply.status, reply.model) == ('assistant', ''.join(chunks), Status.COMPLETE,
                                                                      MODEL)
    reopened = Rooms(RoomStore(tmp_path), lambda _name: claude, claude_settings)
    stored = (await reopened.get('r1')).messages
    await reopened.close()
    assert [(m.role, m.content, m.status, m.author) for m in stored] == [
        ('user', 'hi', Status.COMPLETE, 'Ann'), ('assistant', ''.join(chunks), Status.COMPLETE, None)]


async def test_request_has_model_system_prompt_and_alternating_roles(rooms: Rooms, fake: FakeAnthropic) -> None:
    """Messages typed during a reply reach Claude as one user turn after it, so roles alternate from user."""
    fake.enqueue_text(['first ', 'answer'], delay=0.05)
    fake.enqueue_text(['second answer'])
    hub = await rooms.get('r1')
    await hub.post('first', author='Ann')
    await wait_until(lambda: bool(hub.streaming and hub.streaming.content))
    await hub.post('second', author='Bob')
    await hub.post('third')
    await wait_idle(hub)
    assert len(streamed(fake)) == 2
    for request in streamed(fake):
        assert (request['model'], request['system'], request['max_tokens'], request['stream']) == (
            MODEL, SYSTEM, 512, True)
    assert plain(streamed(fake)[0]['messages']) == [{'role': 'user', 'content': 'Ann: first'}]
    assert plain(streamed(fake)[1]['messages']) == [
        {'role': 'user', 'content': 'Ann: first'},
        {'role': 'assistant', 'content': 'first answer'},
        {'role': 'user', 'content': 'Bob: second\n\nthird'},
    ]
    assert [m.content for m in hub.messages] == ['first', 'first answer', 'second', 'third', 'second answer']


async def test_rate_limit_is_retried_by_the_sdk_and_the_reply_completes(rooms: Rooms, fake: FakeAnthropic) -> None:
    """A 429 with a retry hint is retried by the SDK; the user only sees the finished reply."""
    fake.enqueue_status(429)
    fake.enqueue_text(['after ', 'a retry'])
    hub = await rooms.get('r1')
    await hub.post('hello')
    await wait_idle(hub)
    assert (hub.messages[-1].content, hub.messages[-1].status, hub.messages[-1].error) == (
        'after a retry', Status.COMPLETE, None)
    assert len(streamed(fake)) == 2
    assert fake.request_headers[1]['x-stainless-retry-count'] == '1'


async def test_bad_api_key_ends_as_error_naming_the_variable_but_never_the_key(
        rooms: Rooms, fake: FakeAnthropic, tmp_path: Path) -> None:
    """A 401 is not retried and tells the user to set ANTHROPIC_API_KEY, without echoing the key anywhere."""
    fake.enqueue_status(401)
    hub = await rooms.get('r1')
    updates: list[Message] = []
    hub.subscribe(lambda e: updates.append(e.message) if e.kind == 'updated' and e.message else None)
    await hub.post('hello')
    await wait_idle(hub)
    reply = hub.messages[-1]
    assert (reply.status, reply.content) == (Status.ERROR, '')
    assert reply.error is not None and 'ANTHROPIC_API_KEY' in reply.error and '401' in reply.error
    assert API_KEY not in reply.error and API_KEY[-8:] not in reply.error
    assert updates[-1].status == Status.ERROR
    assert len(streamed(fake)) == 1
    assert API_KEY in fake.request_headers[0].get('authorization', '') + fake.request_headers[0].get('x-api-key', '')
    assert API_KEY.encode() not in (tmp_path / 'r1.json').read_bytes()


@pytest.mark.parametrize('failure', ['error event', 'dropped connection'])
async def test_failure_mid_stream_keeps_partial_text_and_the_next_message_works(
        rooms: Rooms, fake: FakeAnthropic, failure: str) -> None:
    """A stream that fails after some text keeps that text as `error` with a plain reason; the room goes on."""
    if failure == 'error event':
        fake.enqueue_error_event(['partial ', 'answer '])
    else:
        fake.enqueue_drop(['partial ', 'answer '])
    hub = await rooms.get('r1')
    await hub.post('tell me')
    await wait_idle(hub)
    reply = hub.messages[-1]
    assert (reply.content, reply.status) == ('partial answer ', Status.ERROR)
    assert reply.error is not None and 'Retry' in reply.error
    assert 'Traceback' not in reply.error and 'httpx' not in reply.error and '{' not in reply.error
    assert ('Overloaded' if failure == 'error event' else 'connection') in reply.error
    assert len(streamed(fake)) == 1, 'a stream that already sent text is not silently retried'
    fake.enqueue_text(['all ', 'good'])
    await hub.post('again')
    await wait_idle(hub)
    assert (hub.messages[-1].content, hub.messages[-1].status) == ('all good', Status.COMPLETE)
    assert hub.messages[1].status == Status.ERROR, 'the failed reply stays as it was'
    assert plain(streamed(fake)[1]['messages']) == [{'role': 'user', 'content': 'tell me'},
                                            {'role': 'assistant', 'content': 'partial answer '},
                                            {'role': 'user', 'content': 'again'}], 'the partial text is history'


async def test_stop_during_a_hang_closes_the_upstream_request_and_keeps_partial_text(
        rooms: Rooms, fake: FakeAnthropic) -> None:
    """Stopping a reply whose upstream hangs closes the HTTP stream at once and keeps its text as `stopped`."""
    fake.enqueue_hang(['partial ', 'text '])
    hub = await rooms.get('r1')
    events: list[RoomEvent] = []
    hub.subscribe(events.append)
    await hub.post('go on forever')
    await wait_until(lambda: bool(hub.streaming and hub.streaming.content == 'partial text '))
    assert fake.active_streams == 1
    assert hub.stop()
    await fake.wait_disconnect(timeout=1.0)
    await wait_idle(hub)
    reply = hub.messages[-1]
    assert (reply.content, reply.status, reply.error) == ('partial text ', Status.STOPPED, None)
    assert fake.active_streams == 0
    assert [e.message.status for e in events if e.kind == 'updated' and e.message] == [Status.STOPPED]
    await hub.post('and now?')
    await wait_idle(hub)
    assert (hub.messages[-1].content, hub.messages[-1].status) == ('Echo: and now?', Status.COMPLETE)


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'condition not reached'
        await asyncio.sleep(0.002)


async def test_a_refused_try_shows_retrying_on_the_reply_until_text_streams(rooms: Rooms, fake: FakeAnthropic) -> None:
    """429/529 before the stream starts: the SDK retries and the reply says "retrying" meanwhile."""
    fake.enqueue_status(529)
    fake.enqueue_status(429)
    fake.enqueue_text(['made ', 'it'])
    hub = await rooms.get('r1')
    notes: list[str | None] = []
    hub.subscribe(lambda e: notes.append(e.message.note) if e.kind == 'updated' and e.message else None)
    await hub.post('hello')
    await wait_idle(hub)
    reply = hub.messages[-1]
    assert (reply.content, reply.status, reply.note) == ('made it', Status.COMPLETE, None)
    shown = [n for n in notes if n]
    assert len(shown) == 2 and 'overloaded (529)' in shown[0] and 'rate-limited (429)' in shown[1]
    assert '1 of 2' in shown[0] and '2 of 2' in shown[1]


async def test_retries_running_out_end_in_error_with_the_reason_and_retry_works(rooms: Rooms,
                                                                                 fake: FakeAnthropic) -> None:
    """After the last try the reply is `error` in plain words; Retry runs the turn again in place."""
    for _ in range(3):
        fake.enqueue_status(529)
    hub = await rooms.get('r1')
    await hub.post('hello')
    await wait_idle(hub)
    reply = hub.messages[-1]
    assert reply.status == Status.ERROR and 'overloaded' in (reply.error or '') and reply.note is None
    fake.enqueue_text(['second ', 'time'])
    hub.retry(reply.id)
    await wait_idle(hub)
    assert (hub.messages[-1] is reply, reply.content, reply.status) == (True, 'second time', Status.COMPLETE)


async def test_read_timeout_and_connection_refused_end_in_error_and_the_room_stays_usable(
        tmp_path: Path, fake: FakeAnthropic, claude_settings: Settings) -> None:
    """A stalled stream times out and an unreachable server is reported; neither leaves a reply streaming."""
    slow = Claude(MODEL, api_key=API_KEY, base_url=fake.base_url, max_retries=0, timeout=0.5)
    dead = Claude(MODEL, api_key=API_KEY, base_url='http://127.0.0.1:9', max_retries=1, timeout=2.0)
    current = [slow]
    rooms = Rooms(RoomStore(tmp_path), lambda _name: current[0], claude_settings)
    hub = await rooms.get('r1')
    fake.enqueue_hang(['so far '])
    await hub.post('one')
    await wait_idle(hub)
    assert (hub.messages[-1].status, hub.messages[-1].content) == (Status.ERROR, 'so far ')
    assert 'timed out' in (hub.messages[-1].error or '')
    current[0] = dead
    await hub.post('two')
    await wait_idle(hub, timeout=15)
    assert hub.messages[-1].status == Status.ERROR and 'could not reach' in (hub.messages[-1].error or '')
    current[0] = slow
    await hub.post('three')
    await wait_idle(hub)
    assert hub.messages[-1].status == Status.COMPLETE
    await rooms.close()
    await slow.close()
    await dead.close()


def plain(messages: list[dict]) -> list[dict]:
    """The request's messages with text blocks flattened to strings (the app sends a block for cache_control)."""
    return [{'role': m['role'], 'content': m['content'] if isinstance(m['content'], str)
             else ''.join(b['text'] for b in m['content'])} for m in messages]


async def test_the_newest_user_turn_marks_the_cacheable_prefix_and_usage_is_recorded(rooms: Rooms,
                                                                                      fake: FakeAnthropic) -> None:
    """Prompt caching: cache_control ends the prefix at the newest user turn; tokens land on the reply."""
    hub = await rooms.get('r1')
    for text in ('first', 'second'):
        await hub.post(text)
        await wait_idle(hub)
    last = streamed(fake)[-1]['messages']
    marked = [i for i, m in enumerate(last) if not isinstance(m['content'], str)
              for b in m['content'] if 'cache_control' in b]
    assert marked == [len(last) - 1] and last[-1]['role'] == 'user'
    usage = hub.messages[-1].usage
    assert usage is not None and usage.output_tokens > 0 and usage.input_tokens > 0
    assert hub.usage.output_tokens == sum(m.usage.output_tokens for m in hub.messages if m.usage)


def streamed(fake: FakeAnthropic) -> list[dict]:
    """The streaming requests (replies), without the small title-suggestion call after a first exchange."""
    return [request for request in fake.requests if request.get('stream')]


async def test_a_title_is_suggested_after_the_first_exchange_with_one_small_call(rooms: Rooms,
                                                                                  fake: FakeAnthropic) -> None:
    hub = await rooms.get('r1')
    await hub.post('How do I bake sourdough bread?')
    await wait_idle(hub)
    await wait_until(lambda: hub.room_settings.title is not None)
    titled = [r for r in fake.requests if not r.get('stream')]
    assert len(titled) == 1 and titled[0]['max_tokens'] <= 50
    assert hub.summary().title == hub.room_settings.title


async def test_an_unreachable_api_says_so_at_once_and_names_who_can_fix_it(tmp_path: Path) -> None:
    """Regression (issue 12): a dead network showed an empty "writing…" reply for seconds, then told a guest whose own
    network was fine to check it. Now each failed try says the server could not reach the model, and the end says who
    can fix what."""
    from browser_support import free_port
    closed = f'http://127.0.0.1:{free_port()}'  # nothing listens there
    model = Claude(MODEL, api_key=API_KEY, base_url=closed, max_retries=2, timeout=5.0)
    settings = Settings(data_dir=tmp_path, model=MODEL, api_key=API_KEY, base_url=closed)
    rooms = Rooms(RoomStore(tmp_path), lambda _name: model, settings)
    try:
        hub = await rooms.get('r1')
        notes: list[str] = []
        hub.subscribe(lambda e: notes.append(e.message.note) if e.kind == 'updated' and e.message and
                      e.message.note else None)
        await hub.post('hello')
        await wait_idle(hub, timeout=30)
        reply = hub.messages[-1]
        assert notes and 'could not reach the model' in notes[0] and '1 of 2' in notes[0]
        assert reply.status == Status.ERROR and reply.note is None
        assert 'your own connection to the room is fine' in (reply.error or '')
        assert 'whoever runs Rooms should check its network' in (reply.error or '')
    finally:
        await rooms.close()
        await model.close()


async def test_blocks_and_events_of_kinds_not_known_yet_are_skipped(claude: Claude, fake: FakeAnthropic) -> None:
    """A newer API may stream blocks, deltas and events this code does not know: the text around them arrives whole."""
    fake.enqueue_blocks([{'text': ['Before ', 'it. ']}, {'unknown': 'hologram'}, {'text': ['After ', 'it.']}])
    parts = [part async for part in claude.stream([Turn('user', 'hi')], SYSTEM)]
    assert parts == ['Before ', 'it. ', 'After ', 'it.']
