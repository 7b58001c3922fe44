"""Streams reply text to every tab of a room as small deltas over NiceGUI's socket.io connection.

Text deltas bypass NiceGUI's per-client element updates: each delta is serialised once and sent
to a socket.io room that holds every socket showing the room. Each delta carries its offset, so a
tab that missed some text (a reconnect) notices the gap and asks for the full text (`rooms_sync`).
Everything else (new messages, statuses) goes through NiceGUI elements as usual.
"""
from __future__ import annotations

import asyncio
from typing import Any

from nicegui import background_tasks, core, run
from nicegui.client import Client

from ..access import access_of
from ..events import RoomEvent
from ..hub import RoomHub
from ..links import RoomLinks
from ..models import is_valid_room_id
from ..rooms import Rooms

DELTA_EVENT = 'rooms_delta'
SYNC_EVENT = 'rooms_sync'


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

    def relay(event: RoomEvent) -> None:
        if event.kind == 'delta' and event.message is not None:
            payload = [body_id(event), event.offset, event.text]
            background_tasks.create(core.sio.emit(DELTA_EVENT, payload, room=room), name='rooms delta')

    hub.events.relay = relay
