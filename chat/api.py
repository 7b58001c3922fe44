"""The JSON API of CONTRACT.md, read from the hubs so it agrees with what tabs show."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from . import transfer
from .errors import ImportRejected, ImportTooLarge
from .hub import RoomHub
from .models import Message, Status, describe_size, is_valid_room_id
from .records import message_to_record
from .rooms import Rooms
from .search import SEARCH_LIMIT
from .transfer import encode_json

log = logging.getLogger(__name__)
MAX_SEARCH_LIMIT = 200


def register(app: FastAPI, rooms: Rooms) -> None:
    @app.get('/healthz')
    async def healthz() -> dict[str, str]:
        return {'status': 'ok'}

    @app.get('/api/rooms')
    async def list_rooms() -> Response:
        return json_response({'rooms': [{'id': s.id, 'title': s.title, 'updated_at': s.updated_at,
                                         'message_count': s.message_count} for s in await rooms.summaries()]})

    @app.get('/api/rooms/{room_id}/messages')
    async def room_messages(room_id: str) -> Response:
        hub = await existing_hub(rooms, room_id)
        if hub is None:
            return not_found(room_id)
        # a long room's answer is built in a thread, message by message: the event loop keeps its turns
        body = await run_in_threadpool(encode_messages, room_id, list(hub.messages))
        return Response(body, media_type='application/json')

    @app.get('/api/rooms/{room_id}/export.md')
    async def export_markdown(room_id: str) -> Response:
        hub = await existing_hub(rooms, room_id)
        if hub is None:
            return not_found(room_id)
        return PlainTextResponse(transcript(hub), media_type='text/markdown; charset=utf-8')

    @app.get('/api/rooms/{room_id}/export.json')
    async def export_json(room_id: str) -> Response:
        hub = await existing_hub(rooms, room_id)
        if hub is None:
            return not_found(room_id)
        document = transfer.export_document(room_id, hub.summary().title, hub.messages,  # a snapshot on the loop
                                            settings=hub.room_settings)
        body = await run_in_threadpool(lambda: encode_json(transfer.with_files(
            document, lambda file_id: rooms.store.files.read(room_id, file_id))))
        return Response(body, media_type='application/json',
                        headers={'Content-Disposition': f'attachment; filename="room-{room_id}.json"'})

    @app.post('/api/rooms/import')
    async def import_room(request: Request) -> Response:
        try:
            body = await limited_body(request)
            parsed = await run_in_threadpool(transfer.parse_export, body)
            room_id = await rooms.import_room(parsed.messages, parsed.title, parsed.files, parsed.settings)
        except ImportRejected as e:
            return JSONResponse({'error': str(e)}, status_code=413 if isinstance(e, ImportTooLarge) else 400)
        except OSError as e:
            log.error('cannot write an imported room: %s', e)
            return JSONResponse({'error': import_not_saved(e)}, status_code=507)
        return JSONResponse({'room': room_id, 'url': f'/room/{room_id}'}, status_code=201)

    @app.get('/api/search')
    async def search(q: str = '', limit: int = SEARCH_LIMIT) -> Response:
        result = await rooms.search(q, max(1, min(limit, MAX_SEARCH_LIMIT)))
        return json_response({'query': result.query, 'results': [hit.to_json() for hit in result.hits],
                              'truncated': result.truncated})


async def existing_hub(rooms: Rooms, room_id: str) -> RoomHub | None:
    if not is_valid_room_id(room_id) or not rooms.exists(room_id):
        return None
    hub = await rooms.get(room_id)
    return hub if hub.messages else None


def encode_messages(room_id: str, messages: list[Message]) -> bytes:
    """`{"room": ..., "messages": [...]}` with one small json.dumps per message, so that no single call holds the GIL
    for a whole room of 10,000 messages."""
    records = b','.join(encode_json(message_to_record(m)) for m in messages)
    return b'{"room":' + encode_json(room_id) + b',"messages":[' + records + b']}'


def json_response(document: object, status_code: int = 200) -> Response:
    """Like JSONResponse, but a lone surrogate in a message (the store keeps it) does not break the answer."""
    return Response(encode_json(document), status_code=status_code, media_type='application/json')


async def limited_body(request: Request) -> bytes:
    """The request body, refused as soon as it is over the import limit (never read whole into memory)."""
    declared = request.headers.get('content-length', '')
    if declared.isdigit() and int(declared) > transfer.MAX_IMPORT_BYTES:
        raise transfer.too_large(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > transfer.MAX_IMPORT_BYTES:
            raise transfer.too_large(size)
        chunks.append(chunk)
    return b''.join(chunks)


def import_not_saved(error: OSError) -> str:
    """Why an accepted import made no room, and who can fix it: the person running the server, not the one importing."""
    return (f'The file is a good export, but the server could not save the new room ({error.strerror or error}). '
            'Whoever runs Rooms should check that its data folder has free space and can be written; then import the '
            'file again.')


def not_found(room_id: str) -> JSONResponse:
    if not is_valid_room_id(room_id):
        return JSONResponse({'error': 'Not a room id: use 1 to 64 letters, digits, - or _.'}, status_code=404)
    return JSONResponse({'error': f'Room {room_id} does not exist (it is created by its first message).'},
                        status_code=404)


ENDINGS = {'max_tokens': "cut off at the room's length limit", 'refusal': 'Claude declined to go on'}
"""How the transcript marks a complete reply that ended early (Message.stop_reason)."""


def transcript(hub: RoomHub) -> str:
    lines = [f'# {hub.summary().title}', '']
    lines += [block for message in hub.messages for block in _message_block(message)]
    return '\n'.join(lines).rstrip() + '\n'


def _message_block(message: Message) -> list[str]:
    who = (message.author or 'User') if message.role == 'user' else f'Claude ({message.model or "unknown model"})'
    ending = message.status if message.status != Status.COMPLETE else ENDINGS.get(message.stop_reason or '')
    note = f' _[{ending}]_' if ending else ''
    block = [f'## {who}{note}', '', message.content, '']
    if message.attachments:
        block += [f'- Attached: [{a.name.replace("[", "(").replace("]", ")")}]({a.url}) ({a.media_type}, '
                  f'{describe_size(a.size)})' for a in message.attachments] + ['']
    if message.error:
        block += [f'> Error: {message.error}', '']
    return block
