"""Streams reply text to every tab of a room as compact frames over NiceGUI's socket.io connection.

Text bypasses NiceGUI's per-client element updates: a room's deltas are coalesced into frames (`rooms_text`, a flat
list `[body, offset, text, body, offset, text, ...]`), each serialised once and sent to a socket.io room that holds
every socket showing the room. Each append carries its offset (in code points, like Python's `len`), so a tab that
missed some text (a reconnect, a body that mounted late) notices the gap and asks for the full text (`rooms_sync`),
and one that got text twice (it joined while a frame was on its way) drops the repeat. Everything else (new
messages, statuses) goes through NiceGUI elements as usual.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import core, run
from nicegui.client import Client

from ..access import access_of
from ..events import RoomEvent
from ..hub import RoomHub
from ..links import RoomLinks
from ..models import is_valid_room_id
from ..rooms import Rooms

DELTA_EVENT = 'rooms_text'
SYNC_EVENT = 'rooms_sync'

log = logging.getLogger(__name__)


def socket_room(room_id: str) -> str:
    return f'room:{room_id}'


def install(rooms: Rooms) -> None:
    """Relay every hub's text deltas to its socket room, and answer the tabs' sync requests."""
    rooms.on_open.append(_attach_relay)

    async def on_sync(sid: str, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            return {'texts': {}}
        room_id, client_id = str(data.get('room', '')), str(data.get('client_id', ''))
        client = Client.instances.get(client_id)
        # only sockets that completed NiceGUI's handshake for this room's page (which passed the access check) join
        if client is None or sid not in client._socket_to_document_id or not is_valid_room_id(room_id) \
                or room_of(client) != room_id:
            return {'texts': {}}
        hub = rooms.open_hub(room_id)
        if hub is None:
            return {'texts': {}}
        await core.sio.enter_room(sid, socket_room(room_id))
        wanted = data.get('msgs') if isinstance(data.get('msgs'), list) else []
        texts = {str(i): text for i in wanted[:500] if (text := text_of(hub, str(i))) is not None}
        return {'texts': texts}

    core.sio.on(SYNC_EVENT, on_sync)


THINKING = '.thinking'
"""The suffix of the body id that shows a message's thinking (message ids never hold a dot)."""


def body_id(event: RoomEvent) -> str:
    """The id of the browser body a delta goes to: the message's text, or its thinking."""
    assert event.message is not None
    return event.message.id + THINKING if event.part == 'thinking' else event.message.id


def text_of(hub: RoomHub, body: str) -> str | None:
    """The full text a body shows now: a message's content or, for `<id>.thinking`, its thinking."""
    message = hub.get(body.removesuffix(THINKING))
    if message is None:
        return None
    return message.thinking if body.endswith(THINKING) else message.content


def room_of(client: Client) -> str | None:
    """The room whose page a tab shows, None for other pages."""
    path = client.request.url.path if client.request is not None else ''
    room_id = path.removeprefix('/room/')
    return room_id if path.startswith('/room/') and is_valid_room_id(room_id) else None


async def renew_room_link(links: RoomLinks, room_id: str) -> None:
    """A new link for the room: the old one stops working at once, in open tabs too."""
    await run.io_bound(links.renew, room_id)
    await revoke_room_link(room_id)


async def revoke_room_link(room_id: str) -> None:
    """End every tab of the room that came in with its room link (the link was just renewed): each is sent to the
    page that says it may not come in, its sockets are closed and its client is deleted, so a tab that ignores the
    reload can do nothing more. Tabs opened with the owner's token stay."""
    revoked = [client for client in list(Client.instances.values())
               if room_of(client) == room_id and not access_of(client.request.scope).owner]
    for client in revoked:
        client.run_javascript('location.reload()')
    if not revoked:
        return
    await asyncio.sleep(0.3)  # lets the reload go out before its socket closes
    for client in revoked:
        for sid in list(client._socket_to_document_id):
            await core.sio.disconnect(sid)
        if client.id in Client.instances:
            client.delete()


def _attach_relay(hub: RoomHub) -> None:
    room = socket_room(hub.room_id)
    hub.events.relay = Relay(lambda frame: core.sio.emit(DELTA_EVENT, frame, room=room))


OVERHEAD_PER_CHAR = 5
"""A frame is sent at once when its bytes besides the text are at most this many per character of text: a word-sized
delta goes out alone, one- to four-character deltas wait for a few more (the wire stays under 8 bytes a character
whatever the token size)."""
MAX_HOLD = 0.03
"""Seconds a small frame waits for more text at most, so that slow tiny deltas still show promptly."""
FRAME_OVERHEAD = 12
"""Bytes of a frame besides its entries: `42["rooms_text",[` ... `]]`, roughly."""


class Relay:
    """Coalesces a room's text deltas into frames: sent at once when the socket room is idle and the frame is worth
    its overhead, gathered while a send is in flight, while the event loop has other callbacks ready (the frame goes
    out after them) or for at most MAX_HOLD while it is tiny. Any other event sends what is pending first, so that
    text never arrives after the status change that ends it."""

    def __init__(self, emit: Callable[[list[Any]], Awaitable[Any]]) -> None:
        self._emit = emit
        self._entries: list[list[Any]] = []  # [body, offset, [chunks]]; merged while contiguous
        self._open: dict[str, list[Any]] = {}  # body -> its entry that the next contiguous delta extends
        self._chars = 0
        self._overhead = FRAME_OVERHEAD
        self._handle: asyncio.Handle | None = None
        self._sending = False
        self._delivery: asyncio.Task[None] | None = None

    def __call__(self, event: RoomEvent) -> None:
        if event.kind != 'delta' or event.message is None:
            if self._entries and not self._sending:
                self._send()
            return
        body = body_id(event)
        entry = self._open.get(body)
        if entry is not None and event.offset == entry[1] + entry[3]:
            entry[2].append(event.text)
            entry[3] += len(event.text)
        else:
            entry = [body, event.offset, [event.text], len(event.text) if event.offset >= 0 else -1]
            self._entries.append(entry)
            self._overhead += len(body) + len(str(event.offset)) + 8
            if event.offset >= 0:
                self._open[body] = entry
            else:  # a replacement: what follows it is a new entry at its own offset
                self._open.pop(body, None)
        self._chars += len(event.text)
        self._schedule()

    def _schedule(self) -> None:
        if self._sending:
            return  # the send in flight sends the rest when it is done
        if self._overhead <= OVERHEAD_PER_CHAR * self._chars:
            if self._handle is not None and isinstance(self._handle, asyncio.TimerHandle):
                self._handle.cancel()
                self._handle = None
            if self._handle is None:
                self._handle = asyncio.get_running_loop().call_soon(self._send)
        elif self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(MAX_HOLD, self._send)

    def _send(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if not self._entries:
            return
        frame: list[Any] = []
        for body, offset, chunks, _ in self._entries:
            frame += (body, offset, ''.join(chunks))
        self._entries, self._chars, self._overhead = [], 0, FRAME_OVERHEAD
        self._open.clear()
        self._sending = True
        # a task of our own rather than background_tasks.create: the relay works (and is tested) without NiceGUI's loop
        self._delivery = asyncio.get_running_loop().create_task(self._deliver(frame), name='rooms text')

    async def _deliver(self, frame: list[Any]) -> None:
        try:
            await self._emit(frame)
        except Exception:
            log.exception('sending a text frame failed')  # tabs notice the gap with the next frame and resync
        finally:
            self._sending = False
            if self._entries:
                self._schedule()
