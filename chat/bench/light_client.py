"""A light socket client: one tab's worth of socket traffic for one room, and nothing else.

It loads the room page over HTTP (with a browser's User-Agent, so it gets a browser's page and cookie), opens the
page's socket.io connection with the query NiceGUI's page script sends (the implicit handshake), joins the room's live
updates with `rooms_sync` as message_body.js does, asks for the full text with `rooms_sync` again when it sees a gap
(as message_body.js does), acknowledges NiceGUI's messages as nicegui.js does, and records the moment every word of a
reply arrives. Engine.io and socket.io framing is done by hand over one aiohttp websocket: python-socketio's client
would cost the bench more CPU per message than the app spends, on the same two cores.

This module runs in the capacity part's worker processes (capacity_worker.py), so it does not import NiceGUI or the
app (that import alone takes seconds here): the event names come in as a `Wire`.
"""
from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp

USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
COMPLETE_WORD = re.compile(r'w(\d+)@(\d+\.\d+)\s')
"""A word of the fake model (fake_anthropic.Script.chunk) with the space after it: a word still arriving never
matches."""
ACK_SECONDS = 3.0
"""nicegui.js acknowledges the messages it has seen this often; the server prunes its resend history on an ack."""
SYNC_TIMEOUT = 5.0
"""Seconds after which an unanswered resync is forgotten, so that a later gap can ask again (message_body.js)."""
JOIN_ID = 0
"""The socket.io ack id of the first `rooms_sync`, the one that joins the room; resyncs count up from 1."""


@dataclass(frozen=True, slots=True)
class Wire:
    """The event names of chat/ui/live.py, handed in by whoever imported it."""

    delta_event: str
    sync_event: str


def deltas_of(wire: Wire, event: str, data: Any) -> list[tuple[str, int, str]]:
    """The text deltas in one socket.io event, as (body id, offset, text). The one place that knows the wire format of
    chat/ui/live.py: `rooms_text` frames, a flat list `[body, offset, text, body, offset, text, ...]` (offsets in code
    points, as Python's len counts; -1 replaces the whole text)."""
    if event != wire.delta_event or not isinstance(data, list):
        return []
    return [(str(data[i]), data[i + 1], data[i + 2]) for i in range(0, len(data) - 2, 3)
            if isinstance(data[i + 1], int) and isinstance(data[i + 2], str)]


@dataclass(slots=True)
class Body:
    """What one client has of one message body: its text so far and when each word was complete."""

    text: str = ''
    scanned: int = 0
    arrived: dict[int, float] = field(default_factory=dict)
    """Word index -> time.time() (ms) when its last character arrived."""
    sent: dict[int, float] = field(default_factory=dict)
    """Word index -> time.time() (ms) when the fake model sent it."""
    duplicates: int = 0
    gaps: int = 0
    """Deltas that started past the end of the text: some text was missed, a resync was asked for."""
    mismatches: int = 0


class LightClient:
    """One tab's worth of socket traffic for one room."""

    def __init__(self, base_url: str, room: str, wire: Wire) -> None:
        self.base_url, self.room, self.wire = base_url, room, wire
        self.bodies: dict[str, Body] = {}
        self.frames = 0
        self.received_bytes = 0
        self.resyncs = 0
        """Resyncs asked for after a gap (not the join): a tab's way to get text it missed, not a loss."""
        self.errors: list[str] = []
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._client_id = ''
        self._next_message_id = 0
        self._acked = -1
        self._joined: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Future[None]] = set()
        self._gone = False
        self._sync_id = JOIN_ID
        self._sync_asked_at: float | None = None  # monotonic time of the resync in flight
        self._sync_again = False

    async def open(self) -> None:
        """Load the page, connect its socket, join the room's updates; returns once joined."""
        self._session = browser_session()
        async with self._session.get(f'{self.base_url}/room/{self.room}') as response:
            response.raise_for_status()
            query = page_query(await response.text())
        self._client_id = str(query['client_id'])
        self._next_message_id = int(query.get('next_message_id', 0))
        params = {'client_id': self._client_id, 'next_message_id': str(self._next_message_id),
                  'implicit_handshake': 'true', 'document_id': str(uuid.uuid4()), 'tab_id': str(uuid.uuid4()),
                  'EIO': '4', 'transport': 'websocket'}
        self._ws = await self._session.ws_connect(f'{self.base_url}/_nicegui_ws/socket.io/', params=params,
                                                  autoping=True, max_msg_size=0)
        self._joined = asyncio.get_running_loop().create_future()
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._ack_now_and_then())]
        await asyncio.wait_for(asyncio.shield(self._joined), 30)

    async def close(self) -> None:
        for task in [*self._tasks, *self._sending]:
            task.cancel()
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    def most_words(self) -> int:
        """Words received in the body that got most of them: the reply being streamed."""
        return max((len(body.arrived) for body in self.bodies.values()), default=0)

    @property
    def disconnected(self) -> bool:
        """True once the app closed the socket (or it broke): a tab would reconnect and resync, losing time."""
        return self._gone

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                self._on_packet(message.data)
            self.errors.append(f'{self.room}: the socket closed (code {self._ws.close_code}, {self._ws.exception()})')
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noted and shown in the result: a client that dies loses words
            self.errors.append(f'{self.room}: {type(e).__name__}: {e}')
        self._gone = True
        if self._joined is not None and not self._joined.done():
            self._joined.set_exception(RuntimeError(f'socket of {self.room} closed before joining: {self.errors}'))

    def _on_packet(self, packet: str) -> None:
        now = time.time() * 1000
        self.frames += 1
        self.received_bytes += len(packet.encode())
        kind = packet[:1]
        if kind == '2':  # engine.io ping
            self._send('3')
        elif kind == '0':  # engine.io open: connect to socket.io's default namespace (the implicit handshake)
            self._send('40')
        elif packet.startswith('40'):  # namespace joined: join the room's live updates, as message_body.js does
            self._ask_sync(JOIN_ID, [])
        elif packet.startswith('43'):  # the answer to one of our rooms_sync
            self._on_sync_answer(packet[2:], now)
        elif packet.startswith('44'):
            self.errors.append(f'connect refused: {packet[2:200]}')
        elif packet.startswith('42'):
            event, *args = json.loads(packet[2:])
            data = args[0] if args else None
            if isinstance(data, dict) and isinstance(data.get('_id'), int):
                self._next_message_id = max(self._next_message_id, data['_id'] + 1)
            for body_id, offset, text in deltas_of(self.wire, event, data):
                self._on_delta(body_id, offset, text, now)

    def _on_delta(self, body_id: str, offset: int, text: str, now: float) -> None:
        body = self.bodies.setdefault(body_id, Body())
        if offset == -1:  # the relay replaces the whole text
            self._set_text(body, text, now)
            return
        end = len(body.text)
        if offset > end:  # some text was missed: ask for all of it, as a tab does
            body.gaps += 1
            self._resync()
            return
        if offset < end:  # a resend of text we have: fine if it is the same text
            if body.text[offset:offset + len(text)] != text[:end - offset]:
                body.mismatches += 1
            text = text[end - offset:]
            if not text:
                return
        body.text += text
        self._scan(body, now)

    def _set_text(self, body: Body, text: str, now: float) -> None:
        """The full text of a body (a resync's answer, a replacement): what follows the text we have is new."""
        if text.startswith(body.text):
            body.text = text
            self._scan(body, now)
        elif not body.text.startswith(text):  # neither ahead nor behind: the app changed text we had
            body.mismatches += 1
            body.text, body.scanned = text, len(text)

    @staticmethod
    def _scan(body: Body, now: float) -> None:
        for match in COMPLETE_WORD.finditer(body.text, body.scanned):
            index = int(match[1])
            if index in body.arrived:
                body.duplicates += 1
            else:
                body.arrived[index], body.sent[index] = now, float(match[2]) * 1000
            body.scanned = match.end()

    def _resync(self) -> None:
        """One resync at a time, as message_body.js: gaps seen while one is in flight ask again once it is answered
        (or forgotten after SYNC_TIMEOUT)."""
        if self._sync_asked_at is not None and time.monotonic() - self._sync_asked_at < SYNC_TIMEOUT:
            self._sync_again = True
            return
        self.resyncs += 1
        self._sync_id += 1
        self._sync_asked_at = time.monotonic()
        self._ask_sync(self._sync_id, list(self.bodies))

    def _ask_sync(self, ack_id: int, bodies: list[str]) -> None:
        self._send(f'42{ack_id}' + json.dumps([self.wire.sync_event, {'room': self.room, 'client_id': self._client_id,
                                                                       'msgs': bodies}]))

    def _on_sync_answer(self, packet: str, now: float) -> None:
        digits = len(packet) - len(packet.lstrip('0123456789'))
        answer_id = int(packet[:digits] or -1)
        if answer_id == JOIN_ID:
            if self._joined is not None and not self._joined.done():
                self._joined.set_result(None)
            return
        if answer_id != self._sync_id:
            return  # the answer to a resync already forgotten
        args = json.loads(packet[digits:])
        texts = args[0].get('texts') if args and isinstance(args[0], dict) else None
        for body_id, text in (texts or {}).items():
            if isinstance(text, str):
                self._set_text(self.bodies.setdefault(body_id, Body()), text, now)
        self._sync_asked_at = None
        if self._sync_again:
            self._sync_again = False
            self._resync()

    async def _ack_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(ACK_SECONDS)
            if self._acked < self._next_message_id:
                self._send('42' + json.dumps(['ack', {'client_id': self._client_id,
                                                      'next_message_id': self._next_message_id}]))
                self._acked = self._next_message_id

    def _send(self, packet: str) -> None:
        task = asyncio.ensure_future(self._send_now(packet))
        self._sending.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(self._sending.discard)

    async def _send_now(self, packet: str) -> None:
        assert self._ws is not None
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):  # closing: nothing more to say
            await self._ws.send_str(packet)


class LoopLag:
    """The worst lateness of an event loop: if the clients' loop lags, so do the latencies it records."""

    PERIOD = 0.01
    """Seconds between checks: every check is a wake-up, and those cost the shared CPUs too."""

    def __init__(self) -> None:
        self.worst_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.worst_ms = 0.0
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.PERIOD)
            self.worst_ms = max(self.worst_ms, (time.perf_counter() - before - self.PERIOD) * 1000)


def browser_session() -> aiohttp.ClientSession:
    """An HTTP session like one browser's: its User-Agent, and cookies kept even for an address like 127.0.0.1 (the
    participant cookie makes each client a person of its own), and a connection of its own for each request. A browser
    opens a websocket on a connection of its own; aiohttp would upgrade the page's keep-alive connection, and uvicorn
    can then arm its 5 s keep-alive timeout on it after the upgrade (when the page's response completes late), closing
    the socket mid-reply: a failure of the bench, not of the app."""
    return aiohttp.ClientSession(headers={'User-Agent': USER_AGENT}, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 connector=aiohttp.TCPConnector(force_close=True))


def page_query(html: str) -> dict[str, Any]:
    """The socket query NiceGUI's page passes to its script (`query: {...}`): client_id, next_message_id, ..."""
    match = re.search(r'query: (\{[^}]*\})', html)
    if match is None:
        raise RuntimeError('no socket query in the room page: not a NiceGUI page?')
    literal = match[1]
    try:
        return ast.literal_eval(literal)  # NiceGUI writes it as a Python dict literal
    except (ValueError, SyntaxError):
        return json.loads(literal)
