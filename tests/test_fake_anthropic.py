"""The real `anthropic.AsyncAnthropic` SDK against the loopback fake in `fake_anthropic.py`."""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import pytest
import pytest_asyncio

from chat.bench.fake_anthropic import FakeAnthropic, parse_word_timestamp, parse_words

pytestmark = pytest.mark.asyncio

MODEL = 'claude-sonnet-5-5'


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic() as server:
        yield server


def make_client(fake: FakeAnthropic, **kwargs: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(api_key='test-key', base_url=fake.base_url, **{'max_retries': 0, **kwargs})


def open_stream(client: anthropic.AsyncAnthropic, text: str = 'hi there') -> Any:
    return client.messages.stream(model=MODEL, max_tokens=256, messages=[{'role': 'user', 'content': text}])


async def collect(client: anthropic.AsyncAnthropic, received: list[str], text: str = 'hi there') -> str:
    """Stream a reply into `received`, delta by delta; return the final text."""
    async with open_stream(client, text) as stream:
        async for delta in stream.text_stream:
            received.append(delta)
        return await stream.get_final_text()


async def test_text_arrives_delta_by_delta_with_usage(fake: FakeAnthropic) -> None:
    fake.enqueue_text(['Hello', ', ', 'world', '!'], delay=0.05)
    received: list[str] = []
    open_at_first_delta: list[int] = []
    started = time.monotonic()
    async with make_client(fake) as client, open_stream(client) as stream:
        async for delta in stream.text_stream:
            received.append(delta)
            open_at_first_delta = open_at_first_delta or [fake.active_streams]
        message = await stream.get_final_message()
    assert received == ['Hello', ', ', 'world', '!']
    assert open_at_first_delta == [1]  # the first delta came while the fake was still sending (3 x 50 ms to go)
    assert time.monotonic() - started >= 0.15
    assert message.content[0].text == 'Hello, world!'
    assert message.stop_reason == 'end_turn'
    assert message.usage.output_tokens == 4
    assert message.usage.input_tokens >= 1
    assert message.usage.cache_read_input_tokens == 0
    assert fake.requests[0]['stream'] is True
    assert fake.requests[0]['messages'] == [{'role': 'user', 'content': 'hi there'}]
    assert fake.request_headers[0]['authorization'] == 'Bearer test-key'  # SDK 2.12 sends no x-api-key
    assert fake.active_streams == 0


async def test_default_reply_echoes_last_user_text(fake: FakeAnthropic) -> None:
    received: list[str] = []
    async with make_client(fake) as client:
        assert await collect(client, received, 'how are you') == 'Echo: how are you'
    assert received == ['Echo: ', 'how ', 'are ', 'you']


async def test_rate_limit_is_retried_quickly(fake: FakeAnthropic) -> None:
    fake.enqueue_status(429)
    started = time.monotonic()
    async with make_client(fake, max_retries=2) as client:
        assert await collect(client, []) == 'Echo: hi there'
    assert len(fake.requests) == 2
    assert fake.request_headers[1]['x-stainless-retry-count'] == '1'
    assert time.monotonic() - started < 0.3  # `retry-after-ms: 1`; `retry-after: 0` alone means a ~0.5 s backoff


async def test_overloaded_without_retries_raises_overloaded_error(fake: FakeAnthropic) -> None:
    fake.enqueue_status(529)
    async with make_client(fake) as client:
        with pytest.raises(anthropic.OverloadedError) as caught:
            await collect(client, [])
    assert caught.value.status_code == 529
    assert caught.value.type == 'overloaded_error'


async def test_unauthorized_raises_authentication_error_without_retry(fake: FakeAnthropic) -> None:
    fake.enqueue_status(401)
    async with make_client(fake, max_retries=2) as client:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await collect(client, [])
    assert caught.value.type == 'authentication_error'
    assert len(fake.requests) == 1


async def test_error_event_mid_stream_raises_api_status_error(fake: FakeAnthropic) -> None:
    fake.enqueue_error_event(['partial ', 'answer '])
    received: list[str] = []
    async with make_client(fake) as client:
        with pytest.raises(anthropic.APIStatusError) as caught:
            await collect(client, received)
    # The SDK raises the base APIStatusError (not OverloadedError): the HTTP status of the stream was 200.
    assert type(caught.value) is anthropic.APIStatusError
    assert caught.value.status_code == 200
    assert caught.value.type == 'overloaded_error'
    assert caught.value.api_message == 'Overloaded'
    assert received == ['partial ', 'answer ']


async def test_dropped_connection_mid_stream_raises_remote_protocol_error(fake: FakeAnthropic) -> None:
    fake.enqueue_drop(['partial ', 'answer '])
    received: list[str] = []
    async with make_client(fake, max_retries=2) as client:
        # A failure while reading the body is not wrapped (nor retried) by the SDK: the raw httpx2 error escapes,
        # 'peer closed connection without sending complete message body (incomplete chunked read)'.
        with pytest.raises(httpx2.RemoteProtocolError):
            await collect(client, received)
    assert received == ['partial ', 'answer ']
    assert len(fake.requests) == 1


async def test_hang_with_read_timeout_raises_read_timeout(fake: FakeAnthropic) -> None:
    fake.enqueue_hang(['partial '])
    received: list[str] = []
    async with make_client(fake, timeout=httpx2.Timeout(5.0, read=0.3)) as client:
        # Like a drop: raw httpx2.ReadTimeout, not anthropic.APITimeoutError (that is only for the response head).
        with pytest.raises(httpx2.ReadTimeout):
            await collect(client, received)
    assert received == ['partial ']
    await fake.wait_disconnect(timeout=1.0)


@pytest.mark.parametrize('script', ['hang', 'slow'])
async def test_closing_stream_early_closes_upstream_connection(fake: FakeAnthropic, script: str) -> None:
    if script == 'hang':
        fake.enqueue_hang(['one ', 'two '])
    else:
        fake.enqueue_text([f'w{i} ' for i in range(50)], delay=0.5)
    received: list[str] = []
    async with make_client(fake) as client:
        async with open_stream(client) as stream:
            async for delta in stream.text_stream:
                received.append(delta)
                if len(received) == 2:
                    break
            assert fake.active_streams == 1
        closed_at = time.time()
        disconnected_at = await fake.wait_disconnect(timeout=1.0)
    assert disconnected_at - closed_at < 0.2  # seen at once, even while the fake sleeps between deltas
    assert received[:2] == (['one ', 'two '] if script == 'hang' else ['w0 ', 'w1 '])
    assert fake.active_streams == 0


async def test_words_carry_their_send_timestamps(fake: FakeAnthropic) -> None:
    fake.enqueue_words(20, rate=100)
    arrivals: list[tuple[str, float]] = []
    async with make_client(fake) as client, open_stream(client) as stream:
        async for delta in stream.text_stream:
            arrivals.append((delta, time.time()))
        text = await stream.get_final_text()
    parsed = [parse_word_timestamp(delta) for delta, _ in arrivals]
    assert [index for index, _ in parsed] == list(range(20))
    assert all(sent_at <= received_at for (_, sent_at), (_, received_at) in zip(parsed, arrivals, strict=True))
    assert 0.15 < parsed[-1][1] - parsed[0][1] < 0.5  # 19 intervals at 100 words/s
    assert all(delta.endswith(' ') for delta, _ in arrivals)
    assert parse_words(text) == parsed
    with pytest.raises(ValueError):
        parse_word_timestamp('hello')


async def test_non_streaming_models_and_count_tokens(fake: FakeAnthropic) -> None:
    fake.enqueue_plain(['Bonjour', ' !'])
    async with make_client(fake) as client:
        message = await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{'role': 'user', 'content': 'Say hi'}]
        )
        page = await client.models.list()
        count = await client.messages.count_tokens(model=MODEL, messages=[{'role': 'user', 'content': 'x' * 40}])
    assert message.content[0].text == 'Bonjour !'
    assert message.usage.output_tokens == 2
    assert [model.id for model in page.data] == fake.models
    assert page.data[0].display_name == 'Claude Sonnet 5.5'
    assert count.input_tokens == 10
    assert [call[1] for call in fake.calls] == ['/v1/messages', '/v1/models', '/v1/messages/count_tokens']


async def test_many_concurrent_and_sequential_streams(fake: FakeAnthropic) -> None:
    async with make_client(fake) as client:
        texts = await asyncio.gather(*(collect(client, [], f'question {i}') for i in range(20)))
        for i in range(5):
            texts.append(await collect(client, [], f'again {i}'))
    assert texts[:20] == [f'Echo: question {i}' for i in range(20)]
    assert texts[20:] == [f'Echo: again {i}' for i in range(5)]
    assert len(fake.requests) == 25
    assert fake.disconnects == []


async def test_stopping_the_fake_ends_open_streams() -> None:
    received: list[str] = []
    async with FakeAnthropic() as server, make_client(server) as client:
        server.enqueue_hang(['one '])
        async with open_stream(client) as stream:
            iterator = stream.text_stream.__aiter__()
            received.append(await anext(iterator))
            await server.stop()
            with pytest.raises(httpx2.RemoteProtocolError):
                await anext(iterator)
    assert received == ['one ']


async def test_in_thread_mode() -> None:
    with FakeAnthropic.in_thread() as server:
        async with make_client(server) as client:
            assert await collect(client, []) == 'Echo: hi there'
            server.enqueue_hang(['one ', 'two '])
            async with open_stream(client) as stream:
                async for _ in stream.text_stream:
                    break
            await server.wait_disconnect(timeout=1.0)
    assert len(server.requests) == 2
