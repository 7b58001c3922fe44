"""The JSON API of CONTRACT.md, read from the hubs so it agrees with what tabs show."""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from .hub import RoomHub
from .models import Message, Status, is_valid_room_id, message_to_record
from .rooms import Rooms


def register(app: FastAPI, rooms: Rooms) -> None:
    @app.get('/healthz')
    async def healthz() -> dict[str, str]:
        return {'status': 'ok'}

    @app.get('/api/rooms')
    async def list_rooms() -> dict[str, list[dict[str, object]]]:
        return {'rooms': [{'id': s.id, 'title': s.title, 'updated_at': s.updated_at,
                           'message_count': s.message_count} for s in await rooms.summaries()]}

    @app.get('/api/rooms/{room_id}/messages')
    async def room_messages(room_id: str) -> Response:
        hub = await existing_hub(rooms, room_id)
        if hub is None:
            return not_found(room_id)
        return JSONResponse({'room': room_id, 'messages': [message_to_record(m) for m in hub.messages]})

    @app.get('/api/rooms/{room_id}/export.md')
    async def export_markdown(room_id: str) -> Response:
        hub = await existing_hub(rooms, room_id)
        if hub is None:
            return not_found(room_id)
        return PlainTextResponse(transcript(hub), media_type='text/markdown; charset=utf-8')


async def existing_hub(rooms: Rooms, room_id: str) -> RoomHub | None:
    if not is_valid_room_id(room_id) or not rooms.exists(room_id):
        return None
    hub = await rooms.get(room_id)
    return hub if hub.messages else None


def not_found(room_id: str) -> JSONResponse:
    if not is_valid_room_id(room_id):
        return JSONResponse({'error': 'Not a room id: use 1 to 64 letters, digits, - or _.'}, status_code=404)
    return JSONResponse({'error': f'Room {room_id} does not exist (it is created by its first message).'},
                        status_code=404)


def transcript(hub: RoomHub) -> str:
    lines = [f'# {hub.summary().title}', '', f'Room `{hub.room_id}`', '']
    lines += [block for message in hub.messages for block in _message_block(message)]
    return '\n'.join(lines).rstrip() + '\n'


def _message_block(message: Message) -> list[str]:
    who = (message.author or 'User') if message.role == 'user' else f'Claude ({message.model or "unknown model"})'
    note = '' if message.status == Status.COMPLETE else f' _[{message.status}]_'
    block = [f'## {who}{note}', '', message.content, '']
    if message.error:
        block += [f'> Error: {message.error}', '']
    return block
