"""Models that write replies: the ChatModel protocol, the parts a reply streams, and Claude (with api_errors.py, the
only anthropic imports). The turns Claude is sent are made in turns.py; the offline demo model is demo.py."""
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
from .turns import Turn, cached_messages

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
MAX_SEARCHES = 5
"""Web searches Claude may run for one reply (the server tool's `max_uses`): each is billed."""
WEB_SEARCH_TOOL = {'type': 'web_search_20250305', 'name': 'web_search', 'max_uses': MAX_SEARCHES}
SEARCH_ERRORS = {
    'too_many_requests': 'too many searches at once',
    'max_uses_exceeded': f'the limit of {MAX_SEARCHES} searches per reply was reached',
    'query_too_long': 'the query was too long',
    'invalid_input': 'the query was not valid',
    'unavailable': 'web search is unavailable right now',
}


@dataclass(slots=True, frozen=True)
class Thinking:
    """A piece of the model's visible thinking; `redacted`: a block the API sent encrypted, shown as such."""

    text: str = ''
    redacted: bool = False


@dataclass(slots=True, frozen=True)
class ToolCall:
    """A server tool (web search) at work: started with `query`, then `done` with `results` found or an `error`."""

    id: str
    query: str = ''
    done: bool = False
    results: int = 0
    error: str = ''


@dataclass(slots=True, frozen=True)
class Citation:
    """A web source the text just streamed cites."""

    url: str
    title: str
    cited_text: str = ''


Part = str | Thinking | ToolCall | Citation
"""What a model streams: reply text (a str) or one of the other parts of a reply."""


@dataclass(slots=True, frozen=True)
class Options:
    """How a room wants its replies written: a thinking budget in tokens (0: no thinking) and web search."""

    thinking_budget: int = 0
    web_search: bool = False


NO_OPTIONS = Options()


@dataclass(slots=True, frozen=True)
class ModelFacts:
    """A model the API offers, and whether it can think with a budget (None: the API did not say)."""

    id: str
    thinks: bool | None = None


class ChatModel(Protocol):
    """Streams one reply part by part (text deltas, thinking, tool calls, citations); raises ModelError with a reason a
    user can act on."""

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

    context_window = 200_000
    """Tokens every current Claude model accepts at least."""

    async def stream(self, turns: Sequence[Turn], system: str, *, max_tokens: int | None = None,
                     on_retry: RetryListener | None = None, on_usage: UsageListener | None = None,
                     options: Options = NO_OPTIONS) -> AsyncIterator[Part]:
        messages = cached_messages(turns)
        extra = request_options(options, max_tokens or self.max_tokens, prefill=bool(turns) and turns[-1].role ==
                                'assistant')
        attempts = 0

        def count_retry(reason: str) -> None:
            nonlocal attempts
            attempts += 1
            if on_retry is not None and attempts <= self.max_retries:
                on_retry(f'{reason}; trying again ({attempts} of {self.max_retries})…')
        token = _tries.set(_Tries(count_retry))
        try:
            usage: Any = None
            parts = PartReader()
            async with contextlib.aclosing(self._events(system, messages, extra)) as events:  # Stop closes it now
                async for event in events:
                    if isinstance(event, str):
                        yield event  # the hot path: a text delta, one per few words
                    elif event.type == 'message_start':
                        usage = event.message.usage
                    elif event.type == 'message_delta' and usage is not None:
                        usage = merged_usage(usage, event.usage)
                    else:
                        for part in parts.read(event):
                            yield part
            if on_usage is not None and usage is not None:
                on_usage(usage_of(usage))
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

    async def _events(self, system: str, messages: list[Any], extra: dict[str, Any]) -> AsyncIterator[Any]:
        """The stream's events: a text delta as its text, every other event as the SDK's typed event.

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
                kind = data.get('type') if isinstance(data, dict) else None
                delta = data.get('delta') if kind == 'content_block_delta' else None
                if isinstance(delta, dict) and delta.get('type') == 'text_delta':
                    yield str(delta.get('text', ''))
                elif kind in STREAM_EVENTS:
                    yield STREAM_EVENTS[kind].model_construct(**data)

    async def list_models(self) -> list[ModelFacts]:
        return [ModelFacts(model.id, _can_think(model)) async for model in self._client.models.list(limit=100)]

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


def request_options(options: Options, max_tokens: int, *, prefill: bool) -> dict[str, Any]:
    """`max_tokens`, `thinking` and `tools` of a request for these options.

    Thinking comes on top of the room's max tokens (the API counts it in `max_tokens`). A Continue (an assistant
    prefill) is sent without thinking: the API refuses a prefill that does not start with a thinking block.
    """
    extra: dict[str, Any] = {'max_tokens': max_tokens}
    if options.thinking_budget and not prefill:
        extra['max_tokens'] = max_tokens + options.thinking_budget
        extra['thinking'] = {'type': 'enabled', 'budget_tokens': options.thinking_budget}
    if options.web_search:
        extra['tools'] = [WEB_SEARCH_TOOL]
    return extra


class PartReader:
    """Turns the stream events of thinking, redacted thinking, web searches and citations into reply parts.

    A search's query arrives as JSON in pieces and is told once complete; its result names the search by id. The
    sources of a text block arrive before its text and are told after it, where the reply numbers them.
    """

    def __init__(self) -> None:
        self._json: dict[int, list[str]] = {}
        self._tool_ids: dict[int, str] = {}
        self._queries: dict[str, str] = {}
        self._cited: dict[int, list[Citation]] = {}

    def read(self, event: Any) -> list[Part]:
        if event.type == 'content_block_start':
            return self._started(event.index, event.content_block)
        if event.type == 'content_block_delta':
            delta = event.delta
            if delta.type == 'thinking_delta':
                return [Thinking(delta.thinking)] if delta.thinking else []
            if delta.type == 'input_json_delta' and event.index in self._json:
                self._json[event.index].append(delta.partial_json)
            elif delta.type == 'citations_delta' and (cited := _citation(delta.citation)) is not None:
                self._cited.setdefault(event.index, []).append(cited)
            return []
        if event.type == 'content_block_stop':
            if event.index in self._json:
                tool_id = self._tool_ids[event.index]
                query = _query(''.join(self._json.pop(event.index)))
                self._queries[tool_id] = query
                return [ToolCall(tool_id, query)]
            return list(self._cited.pop(event.index, ()))
        return []

    def _started(self, index: int, block: Any) -> list[Part]:
        if block.type == 'redacted_thinking':
            return [Thinking(redacted=True)]
        if block.type == 'server_tool_use' and block.name == 'web_search':
            self._json[index], self._tool_ids[index] = [], block.id
        elif block.type == 'web_search_tool_result':
            query, content = self._queries.get(block.tool_use_id, ''), block.content
            if isinstance(content, list):
                return [ToolCall(block.tool_use_id, query, done=True, results=len(content))]
            code = str(getattr(content, 'error_code', 'unavailable'))
            return [ToolCall(block.tool_use_id, query, done=True, error=SEARCH_ERRORS.get(code, code))]
        return []


def _query(partial_json: str) -> str:
    try:
        query = json.loads(partial_json or '{}').get('query', '')
    except (ValueError, AttributeError):
        return ''
    return query if isinstance(query, str) else ''


def _citation(citation: Any) -> Citation | None:
    """A web source a text block cites (other kinds of citation, of documents, are not links)."""
    if getattr(citation, 'type', None) != 'web_search_result_location':
        return None
    return Citation(url=str(citation.url), title=str(getattr(citation, 'title', None) or ''),
                    cited_text=str(getattr(citation, 'cited_text', '') or ''))


def _can_think(model: Any) -> bool | None:
    thinking = getattr(getattr(model, 'capabilities', None), 'thinking', None)
    enabled = getattr(getattr(thinking, 'types', None), 'enabled', None)
    supported = getattr(enabled, 'supported', None)
    return supported if isinstance(supported, bool) else None


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
