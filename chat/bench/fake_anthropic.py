"""Loopback fake of the Anthropic Messages API for tests: pure asyncio + stdlib, HTTP/1.1 keep-alive, chunked SSE.

    async with FakeAnthropic() as fake:  # in the test's event loop
        client = anthropic.AsyncAnthropic(api_key='test-key', base_url=fake.base_url)
    with FakeAnthropic.in_thread() as fake:  # own loop in a daemon thread, e.g. for an app run as a subprocess
        env = {'ANTHROPIC_BASE_URL': fake.base_url, 'ANTHROPIC_API_KEY': 'test-key'}

Serves POST /v1/messages (SSE if ``"stream": true``, else JSON), POST /v1/messages/count_tokens, GET /v1/models[/id].
Each streaming POST /v1/messages consumes the next scripted reply (``enqueue_*``, callable from any thread), each
non-streaming one the next ``enqueue_plain`` text; with an empty queue a stream answers ``Echo: <last user text>``
and a non-streaming call ``A fine title``.

``enqueue_words`` sends words ``w<index>@<time.time() when sent, 6 decimals> `` (e.g. ``w17@1732412345.123456 ``),
read back with ``parse_word_timestamp`` (one word) or ``parse_words`` (any text, however re-chunked).

Content blocks are checked the way the API checks them: ``text``, ``image`` (base64 PNG, JPEG, GIF or WebP: at most
5 MB of base64, 8000 px a side, 2000 px when a request has more than 20 images, bytes of the type it names) and
``document`` (a base64 PDF or a text/plain text source); a bad one gets the API's 400 ``invalid_request_error``
naming the block (``messages.0.content.1.image.source.base64: image exceeds 5 MB maximum: ...``), a body over 32 MB a
413 ``request_too_large``; neither consumes a scripted reply. ``blocks(kind)`` lists the blocks of a kind received.

``enqueue_blocks`` scripts a reply of several content blocks, as a reply with thinking or web search has them:
``{'thinking': [chunks]}`` (thinking deltas, then a signature), ``{'redacted': True}`` (an encrypted block),
``{'search': query, 'results': [{'url', 'title'}]}`` (a ``server_tool_use`` block whose input JSON streams in two
pieces, then, ``'seconds'`` later, a ``web_search_tool_result``; ``'error': code`` instead of results for a failed
search) and
``{'text': [chunks], 'citations': [{'url', 'title', 'cited_text'}]}`` (a text block whose ``citations_delta`` events
come before its text). ``thinking`` in a request is checked like the API does (enabled with 1,024 <= budget_tokens <
max_tokens, a model that can think, no assistant prefill), and so are ``web_search`` tools.

Observability: ``requests`` / ``request_headers`` (JSON bodies and lower-cased headers of POST /v1/messages, in order),
``calls`` ((method, path) of every request), ``disconnects`` (time.time() of each stream the client closed before
its end, detected at once, even between paced deltas), ``active_streams``, ``wait_disconnect()``, ``wait_requests()``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import itertools
import json
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

ERROR_TYPES = {
    400: 'invalid_request_error',
    401: 'authentication_error',
    403: 'permission_error',
    404: 'not_found_error',
    413: 'request_too_large',
    429: 'rate_limit_error',
    500: 'api_error',
    529: 'overloaded_error',
}
DEFAULT_MODELS = ('claude-sonnet-5-5', 'claude-haiku-5-5', 'claude-opus-5-5')
WORD_RE = re.compile(r'w(\d+)@(\d+\.\d+)')
IMAGE_MEDIA_TYPES = ('image/jpeg', 'image/png', 'image/gif', 'image/webp')
MAX_IMAGE_BASE64 = 5 * 1024 * 1024
MAX_IMAGE_EDGE = 8000
MANY_IMAGES, MANY_IMAGES_EDGE = 20, 2000
MAX_REQUEST_BYTES = 32 * 1024 * 1024
BLOCK_TAGS = ('text', 'image', 'document', 'search_result', 'thinking', 'redacted_thinking', 'tool_use',
              'tool_result', 'server_tool_use', 'web_search_tool_result')
SSE_HEADERS = {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'transfer-encoding': 'chunked',
}



def parse_word_timestamp(word: str) -> tuple[int, float]:
    """``'w17@1732412345.123456 '`` -> ``(17, 1732412345.123456)``: index and time.time() when it was sent."""
    match = WORD_RE.fullmatch(word.strip())
    if match is None:
        raise ValueError(f'not a timestamped word: {word!r}')
    return int(match[1]), float(match[2])


def parse_words(text: str) -> list[tuple[int, float]]:
    return [(int(index), float(sent_at)) for index, sent_at in WORD_RE.findall(text)]


def error_body(error_type: str, message: str | None = None) -> dict[str, Any]:
    return {'type': 'error', 'error': {'type': error_type, 'message': message or error_type.replace('_', ' ')}}


class ClientGone(Exception):
    """The client closed the connection while a stream was being sent."""


@dataclass
class Script:
    """One scripted reply; kind is text | words | status | error_event | drop | hang."""

    kind: str
    chunks: list[str] = field(default_factory=list)
    delay: float = 0.0
    n_words: int = 0
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    paragraph: int = 0
    """words: end a paragraph (a blank line) after every this many words; 0: one paragraph."""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    """blocks: the reply's content blocks (see enqueue_blocks)."""

    @property
    def count(self) -> int:
        return self.n_words if self.kind == 'words' else len(self.chunks)

    def chunk(self, index: int) -> str:
        if self.kind != 'words':
            return self.chunks[index]
        end = '\n\n' if self.paragraph and (index + 1) % self.paragraph == 0 else ''
        return f'w{index}@{time.time():.6f} {end}'


class FakeAnthropic:
    def __init__(self, models: Sequence[str] = DEFAULT_MODELS, host: str = '127.0.0.1', port: int = 0,
                 cannot_think: Sequence[str] = ()) -> None:
        """:param cannot_think: models whose capabilities say they cannot think (a request asking them to is refused)"""
        self.models, self.host, self.port = list(models), host, port
        self.cannot_think = set(cannot_think)
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self.calls: list[tuple[str, str]] = []
        self.disconnects: list[float] = []
        self.active_streams = 0
        self._scripts: deque[Script] = deque()
        self._plain_scripts: deque[Script] = deque()  # for non-streaming calls, so they never take a reply's
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def base_url(self) -> str:
        return f'http://{self.host}:{self.port}'

    def enqueue_text(self, chunks: list[str], delay: float = 0.0) -> None:
        self._scripts.append(Script('text', list(chunks), delay))

    def enqueue_blocks(self, blocks: list[dict[str, Any]], delay: float = 0.0) -> None:
        """The next streamed reply: thinking, searches and cited text (see the module's docstring)."""
        self._scripts.append(Script('blocks', delay=delay, blocks=list(blocks)))

    def enqueue_plain(self, chunks: list[str]) -> None:
        """The text of the next non-streaming call (e.g. a title suggestion); streaming calls never take it."""
        self._plain_scripts.append(Script('text', list(chunks)))

    def enqueue_words(self, n_words: int, rate: float, paragraph: int = 0) -> None:
        self._scripts.append(Script('words', delay=1 / rate, n_words=n_words, paragraph=paragraph))

    def enqueue_status(
        self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> None:
        # The SDK treats `retry-after: 0` as "no hint" (~0.5 s backoff) but honours `retry-after-ms: 1`.
        default = {'retry-after': '0', 'retry-after-ms': '1'} if status in (429, 529) else {}
        body = body or error_body(ERROR_TYPES.get(status, 'api_error'))
        self._scripts.append(Script('status', status=status, body=body, headers={**default, **(headers or {})}))

    def enqueue_error_event(
        self, chunks_before: list[str], error_type: str = 'overloaded_error', message: str = 'Overloaded'
    ) -> None:
        self._scripts.append(Script('error_event', list(chunks_before), body=error_body(error_type, message)))

    def enqueue_drop(self, chunks_before: list[str]) -> None:
        self._scripts.append(Script('drop', list(chunks_before)))

    def enqueue_hang(self, chunks_before: list[str]) -> None:
        self._scripts.append(Script('hang', list(chunks_before)))

    def blocks(self, kind: str) -> list[dict[str, Any]]:
        """Every content block of this type (``image``, ``document``, ``text``) in the messages received, in order."""
        return [block for body in self.requests for message in body.get('messages', [])
                if isinstance(message.get('content'), list) for block in message['content']
                if isinstance(block, dict) and block.get('type') == kind]

    async def wait_disconnect(self, timeout: float = 1.0, count: int = 1) -> float:
        """Wait until `count` streams in all were closed early by the client; return when the last one was."""
        await poll(lambda: len(self.disconnects) >= count, timeout, f'{count} disconnect(s)')
        return self.disconnects[count - 1]

    async def wait_requests(self, count: int, timeout: float = 5.0) -> None:
        await poll(lambda: len(self.requests) >= count, timeout, f'{count} request(s)')

    async def start(self) -> FakeAnthropic:
        self._server = await asyncio.start_server(self._handle, self.host, self.port, limit=2**22)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeAnthropic:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, **kwargs: Any) -> Iterator[FakeAnthropic]:
        """Run the fake on its own event loop in a daemon thread."""
        fake, loop = cls(**kwargs), asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name='fake-anthropic', daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=10)
            yield fake
        finally:
            asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away between requests
        except asyncio.CancelledError:
            pass  # stop(): Python 3.11 logs an error for a cancelled client_connected_cb task
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return whether to keep the connection open."""
        head = await reader.readuntil(b'\r\n\r\n')
        request_line, *header_lines = head.decode('latin-1').split('\r\n')[:-2]
        method, target, _ = request_line.split(' ', 2)
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(':', 1) for line in header_lines)}
        raw = await reader.readexactly(int(headers.get('content-length', 0)))
        body, path = json.loads(raw) if raw else {}, target.split('?', 1)[0]
        self.calls.append((method, path))
        model = path.removeprefix('/v1/models/')
        if method == 'POST' and path == '/v1/messages':
            self.requests.append(body)
            self.request_headers.append(headers)
            if len(raw) > MAX_REQUEST_BYTES:
                await self._send_json(writer, 413, error_body('request_too_large', 'Request exceeds the maximum size'))
            elif (problem := request_problem(body) or self._option_problem(body)) is not None:
                await self._send_json(writer, 400, error_body('invalid_request_error', problem))
            else:
                return await self._messages(body, reader, writer)
            return headers.get('connection', '').lower() != 'close'
        if method == 'POST' and path == '/v1/messages/count_tokens':
            await self._send_json(writer, 200, {'input_tokens': estimate_tokens(body)})
        elif method == 'GET' and path == '/v1/models':
            ids = {'first_id': self.models[0], 'last_id': self.models[-1]} if self.models else {}
            page = {'data': [model_info(m, m not in self.cannot_think) for m in self.models], 'has_more': False, **ids}
            await self._send_json(writer, 200, page)
        elif method == 'GET' and model in self.models:
            await self._send_json(writer, 200, model_info(model, model not in self.cannot_think))
        else:
            await self._send_json(writer, 404, error_body('not_found_error', f'{method} {path} not found'))
        return headers.get('connection', '').lower() != 'close'

    def _option_problem(self, body: dict[str, Any]) -> str | None:
        """What the API would refuse in a request's `thinking` and `tools`, or None."""
        thinking = body.get('thinking')
        if thinking is not None and thinking.get('type') != 'disabled':
            budget = thinking.get('budget_tokens')
            if thinking.get('type') != 'enabled' or type(budget) is not int:
                return 'thinking.enabled.budget_tokens: Field required'
            if budget < 1024:
                return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024'
            if body.get('max_tokens', 0) <= budget:
                return '`max_tokens` must be greater than `thinking.budget_tokens`.'
            if body.get('model') in self.cannot_think:
                return f'thinking is not supported on model {body.get("model")}'
            messages = body.get('messages') or [{}]
            last = messages[-1].get('content')
            first = 'text' if isinstance(last, str) else last[0].get('type')
            if messages[-1].get('role') == 'assistant' and first not in ('thinking', 'redacted_thinking'):
                return (f'messages.{len(messages) - 1}.content.0.type: Expected `thinking` or `redacted_thinking`, '
                        'but found `text`. When `thinking` is enabled, a final `assistant` message must start '
                        'with a thinking block.')
        for i, tool in enumerate(body.get('tools') or []):
            if tool.get('type') != 'web_search_20250305' or tool.get('name') != 'web_search':
                return f'tools.{i}: this fake knows only the web_search_20250305 server tool named web_search'
            if 'max_uses' in tool and (type(tool['max_uses']) is not int or tool['max_uses'] < 1):
                return f'tools.{i}.max_uses: Input should be greater than or equal to 1'
        return None

    async def _send_blocks(self, script: Script, writer: asyncio.StreamWriter, eof: asyncio.Future[None]) -> int:
        """Stream a `blocks` script's content blocks; returns how many searches it ran."""
        searches = 0

        async def event(name: str, data: dict[str, Any]) -> None:
            await send_event(writer, eof, name, {'type': name, **data})

        async def deltas(index: int, pieces: list[dict[str, Any]]) -> None:
            for delta in pieces:
                if script.delay:
                    await asyncio.wait([eof], timeout=script.delay)
                await event('content_block_delta', {'index': index, 'delta': delta})

        index = 0
        for block in script.blocks:
            if 'thinking' in block:
                start = {'type': 'thinking', 'thinking': '', 'signature': ''}
                await event('content_block_start', {'index': index, 'content_block': start})
                signature = {'type': 'signature_delta', 'signature': base64.b64encode(b'fake signature').decode()}
                await deltas(index, [*({'type': 'thinking_delta', 'thinking': chunk} for chunk in block['thinking']),
                                     signature])
            elif block.get('redacted'):
                await event('content_block_start', {'index': index, 'content_block': {
                    'type': 'redacted_thinking', 'data': base64.b64encode(b'encrypted thinking').decode()}})
            elif 'search' in block:
                searches += 1
                tool_id = f'srvtoolu_fake_{next(self._ids)}'
                await event('content_block_start', {'index': index, 'content_block': {
                    'type': 'server_tool_use', 'id': tool_id, 'name': 'web_search', 'input': {}}})
                partial = json.dumps({'query': block['search']})
                await deltas(index, [{'type': 'input_json_delta', 'partial_json': piece}
                                     for piece in (partial[:len(partial) // 2], partial[len(partial) // 2:])])
                await event('content_block_stop', {'index': index})
                index += 1
                if block.get('seconds'):  # the search itself takes a while
                    await asyncio.wait([eof], timeout=block['seconds'])
                content: Any = {'type': 'web_search_tool_result_error', 'error_code': block['error']} \
                    if 'error' in block else \
                    [{'type': 'web_search_result', 'url': r['url'], 'title': r['title'], 'page_age': None,
                      'encrypted_content': base64.b64encode(r['url'].encode()).decode()} for r in block['results']]
                await event('content_block_start', {'index': index, 'content_block': {
                    'type': 'web_search_tool_result', 'tool_use_id': tool_id, 'content': content}})
            else:
                cited = block.get('citations') or []
                start = {'type': 'text', 'text': '', **({'citations': []} if cited else {})}
                await event('content_block_start', {'index': index, 'content_block': start})
                await deltas(index, [{'type': 'citations_delta', 'citation': {
                    'type': 'web_search_result_location', 'url': c['url'], 'title': c['title'],
                    'cited_text': c.get('cited_text', ''), 'encrypted_index': 'ZmFrZQ=='}} for c in cited]
                    + [{'type': 'text_delta', 'text': chunk} for chunk in block.get('text', [])])
            await event('content_block_stop', {'index': index})
            index += 1
        return searches

    def _head(self, status: int, headers: dict[str, str]) -> bytes:
        reason = 'Overloaded' if status == 529 else HTTPStatus(status).phrase
        lines = [f'HTTP/1.1 {status} {reason}', f'request-id: req_fake_{next(self._ids)}']
        lines += [f'{name}: {value}' for name, value in headers.items()]
        return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')

    async def _send_json(
        self, writer: asyncio.StreamWriter, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        head = {'content-type': 'application/json', 'content-length': str(len(data)), **(headers or {})}
        writer.write(self._head(status, head) + data)
        await writer.drain()

    async def _messages(self, body: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        queue = self._scripts if body.get('stream') else self._plain_scripts
        default = echo_script(body) if body.get('stream') else Script('text', ['A fine title'])
        script = queue.popleft() if queue else default
        if script.kind == 'status':
            await self._send_json(writer, script.status, script.body, script.headers)
        elif body.get('stream'):
            return await self._stream(script, body, reader, writer)
        elif script.kind in ('drop', 'hang'):  # non-streaming: no response at all
            if script.kind == 'hang':
                await wait_eof(reader)
            return False
        elif script.kind == 'error_event':
            overloaded = script.body['error']['type'] == 'overloaded_error'
            await self._send_json(writer, 529 if overloaded else 500, script.body)
        else:
            text = ''.join(script.chunk(i) for i in range(script.count))
            message = new_message(body, content=[{'type': 'text', 'text': text}], stop_reason='end_turn')
            message['usage']['output_tokens'] = script.count
            await self._send_json(writer, 200, message)
        return True

    async def _stream(
        self, script: Script, body: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        eof = asyncio.ensure_future(wait_eof(reader))
        self.active_streams += 1
        try:
            writer.write(self._head(200, SSE_HEADERS))
            await send_event(writer, eof, 'message_start', {'type': 'message_start', 'message': new_message(body)})
            if script.kind == 'blocks':
                searches = await self._send_blocks(script, writer, eof)
                return await self._finish(script, writer, eof, searches)
            block = {'type': 'content_block_start', 'index': 0, 'content_block': {'type': 'text', 'text': ''}}
            await send_event(writer, eof, 'content_block_start', block)
            await send_event(writer, eof, 'ping', {'type': 'ping'})
            due = time.monotonic()
            for index in range(script.count):
                # Words keep their rate (no drift); text sleeps `delay` between deltas. Either wakes if the client goes.
                if index:
                    due = (due if script.kind == 'words' else time.monotonic()) + script.delay
                if (pause := due - time.monotonic()) > 0:
                    await asyncio.wait([eof], timeout=pause)
                delta = {'type': 'text_delta', 'text': script.chunk(index)}
                await send_event(
                    writer, eof, 'content_block_delta', {'type': 'content_block_delta', 'index': 0, 'delta': delta}
                )
            return await self._finish(script, writer, eof)
        except ClientGone:
            self.disconnects.append(time.time())
            return False
        finally:
            self.active_streams -= 1
            eof.cancel()
            await asyncio.wait([eof])  # let the read end before the next request is read

    async def _finish(self, script: Script, writer: asyncio.StreamWriter, eof: asyncio.Future[None],
                      searches: int = 0) -> bool:
        if script.kind == 'drop':
            return False  # the caller closes the socket mid-body: no message_stop, no last chunk
        if script.kind == 'hang':
            await eof
            raise ClientGone
        if script.kind == 'error_event':
            await send_event(writer, eof, 'error', script.body)
            writer.write(b'0\r\n\r\n')
            return False
        if script.kind != 'blocks':
            await send_event(writer, eof, 'content_block_stop', {'type': 'content_block_stop', 'index': 0})
        delta = {'stop_reason': 'end_turn', 'stop_sequence': None}
        usage: dict[str, Any] = {'output_tokens': script.count or 10 * len(script.blocks)}
        if searches:
            usage['server_tool_use'] = {'web_search_requests': searches}
        await send_event(writer, eof, 'message_delta', {'type': 'message_delta', 'delta': delta, 'usage': usage})
        await send_event(writer, eof, 'message_stop', {'type': 'message_stop'})
        writer.write(b'0\r\n\r\n')
        await writer.drain()
        return True


async def send_event(writer: asyncio.StreamWriter, eof: asyncio.Future[None], event: str, data: object) -> None:
    if eof.done():
        raise ClientGone
    payload = f'event: {event}\ndata: {json.dumps(data)}\n\n'.encode()
    writer.write(f'{len(payload):x}\r\n'.encode() + payload + b'\r\n')
    try:
        await writer.drain()
    except ConnectionError as exc:
        raise ClientGone from exc


async def wait_eof(reader: asyncio.StreamReader) -> None:
    """Return when the client closes its side (HTTP/1.1 clients send nothing while awaiting a response)."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass


async def poll(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for `condition` by polling, which works whichever thread the fake runs in."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f'fake anthropic: no {what} within {timeout} s')
        await asyncio.sleep(0.005)


def request_problem(body: dict[str, Any]) -> str | None:
    """What the API would refuse in the content blocks of a request (its 400 message), or None."""
    images: list[tuple[str, tuple[int, int]]] = []
    for i, message in enumerate(body.get('messages', [])):
        content = message.get('content')
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            return f'messages.{i}.content: Input should be a valid list'
        for j, block in enumerate(content):
            where, kind = f'messages.{i}.content.{j}', block.get('type') if isinstance(block, dict) else None
            if kind not in BLOCK_TAGS:
                tags = ', '.join(f"'{tag}'" for tag in BLOCK_TAGS)
                return f"{where}: Input tag '{kind}' found using 'type' does not match any of the expected tags: {tags}"
            if kind == 'text':
                if not isinstance(block.get('text'), str):
                    return f'{where}.text.text: Field required'
                if not block['text']:
                    return 'messages: text content blocks must be non-empty'
            elif kind == 'image':
                found = image_problem(block.get('source'), f'{where}.image.source')
                if isinstance(found, str):
                    return found
                images.append((f'{where}.image.source.base64.data', found))
            elif kind == 'document' and (problem := document_problem(block.get('source'), f'{where}.document.source')):
                return problem
    if len(images) > MANY_IMAGES:
        for where, size in images:
            if max(size) > MANY_IMAGES_EDGE:
                return (f'{where}: At least one of the image dimensions exceed max allowed size for many-image '
                        f'requests: {MANY_IMAGES_EDGE} pixels')
    return None


def image_problem(source: Any, where: str) -> str | tuple[int, int]:
    """The API's complaint about an image source, or the image's size."""
    if not isinstance(source, dict) or source.get('type') != 'base64':
        return f"{where}: Input tag '{source.get('type') if isinstance(source, dict) else None}' found using 'type' " \
               "does not match any of the expected tags: 'base64', 'url', 'file'"
    declared, data = source.get('media_type'), source.get('data')
    if declared not in IMAGE_MEDIA_TYPES:
        return f"{where}.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
    if not isinstance(data, str):
        return f'{where}.base64.data: Field required'
    if len(data) > MAX_IMAGE_BASE64:
        return f'{where}.base64: image exceeds 5 MB maximum: {len(data)} bytes > {MAX_IMAGE_BASE64} bytes'
    try:
        raw = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        return f'{where}.base64.data: Invalid base64 data'
    actual = image_type(raw)
    if actual is None:
        return f'{where}.base64.data: Could not process image'
    if actual != declared:
        return (f'{where}.base64.data: The image was specified using the {declared} media type, but the image '
                f'appears to be a {actual} image')
    size = image_size(raw, actual)
    if size is None:
        return f'{where}.base64.data: Could not process image'
    if max(size) > MAX_IMAGE_EDGE:
        return f'{where}.base64.data: At least one of the image dimensions exceed max allowed size: 8000 pixels'
    return size


def document_problem(source: Any, where: str) -> str | None:
    if not isinstance(source, dict):
        return f'{where}: Field required'
    if source.get('type') == 'text':
        if source.get('media_type') != 'text/plain':
            return f"{where}.text.media_type: Input should be 'text/plain'"
        return None if isinstance(source.get('data'), str) else f'{where}.text.data: Field required'
    if source.get('type') != 'base64':
        return f"{where}: Input tag '{source.get('type')}' found using 'type' does not match any of the expected " \
               "tags: 'base64', 'text', 'content', 'url', 'file'"
    if source.get('media_type') != 'application/pdf':
        return f"{where}.base64.media_type: Input should be 'application/pdf'"
    try:
        raw = base64.b64decode(source.get('data') or '', validate=True)
    except (ValueError, binascii.Error):
        return f'{where}.base64.data: Invalid base64 data'
    return None if raw.startswith(b'%PDF-') else f'{where}.base64.data: The PDF specified was not valid.'


def image_type(data: bytes) -> str | None:
    if data.startswith(b'\x89PNG\r\n\x1a\n'):
        return 'image/png'
    if data.startswith(b'\xff\xd8\xff'):
        return 'image/jpeg'
    if data[:6] in (b'GIF87a', b'GIF89a'):
        return 'image/gif'
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'image/webp'
    return None


def image_size(data: bytes, media_type: str) -> tuple[int, int] | None:
    """Width and height from an image's header (no decoding), None when the header is damaged."""
    try:
        if media_type == 'image/png':
            return struct.unpack('>II', data[16:24])
        if media_type == 'image/gif':
            return struct.unpack('<HH', data[6:10])
        if media_type == 'image/webp':
            chunk = data[12:16]
            if chunk == b'VP8X':
                return 1 + int.from_bytes(data[24:27], 'little'), 1 + int.from_bytes(data[27:30], 'little')
            if chunk == b'VP8L':
                bits = int.from_bytes(data[21:25], 'little')
                return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
            width, height = struct.unpack('<HH', data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        position = 2  # JPEG: walk the segments to the frame header
        while position + 9 < len(data):
            if data[position] != 0xFF:
                return None
            marker, length = data[position + 1], struct.unpack('>H', data[position + 2:position + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack('>HH', data[position + 5:position + 9])
                return width, height
            position += 2 + length
    except struct.error:
        return None
    return None


def message_text(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return ' '.join(block.get('text', '') for block in content if block.get('type') == 'text')


def estimate_tokens(body: dict[str, Any]) -> int:
    texts = [message_text(body.get('system') or '')] + [message_text(m['content']) for m in body.get('messages', [])]
    files = sum(len(file_blocks(m['content'])) for m in body.get('messages', []))
    return max(1, sum(len(text) for text in texts) // 4 + 1600 * files)


def file_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [] if isinstance(content, str) else [b for b in content if b.get('type') in ('image', 'document')]


def echo_script(body: dict[str, Any]) -> Script:
    """``Echo: <last user text>``, naming the files it carries: ``(+ image image/png, document notes.md)``."""
    user = [m for m in body.get('messages', []) if m.get('role') == 'user']
    text = f'Echo: {message_text(user[-1]["content"]) if user else ""}'
    files = file_blocks(user[-1]['content']) if user else []
    if files:
        named = [f'image {b["source"]["media_type"]}' if b['type'] == 'image' else f'document {b.get("title", "")}'
                 for b in files]
        text += f' (+ {", ".join(named)})'
    return Script('text', re.findall(r'\S+\s*', text))


def new_message(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    usage = {
        'input_tokens': estimate_tokens(body),
        'output_tokens': 1,
        'cache_creation_input_tokens': 0,
        'cache_read_input_tokens': 0,
    }
    return {
        'id': f'msg_fake_{time.time_ns()}',
        'type': 'message',
        'role': 'assistant',
        'content': [],
        'model': body.get('model', DEFAULT_MODELS[0]),
        'stop_reason': None,
        'stop_sequence': None,
        'usage': usage,
        **fields,
    }


def model_info(model: str, thinks: bool = True) -> dict[str, Any]:
    family, _, version = model.removeprefix('claude-').partition('-')
    yes, no = {'supported': True}, {'supported': False}
    return {
        'capabilities': {
            'batch': yes, 'citations': yes, 'code_execution': no, 'image_input': yes, 'pdf_input': yes,
            'structured_outputs': yes, 'server_tools': yes,
            'thinking': {'supported': thinks, 'types': {'enabled': yes if thinks else no, 'adaptive': no,
                                                        'disabled': yes, 'between_tools': no}},
        },
        'type': 'model',
        'id': model,
        'display_name': f'Claude {family.title()} {version.replace("-", ".")}',
        'created_at': '2025-01-01T00:00:00Z',
        'lifecycle': 'active',
    }
