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
naming the block (``messages.0.content.1.image.source.base64: image exceeds 5 MB maximum: ...``), and so does a request
of more than 100 images or 100 PDF pages (a PDF's pages: its page tree's ``/Count``); a body over 32 MB gets a 413
``request_too_large``; neither consumes a scripted reply. ``blocks(kind)`` lists the blocks of a kind received.

``enqueue_blocks`` scripts a reply of several content blocks, as a reply with thinking or web search has them:
``{'thinking': [chunks]}`` (thinking deltas, then a signature), ``{'redacted': True}`` (an encrypted block),
``{'search': query, 'results': [{'url', 'title'}]}`` (a ``server_tool_use`` block whose input JSON streams in two
pieces, then, ``'seconds'`` later, a ``web_search_tool_result``; ``'error': code`` instead of results for a failed
search), ``{'text': [chunks], 'citations': [{'url', 'title', 'cited_text'}]}`` (a text block whose
``citations_delta`` events come before its text) and ``{'unknown': kind}`` (a block, delta and event of kinds this
SDK does not know). ``thinking`` in a request is checked like the API does (enabled with 1,024 <= budget_tokens <
max_tokens, a model that can think, ``adaptive`` without a budget for ``adaptive_only`` models, a last assistant turn
only if it starts with a thinking block), and so are
``web_search`` tools.

A streamed reply ends with ``stop_reason`` ``end_turn`` unless ``enqueue_text`` / ``enqueue_blocks`` name another:
``max_tokens`` (cut off at the request's limit), ``refusal`` or ``pause_turn`` (a long server-tool turn paused; the
client sends the reply back as the last assistant turn of a new request, which takes the next scripted reply). Blocks
of the fake's own replies sent back are checked as the API checks them (fake_checks.sent_back_problem): only in an
assistant turn and unchanged, thinking with the signature it was given (``signature``), search results and
citations with their encrypted content (``encrypted``), each search result after its ``server_tool_use``.

Usage: ``input_tokens`` estimated from the request (fake_replies.estimate_tokens), ``output_tokens`` one per text or
thinking delta streamed (``Script.output_tokens``), ``server_tool_use.web_search_requests`` per search.

Observability: ``requests`` / ``request_headers`` (JSON bodies and lower-cased headers of POST /v1/messages, in order),
``calls`` ((method, path) of every request), ``disconnects`` (time.time() of each stream the client closed before
its end, detected at once, even between paced deltas), ``active_streams``, ``wait_disconnect()``, ``wait_requests()``.

This module is the server (HTTP parsing, routing, the queues, streaming). Its parts: fake_replies.py (``Script``, the
timestamped words and ``parse_words``, the echo reply, the JSON bodies of messages, errors and models; re-exported
here), fake_checks.py (what a request is refused for), fake_blocks.py (thinking, search and cited-text blocks) and
fake_sse.py (writing server-sent events).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from http import HTTPStatus
from typing import Any

from .fake_blocks import send_blocks
from .fake_checks import option_problem, request_problem
from .fake_replies import (
    DEFAULT_MODELS,
    WORD_RE,
    Script,
    echo_script,
    error_body,
    estimate_tokens,
    file_blocks,
    message_text,
    model_info,
    new_message,
    parse_word_timestamp,
    parse_words,
)
from .fake_sse import ClientGone, send_event, wait_eof

# Re-exported: the scripts and JSON bodies live in fake_replies.py, and tests import them from here.
__all__ = [
    'DEFAULT_MODELS', 'ERROR_TYPES', 'WORD_RE', 'FakeAnthropic', 'Script', 'echo_script', 'error_body',
    'estimate_tokens', 'file_blocks', 'message_text', 'model_info', 'new_message', 'parse_word_timestamp',
    'parse_words', 'poll',
]


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
MAX_REQUEST_BYTES = 32 * 1024 * 1024
SSE_HEADERS = {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'transfer-encoding': 'chunked',
}


class FakeAnthropic:
    def __init__(self, models: Sequence[str] = DEFAULT_MODELS, host: str = '127.0.0.1', port: int = 0,
                 cannot_think: Sequence[str] = (), adaptive_only: Sequence[str] = ()) -> None:
        """:param cannot_think: models whose capabilities say they cannot think (a request asking them to is refused)
        :param adaptive_only: models that think only `adaptive`ly (a request with a budget is refused)"""
        self.models, self.host, self.port = list(models), host, port
        self.cannot_think, self.adaptive_only = set(cannot_think), set(adaptive_only)
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

    def enqueue_text(self, chunks: list[str], delay: float = 0.0, stop_reason: str = 'end_turn') -> None:
        """The next reply's text, in these deltas, ending with `stop_reason` (see the module's docstring)."""
        self._scripts.append(Script('text', list(chunks), delay, stop_reason=stop_reason))

    def enqueue_blocks(self, blocks: list[dict[str, Any]], delay: float = 0.0, stop_reason: str = 'end_turn') -> None:
        """The next streamed reply: thinking, searches and cited text (see the module's docstring)."""
        self._scripts.append(Script('blocks', delay=delay, blocks=list(blocks), stop_reason=stop_reason))

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
            elif (problem := request_problem(body) or
                  option_problem(body, self.cannot_think, self.adaptive_only)) is not None:
                await self._send_json(writer, 400, error_body('invalid_request_error', problem))
            else:
                return await self._messages(body, reader, writer)
            return headers.get('connection', '').lower() != 'close'
        if method == 'POST' and path == '/v1/messages/count_tokens':
            await self._send_json(writer, 200, {'input_tokens': estimate_tokens(body)})
        elif method == 'GET' and path == '/v1/models':
            ids = {'first_id': self.models[0], 'last_id': self.models[-1]} if self.models else {}
            page = {'data': [self._info(m) for m in self.models], 'has_more': False, **ids}
            await self._send_json(writer, 200, page)
        elif method == 'GET' and model in self.models:
            await self._send_json(writer, 200, self._info(model))
        else:
            await self._send_json(writer, 404, error_body('not_found_error', f'{method} {path} not found'))
        return headers.get('connection', '').lower() != 'close'

    def _info(self, model: str) -> dict[str, Any]:
        return model_info(model, model not in self.cannot_think, model in self.adaptive_only)

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
            message = new_message(body, content=[{'type': 'text', 'text': text}], stop_reason=script.stop_reason)
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
                searches = await send_blocks(script.blocks, script.delay, writer, eof, self._ids)
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
        delta = {'stop_reason': script.stop_reason, 'stop_sequence': None}
        usage: dict[str, Any] = {'output_tokens': script.output_tokens}
        if searches:
            usage['server_tool_use'] = {'web_search_requests': searches}
        await send_event(writer, eof, 'message_delta', {'type': 'message_delta', 'delta': delta, 'usage': usage})
        await send_event(writer, eof, 'message_stop', {'type': 'message_stop'})
        writer.write(b'0\r\n\r\n')
        await writer.drain()
        return True


async def poll(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for `condition` by polling, which works whichever thread the fake runs in."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f'fake anthropic: no {what} within {timeout} s')
        await asyncio.sleep(0.005)
