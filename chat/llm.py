"""Models that write replies: the ChatModel protocol and Claude (with api_errors.py, the only anthropic imports), which
goes on by itself with a turn the API paused. The parts a reply streams are read in stream_parts.py, the turns Claude is
sent are made in turns.py; the offline demo model is demo.py."""
from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

import anthropic
import httpx2

from .api_errors import model_error
from .errors import ModelError
from .models import Usage
from .stream_parts import MAX_SEARCHES, BlockCollector, Citation, Ended, Part, PartReader, Thinking, ToolCall, ended
from .turns import Block, Turn, cached_messages

__all__ = ['MAX_SEARCHES', 'NO_OPTIONS', 'ChatModel', 'Citation', 'Claude', 'Ended', 'ModelFacts', 'Options', 'Part',
           'RetryListener', 'Thinking', 'ToolCall', 'UsageListener']
"""The parts a reply streams live in stream_parts.py; importers of this module find them here too."""

log = logging.getLogger(__name__)

RetryListener = Callable[[str], None]
"""Told, in plain words, that the API refused a try and the SDK is about to try again."""
RETRIED_STATUSES = {408, 409, 429, 500, 502, 503, 504, 529}
UsageListener = Callable[[Usage], None]


@dataclass(slots=True)
class _Tries:
    """The requests of one model call, as the SDK sends and retries them (see _request_sent, _report_retry)."""

    listener: RetryListener
    sent: int = 0
    answered: int = 0


_tries: ContextVar[_Tries | None] = ContextVar('rooms_tries', default=None)
MAX_CONTINUATIONS = 5
"""Requests a paused turn (`pause_turn`, a long run of server tools) may go on in, after the first."""
WEB_SEARCH_TOOL = {'type': 'web_search_20250305', 'name': 'web_search', 'max_uses': MAX_SEARCHES}


@dataclass(slots=True, frozen=True)
class Options:
    """How a room wants its replies written: a thinking budget in tokens (0: no thinking) and web search."""

    thinking_budget: int = 0
    web_search: bool = False
    replacing: str = ''
    """The text of the reply a Regenerate replaces ('' otherwise): the demo model writes another one (Claude is not
    told; it varies by itself)."""


NO_OPTIONS = Options()


@dataclass(slots=True, frozen=True)
class ModelFacts:
    """A model the API offers, and whether it can think (None: the API did not say)."""

    id: str
    thinks: bool | None = None
    adaptive: bool = False
    """It thinks only as it decides itself (`{"type": "adaptive"}`): a room's budget sets no limit, only room for it."""


class ChatModel(Protocol):
    """Streams one reply part by part (text deltas, thinking, tool calls, citations, last why it ended if people should
    know); raises ModelError with a reason a user can act on."""

    name: str
    """The model id shown on replies."""

    def stream(self, turns: Sequence[Turn], system: str, *, max_tokens: int | None = None,
               on_retry: RetryListener | None = None, on_usage: UsageListener | None = None,
               options: Options = NO_OPTIONS) -> AsyncIterator[Part]: ...


class Claude:
    """Claude through the official SDK's async streaming API.

    The SDK retries 408/409/429/5xx/529 with backoff before the stream starts (`max_retries`, on purpose a
    few: a person is waiting); a response hook tells the hub about each refused try so the reply can say
    "retrying". Once text streams, nothing is retried automatically: the partial text is kept instead.
    """

    def __init__(self, name: str, *, api_key: str | None, base_url: str | None = None,
                 max_tokens: int = 4096, max_retries: int = 3, timeout: float = 60.0) -> None:
        self.name = name
        self.max_tokens = max_tokens
        self.base_url = base_url
        self.max_retries = max_retries
        # The SDK's aiohttp transport: reading a streamed word costs about two thirds of what httpx's own stack costs
        # (README, Speed); the SDK maps aiohttp's errors to httpx's, so the handling below is the same for both.
        http_client = anthropic.DefaultAioHttpClient(event_hooks={'request': [_request_sent],
                                                                  'response': [_report_retry]})
        self._client = anthropic.AsyncAnthropic(api_key=api_key, base_url=base_url, max_retries=max_retries,
                                                timeout=httpx2.Timeout(timeout, connect=10.0),
                                                http_client=http_client)
        self.facts: ModelFacts | None = None
        """What the API's model list says of this model: the catalog tells it, else learn_facts asks once."""
        self._asked = False

    context_window = 200_000
    """Tokens every current Claude model accepts at least."""

    async def learn_facts(self) -> ModelFacts | None:
        """What the API says of this model (whether it can think), asked once if nobody told it; None if unknown."""
        if self.facts is None and not self._asked:
            self._asked = True
            try:  # quick and once: a person waits for the reply, and the reply itself would say what is wrong
                info = await self._client.with_options(max_retries=0, timeout=5).models.retrieve(self.name)
                self.facts = facts_of(info)
            except Exception as e:
                log.info('cannot read the facts of model %s: %s', self.name, e)
        return self.facts

    async def stream(self, turns: Sequence[Turn], system: str, *, max_tokens: int | None = None,
                     on_retry: RetryListener | None = None, on_usage: UsageListener | None = None,
                     options: Options = NO_OPTIONS) -> AsyncIterator[Part]:
        messages = cached_messages(turns)
        extra = request_options(options, max_tokens or self.max_tokens, prefill=bool(turns) and turns[-1].role ==
                                'assistant', adaptive=self.facts is not None and self.facts.adaptive)
        attempts = 0

        def count_retry(reason: str) -> None:
            nonlocal attempts
            attempts += 1
            if on_retry is not None and attempts <= self.max_retries:
                on_retry(f'{reason}; trying again ({attempts} of {self.max_retries})…')
        token = _tries.set(_Tries(count_retry))
        try:
            parts = PartReader()
            for request in range(MAX_CONTINUATIONS + 1):
                usage: Any = None
                stop_reason: str | None = None
                blocks = BlockCollector() if 'tools' in extra else None  # only a turn with server tools pauses
                # aclosing: a Stop closes the request at once, not when the generator is collected
                async with contextlib.aclosing(self._events(system, messages, extra, blocks)) as events:
                    async for event in events:
                        if isinstance(event, str):
                            yield event  # the hot path: a text delta, one per few words
                        elif event.type == 'message_start':
                            usage = event.message.usage
                        elif event.type == 'message_delta':
                            stop_reason = getattr(event.delta, 'stop_reason', None)
                            if usage is not None:
                                usage = merged_usage(usage, event.usage)
                        else:
                            for part in parts.read(event):
                                yield part
                if on_usage is not None and usage is not None:
                    on_usage(usage_of(usage))  # each request is billed: the turn adds them up
                if stop_reason != 'pause_turn' or blocks is None:
                    break
                if request == MAX_CONTINUATIONS:
                    log.warning('a turn was still paused after %d continuations; it ends here', MAX_CONTINUATIONS)
                    break
                messages, extra = continued(messages, extra, blocks.blocks())
            for part in ended(stop_reason):
                yield part
        except anthropic.APIError as e:
            raise model_error(e, self.base_url) from e
        except httpx2.TimeoutException as e:  # raw, once the stream has started
            raise ModelError('The model stopped sending text and the wait timed out. The text so far is kept; '
                             'press Retry or Continue.') from e
        except httpx2.HTTPError as e:  # a dropped stream surfaces as the raw transport error
            raise ModelError(f'The Rooms server lost its connection to the model in the middle of the reply '
                             f'({type(e).__name__}). The text so far is kept; press Retry or Continue.') from e
        finally:
            _tries.reset(token)

    async def _events(self, system: str, messages: list[Any], extra: dict[str, Any],
                      blocks: BlockCollector | None = None) -> AsyncIterator[Any]:
        """The stream's events: a text delta as its text, every other event as the SDK's typed event; `blocks`, if
        given, collects the response's content blocks from the raw events.

        Neither `messages.stream()` (it rebuilds a snapshot of the whole message at every event) nor the typed
        events of `create(stream=True)` (building one costs about a third of a word's CPU, README "Speed"): the
        SDK still sends, retries and raises for the request, and decodes the server-sent events
        (`AsyncStream.raw_events`); a text delta is read straight from its JSON, the rarer events are built as the
        SDK builds them (`model_construct`, lenient with fields it does not know).
        """
        async with self._client.messages.with_streaming_response.create(
                model=self.name, system=system, messages=messages, stream=True, **extra) as raw:
            response = raw.http_response
            async for sse in anthropic.AsyncStream.raw_events(response):
                if sse.event == 'error':
                    raise _error_event(sse.data, response)
                if sse.event in (None, 'ping') or not sse.data:
                    continue
                data = sse.json()
                if blocks is not None and isinstance(data, dict):
                    blocks.add(data)
                kind = data.get('type') if isinstance(data, dict) else None
                delta = data.get('delta') if kind == 'content_block_delta' else None
                if isinstance(delta, dict) and delta.get('type') == 'text_delta':
                    yield str(delta.get('text', ''))
                elif kind in STREAM_EVENTS:
                    yield STREAM_EVENTS[kind].model_construct(**data)

    async def list_models(self) -> list[ModelFacts]:
        return [facts_of(model) async for model in self._client.models.list(limit=100)]

    async def suggest_title(self, conversation: str) -> str | None:
        """A short title for a room, from one small non-streaming call."""
        answer = await self._client.messages.create(
            model=self.name, max_tokens=30, system='You name chat conversations. Answer with the title only.',
            messages=[{'role': 'user', 'content': 'Give this conversation a title of at most six words, without '
                                                  f'quotes:\n\n{conversation[:4000]}'}])
        text = ''.join(getattr(block, 'text', '') for block in answer.content)
        return ' '.join(text.strip().strip('"\'').split())[:80] or None

    async def close(self) -> None:
        await self._client.close()


STREAM_EVENTS: dict[str, type[Any]] = {
    'message_start': anthropic.types.RawMessageStartEvent,
    'message_delta': anthropic.types.RawMessageDeltaEvent,
    'content_block_start': anthropic.types.RawContentBlockStartEvent,
    'content_block_delta': anthropic.types.RawContentBlockDeltaEvent,
    'content_block_stop': anthropic.types.RawContentBlockStopEvent,
}
"""The events a reply is read from, by their `type` (`message_stop` and unknown ones are skipped)."""


def _error_event(data: str, response: httpx2.Response) -> anthropic.APIStatusError:
    """An `event: error` in the middle of the stream, raised as the SDK raises it: a status error with the HTTP
    status of the stream (200) and the event's body."""
    try:
        body: Any = json.loads(data)
        message = str(body)
    except ValueError:
        body, message = data, data or f'Error code: {response.status_code}'
    return anthropic.APIStatusError(message, response=response, body=body)


def request_options(options: Options, max_tokens: int, *, prefill: bool, adaptive: bool = False) -> dict[str, Any]:
    """`max_tokens`, `thinking` and `tools` of a request for these options.

    Thinking comes on top of the room's max tokens (the API counts it in `max_tokens`). A Continue (an assistant
    prefill) is sent without thinking: the API refuses a prefill that does not start with a thinking block. A model
    that thinks only `adaptive`ly takes no budget: it decides how much to think within the room it is given.
    """
    extra: dict[str, Any] = {'max_tokens': max_tokens}
    if options.thinking_budget and not prefill:
        extra['max_tokens'] = max_tokens + options.thinking_budget
        extra['thinking'] = {'type': 'adaptive'} if adaptive else \
            {'type': 'enabled', 'budget_tokens': options.thinking_budget}
    if options.web_search:
        extra['tools'] = [WEB_SEARCH_TOOL]
    return extra


def continued(messages: list[Any], extra: dict[str, Any], blocks: list[Block]) -> tuple[list[Any], dict[str, Any]]:
    """The request that lets Claude go on with a paused turn: the same, with the response so far (`blocks`, unchanged)
    as its last assistant turn, after the prefill of a Continue if the request had one.

    With thinking on, a last assistant turn must start with a thinking block: a paused turn that thinks does (its
    thinking comes first); one that does not goes on without thinking, as a Continue does.
    """
    if not blocks:
        return messages, extra
    content = blocks
    if messages and messages[-1]['role'] == 'assistant':
        prefill = messages[-1]['content']
        content = [*([{'type': 'text', 'text': prefill}] if isinstance(prefill, str) else prefill), *blocks]
        messages = messages[:-1]
    if 'thinking' in extra and content[0].get('type') not in ('thinking', 'redacted_thinking'):
        extra = {name: value for name, value in extra.items() if name != 'thinking'}
    return [*messages, {'role': 'assistant', 'content': content}], extra


def facts_of(model: Any) -> ModelFacts:
    """A model's facts from the API's model info: it thinks if it takes a budget (`enabled`) or thinks as it decides
    (`adaptive` only); unknown when its capabilities do not say."""
    types = getattr(getattr(getattr(model, 'capabilities', None), 'thinking', None), 'types', None)
    enabled, adaptive = (getattr(getattr(types, kind, None), 'supported', None) for kind in ('enabled', 'adaptive'))
    if not isinstance(enabled, bool) and not isinstance(adaptive, bool):
        return ModelFacts(model.id)
    return ModelFacts(model.id, enabled is True or adaptive is True, adaptive is True and enabled is not True)


def merged_usage(start: Any, delta: Any) -> Any:
    """The usage of `message_start` updated with the counts a `message_delta` carries (output tokens, at least)."""
    names = ('input_tokens', 'output_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens',
             'server_tool_use')
    counts = {name: value for name in names if (value := getattr(delta, name, None)) is not None}
    return start.model_copy(update=counts)


def usage_of(usage: Any) -> Usage:
    return Usage(input_tokens=usage.input_tokens or 0, output_tokens=usage.output_tokens or 0,
                 cache_read_tokens=getattr(usage, 'cache_read_input_tokens', None) or 0,
                 cache_write_tokens=getattr(usage, 'cache_creation_input_tokens', None) or 0,
                 web_searches=getattr(getattr(usage, 'server_tool_use', None), 'web_search_requests', None) or 0)


async def _request_sent(request: httpx2.Request) -> None:
    """A request that follows one without an answer: the SDK retries after a connection error; say so at once rather
    than show an empty reply for seconds."""
    if (tries := _tries.get()) is None:
        return
    if tries.sent > tries.answered:
        tries.answered = tries.sent
        tries.listener('the Rooms server could not reach the model')
    tries.sent += 1


async def _report_retry(response: httpx2.Response) -> None:
    if (tries := _tries.get()) is None:
        return
    tries.answered = tries.sent
    if response.status_code in RETRIED_STATUSES:
        tries.listener(RETRY_REASONS.get(response.status_code, f'the API answered {response.status_code}'))


RETRY_REASONS = {429: 'Claude is rate-limited (429)', 529: 'Claude is overloaded (529)'}
