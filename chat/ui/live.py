"""Streams reply text to every tab of a room as small deltas over NiceGUI's socket.io connection.

Text deltas bypass NiceGUI's per-client element updates: each delta is serialised once and sent
to a socket.io room that holds every socket showing the room. Each delta carries its offset, so a
tab that missed some text (a reconnect) notices the gap and asks for the full text (`rooms_sync`).
Everything else (new messages, statuses) goes through NiceGUI elements as usual.
"""
from __future__ import annotations

from typing import Any

from nicegui import background_tasks, core
from nicegui.client import Client

from ..events import RoomEvent
from ..hub import RoomHub
from ..models import is_valid_room_id
from ..rooms import Rooms
from . import naive

DELTA_EVENT = 'rooms_delta'
SYNC_EVENT = 'rooms_sync'


def socket_room(room_id: str) -> str:
    return f'room:{room_id}'


def install(rooms: Rooms) -> None:
    """Relay every hub's text deltas to its socket room, and answer the tabs' sync requests."""
    if rooms.settings.naive_streaming:
        naive.install(rooms)  # the benchmark's baseline: whole-text re-sends instead of deltas
        return
    rooms.on_open.append(_attach_relay)

    async def on_sync(sid: str, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            return {'texts': {}}
        room_id, client_id = str(data.get('room', '')), str(data.get('client_id', ''))
        client = Client.instances.get(client_id)
        # only sockets that completed NiceGUI's handshake for a page (which passed any token check) may join
        if client is None or sid not in client._socket_to_document_id or not is_valid_room_id(room_id):
            return {'texts': {}}
        hub = rooms.open_hub(room_id)
        if hub is None:
            return {'texts': {}}
        await core.sio.enter_room(sid, socket_room(room_id))
        wanted = data.get('msgs') if isinstance(data.get('msgs'), list) else []
        texts = {str(i): m.content for i in wanted[:500] if (m := hub.get(str(i))) is not None}
        return {'texts': texts}

    core.sio.on(SYNC_EVENT, on_sync)


def _attach_relay(hub: RoomHub) -> None:
    room = socket_room(hub.room_id)

    def relay(event: RoomEvent) -> None:
        if event.kind == 'delta' and event.message is not None:
            payload = [event.message.id, event.offset, event.text]
            background_tasks.create(core.sio.emit(DELTA_EVENT, payload, room=room), name='rooms delta')

    hub.events.relay = relay
