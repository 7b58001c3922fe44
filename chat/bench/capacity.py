"""Capacity: how many rooms can stream at once to light socket clients, and the server's CPU per word.

A light client does what a tab does on the wire and nothing else: it loads the room page over HTTP (with a browser's
User-Agent, so it gets a browser's page and cookie), opens the page's socket.io connection with the query NiceGUI's
page script sends (the implicit handshake), joins the room's live updates with `rooms_sync` as message_body.js does,
acknowledges NiceGUI's messages as nicegui.js does, and records the moment every word of a reply arrives. Engine.io
and socket.io framing is done by hand over one aiohttp websocket: python-socketio's client would cost the bench more
CPU per message than the app spends, on the same two cores.
"""
from __future__ import annotations

import ast
import asyncio
import contextlib
import json
import math
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from ..ui.live import DELTA_EVENT

USER_AGENT = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'
COMPLETE_WORD = re.compile(r'w(\d+)@(\d+\.\d+)\s')
"""A word of the fake model (fake_anthropic.Script.chunk) with the space after it: a word still arriving never
matches."""
ACK_SECONDS = 3.0
"""nicegui.js acknowledges the messages it has seen this often; the server prunes its resend history on an ack."""
OPEN_AT_ONCE = 8
"""Clients opening their page and socket at the same time (a burst of 240 page renders is not what is measured)."""


def deltas_of(event: str, data: Any) -> list[tuple[str, int, str]]:
    """The text deltas in one socket.io event, as (body id, offset, text). The one place that knows the wire format of
    chat/ui/live.py: `rooms_text` frames, a flat list `[body, offset, text, body, offset, text, ...]` (offsets in code
    points, as Python's len counts)."""
    if event != DELTA_EVENT or not isinstance(data, list):
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
    mismatches: int = 0


class LightClient:
    """One tab's worth of socket traffic for one room."""

    def __init__(self, base_url: str, room: str) -> None:
        self.base_url, self.room = base_url, room
        self.bodies: dict[str, Body] = {}
        self.frames = 0
        self.received_bytes = 0
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
            self._send('420' + json.dumps(['rooms_sync', {'room': self.room, 'client_id': self._client_id,
                                                          'msgs': []}]))
        elif packet.startswith('430'):  # the answer to our rooms_sync
            if self._joined is not None and not self._joined.done():
                self._joined.set_result(None)
        elif packet.startswith('44'):
            self.errors.append(f'connect refused: {packet[2:200]}')
        elif packet.startswith('42'):
            event, *args = json.loads(packet[2:])
            data = args[0] if args else None
            if isinstance(data, dict) and isinstance(data.get('_id'), int):
                self._next_message_id = max(self._next_message_id, data['_id'] + 1)
            for body_id, offset, text in deltas_of(event, data):
                self._on_delta(body_id, offset, text, now)

    def _on_delta(self, body_id: str, offset: int, text: str, now: float) -> None:
        body = self.bodies.setdefault(body_id, Body())
        end = len(body.text)
        if offset > end:
            body.gaps += 1  # a tab would ask for the full text; here it counts as lost
            return
        if offset < end:  # a resend of text we have: fine if it is the same text
            if body.text[offset:offset + len(text)] != text[:end - offset]:
                body.mismatches += 1
            text = text[end - offset:]
            if not text:
                return
        body.text += text
        for match in COMPLETE_WORD.finditer(body.text, max(0, body.scanned)):
            index = int(match[1])
            if index in body.arrived:
                body.duplicates += 1
            else:
                body.arrived[index], body.sent[index] = now, float(match[2]) * 1000
            body.scanned = match.end()

    async def _ack_now_and_then(self) -> None:
        while True:
            await asyncio.sleep(ACK_SECONDS)
            if self._acked < self._next_message_id:
                self._send('42' + json.dumps(['ack', {'client_id': self._client_id,
                                                      'next_message_id': self._next_message_id}]))
                self._acked = self._next_message_id

    @property
    def disconnected(self) -> bool:
        """True once the app closed the socket (or it broke): a tab would reconnect and resync, losing time."""
        return self._gone

    def _send(self, packet: str) -> None:
        task = asyncio.ensure_future(self._send_now(packet))
        self._sending.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(self._sending.discard)

    async def _send_now(self, packet: str) -> None:
        assert self._ws is not None
        with contextlib.suppress(ConnectionError, aiohttp.ClientError):  # closing: nothing more to say
            await self._ws.send_str(packet)


def browser_session() -> aiohttp.ClientSession:
    """An HTTP session like one browser's: its User-Agent, and cookies kept even for an address like 127.0.0.1 (the
    participant cookie makes each client a person of its own)."""
    return aiohttp.ClientSession(headers={'User-Agent': USER_AGENT}, cookie_jar=aiohttp.CookieJar(unsafe=True))


async def post(base_url: str, room: str, text: str) -> None:
    """Send a message to a room as a person of its own, through the JSON API as a script would."""
    async with browser_session() as session, \
            session.post(f'{base_url}/api/rooms/{room}/messages', json={'text': text}) as response:
        if response.status != 201:
            raise RuntimeError(f'posting to {room} gave {response.status}: {await response.text()}')


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


@dataclass(slots=True)
class Trial:
    """One load: `rooms` rooms, `clients` light clients each, every room streaming one reply at once."""

    rooms: int
    clients: int
    words: int
    rate: float
    name: str = 'cap'


async def run_trial(base_url: str, trial: Trial, enqueue_words: Callable[[int, float], None],
                    cpu_seconds: Callable[[], float], timeout_slack: float = 30.0) -> dict[str, Any]:
    """Open the clients, start a reply in every room at once, wait for every word in every client; the latencies,
    what was lost or duplicated, and the app's CPU time over the streaming (less what it spends idle)."""
    room_ids = [f'{trial.name}{trial.rooms}x{trial.clients}x{i}' for i in range(trial.rooms)]
    clients = {room: [LightClient(base_url, room) for _ in range(trial.clients)] for room in room_ids}
    everyone = [client for group in clients.values() for client in group]
    opening = asyncio.Semaphore(OPEN_AT_ONCE)
    lag = LoopLag()

    async def open_one(client: LightClient) -> None:
        async with opening:
            await client.open()

    try:
        for room in room_ids:  # the page opens the room's hub; without clients, open it once all the same
            if not clients[room]:
                async with browser_session() as session, session.get(f'{base_url}/room/{room}') as response:
                    await response.read()
        await asyncio.gather(*(open_one(c) for c in everyone))
        idle_cpu, idle_wall = cpu_seconds(), time.monotonic()
        await asyncio.sleep(1.0)  # also lets the page loads' after-work (NiceGUI's first updates) pass
        idle_per_s = (cpu_seconds() - idle_cpu) / (time.monotonic() - idle_wall)
        for _ in room_ids:
            enqueue_words(trial.words, trial.rate)
        for client in everyone:  # what the wire carries for the reply, not for the page
            client.frames = client.received_bytes = 0
        cpu_before, started, own_before = cpu_seconds(), time.monotonic(), time.process_time()
        lag.start()
        await asyncio.gather(*(post(base_url, room, 'go') for room in room_ids))
        # done when every client has every word (or lost its socket); the app is asked only at the end, since polling
        # it during the stream would cost it more CPU than the stream
        deadline = time.monotonic() + trial.words / trial.rate + timeout_slack
        while time.monotonic() < deadline and not all(c.most_words() >= trial.words or c.disconnected
                                                      for c in everyone):
            await asyncio.sleep(0.02)
        settled = await asyncio.gather(*(_settled_reply(base_url, room, deadline) for room in room_ids))
        replies, finals = [reply for reply, _ in settled], [text for _, text in settled]
        wall = time.monotonic() - started
        cpu = cpu_seconds() - cpu_before - idle_per_s * wall
        own_cpu = time.process_time() - own_before
    finally:
        lag.stop()
        await asyncio.gather(*(c.close() for c in everyone), return_exceptions=True)
    latencies, lost, duplicated, errors = [], 0, 0, []
    for room, reply, final in zip(room_ids, replies, finals, strict=True):
        for client in clients[room]:
            body = client.bodies.get(reply, Body())
            latencies += [body.arrived[i] - body.sent[i] for i in body.arrived]
            lost += max(0, trial.words - len(body.arrived)) + body.gaps + (body.text != final) + body.mismatches
            duplicated += body.duplicates
            errors += client.errors
    return {'rooms': trial.rooms, 'clients_per_room': trial.clients, 'words': trial.words, 'rate': trial.rate,
            'wall_s': wall, 'app_cpu_s': cpu, 'app_idle_cpus': idle_per_s,
            'app_cpus_busy': cpu / wall if wall else 0.0,
            'cpu_us_per_word': cpu / trial.words / trial.rooms * 1e6,
            'lost': lost, 'duplicated': duplicated, 'disconnects': sum(c.disconnected for c in everyone),
            'errors': errors[:5], 'bench_loop_lag_ms': lag.worst_ms, 'bench_cpus_busy': own_cpu / wall if wall else 0.0,
            'frames_per_client': sum(c.frames for c in everyone) / max(len(everyone), 1),
            'bytes_per_char_per_client': sum(c.received_bytes for c in everyone) / max(len(everyone), 1)
            / max(sum(map(len, finals)) / len(finals), 1),
            **percentiles(latencies)}


class LoopLag:
    """The worst lateness of the bench's own event loop: if the clients' loop lags, so do the latencies it records."""

    def __init__(self) -> None:
        self.worst_ms = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst_ms = max(self.worst_ms, (time.perf_counter() - before - 0.005) * 1000)


def passed(result: dict[str, Any], p99_ms: float) -> bool:
    return not result['lost'] and not result['duplicated'] and result['samples'] > 0 and result['p99_ms'] <= p99_ms


async def _settled_reply(base_url: str, room: str, deadline: float) -> tuple[str, str]:
    """The id and final text of the room's last reply, once it no longer streams (or at the deadline)."""
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f'{base_url}/api/rooms/{room}/messages') as response:
                messages = (await response.json())['messages'] if response.status == 200 else []
            reply = messages[-1] if messages and messages[-1]['role'] == 'assistant' else None
            if reply is not None and (reply['status'] != 'streaming' or time.monotonic() > deadline):
                return reply['id'], reply['content']
            if time.monotonic() > deadline:
                raise TimeoutError(f'no reply in {room}')
            await asyncio.sleep(0.25)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {'p50_ms': float('nan'), 'p99_ms': float('nan'), 'max_ms': float('nan'), 'samples': 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]  # nearest rank
    return {'p50_ms': rank(50), 'p99_ms': rank(99), 'max_ms': ordered[-1], 'samples': len(ordered)}


async def find_capacity(base_url: str, room_counts: Sequence[int], enqueue_words: Callable[[int, float], None],
                        cpu_seconds: Callable[[], float], progress: Callable[[str], None], *, clients: int = 4,
                        words: int = 250, rate: float = 50.0, p99_ms: float = 100.0) -> dict[str, Any]:
    """Run trials with more and more rooms until one misses (p99 over `p99_ms`, or text lost or duplicated); the
    largest count that passed is the capacity."""
    trials, best = [], 0
    for rooms in room_counts:
        progress(f'capacity: {rooms} rooms x {clients} clients, {words} words at {rate:.0f}/s each')
        result = await run_trial(base_url, Trial(rooms, clients, words, rate), enqueue_words, cpu_seconds)
        trials.append(result)
        ok = passed(result, p99_ms)
        progress(f'  p50 {result["p50_ms"]:.1f} ms, p99 {result["p99_ms"]:.1f} ms, lost {result["lost"]}, '
                 f'duplicated {result["duplicated"]}, disconnects {result["disconnects"]}, bench loop lag '
                 f'{result["bench_loop_lag_ms"]:.0f} ms ({result["bench_cpus_busy"]:.2f} CPUs), app '
                 f'{result["app_cpus_busy"]:.2f} CPUs, {result["cpu_us_per_word"]:.0f} µs/word/room: '
                 + ('pass' if ok else 'miss'))
        if not ok:
            break
        best = rooms
    return {'max_rooms': best, 'clients_per_room': clients, 'words': words, 'rate': rate, 'p99_limit_ms': p99_ms,
            'trials': trials}


async def server_cpu(base_url: str, enqueue_words: Callable[[int, float], None], cpu_seconds: Callable[[], float],
                     progress: Callable[[str], None], *, clients: int = 8, words: int = 400,
                     rate: float = 100.0) -> dict[str, Any]:
    """The app's CPU per word of one reply with no tab at all, and what each watching client adds."""
    progress(f'server CPU: one room, {words} words at {rate:.0f}/s, with no client and with {clients}')
    alone = await run_trial(base_url, Trial(1, 0, words, rate, 'cpu'), enqueue_words, cpu_seconds)
    watched = await run_trial(base_url, Trial(1, clients, words, rate, 'cpu'), enqueue_words, cpu_seconds)
    per_tab = (watched['cpu_us_per_word'] - alone['cpu_us_per_word']) / clients
    progress(f'  {alone["cpu_us_per_word"]:.0f} µs/word before any tab, {per_tab:.1f} µs/word per extra tab '
             f'(wire {watched["bytes_per_char_per_client"]:.1f} B/char/client)')
    return {'us_per_word_no_tab': alone['cpu_us_per_word'], 'us_per_word_per_tab': per_tab, 'clients': clients,
            'bytes_per_char_per_client': watched['bytes_per_char_per_client'], 'alone': alone, 'watched': watched}
