"""The JSON API of one room (CONTRACT.md "JSON API" additions): read and change its settings, post, stop, renew
its link. Every route sends the same intents a tab sends, so scripts and tabs see one room."""
from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from . import access, participants, share
from .api import existing_hub, json_response, not_found
from .config import Settings
from .errors import FileRejected, InvalidRoomId, MessageRejected, RateLimited
from .files import LIMITS_TEXT, MAX_FILE_BYTES, MB, Stored
from .hub import RoomHub
from .links import RoomLinks
from .models import IMAGE_TYPES, NOT_ONE_LINE, PDF_TYPE, is_valid_room_id
from .records import attachment_to_record, message_to_record
from .rooms import Rooms

log = logging.getLogger(__name__)

SETTING_NAMES = ('title', 'system_prompt', 'model', 'max_tokens', 'reply_mode', 'thinking_budget', 'web_search')
"""What PATCH may change."""
SETTING_TYPES: dict[str, tuple[type, str]] = {
    'max_tokens': (int, 'a whole number'), 'thinking_budget': (int, 'a whole number'),
    'web_search': (bool, 'true or false')}
"""Settings that are not text, and how to say what they must be."""
MAX_BODY = 1024 * 1024
"""The largest JSON body a room route reads (a message of 100,000 characters fits several times)."""
MAX_UPLOAD_BODY = MAX_FILE_BYTES + 64 * 1024
"""The largest upload request: the largest file and room for the multipart headers around it."""
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox"
"""A served image or text file runs nothing, even opened on its own (a PDF keeps the viewer it needs)."""

Renew = Callable[[str], Awaitable[None]]


def register(app: FastAPI, rooms: Rooms, links: RoomLinks, settings: Settings, renew: Renew) -> None:
    """:param renew: makes a room's new link and ends the tabs that came in with the old one"""

    @app.get('/api/rooms/{room_id}')
    async def room(room_id: str, request: Request) -> Response:
        hub = await existing_hub(rooms, room_id)
        if hub is None:
            return not_found(room_id)
        document = describe(hub)
        if settings.token_required and access.access_of(request.scope).owner:
            document['share_url'] = share.room_link(settings, room_id, links)
        return json_response(document)

    @app.patch('/api/rooms/{room_id}')
    async def configure(room_id: str, request: Request) -> Response:
        hub = await existing_hub(rooms, room_id)
        if hub is None:
            return not_found(room_id)
        body = await json_body(request)
        if not isinstance(body, dict) or not body:
            return bad_request(f'Send a JSON object with any of: {", ".join(SETTING_NAMES)}.')
        if unknown := [str(name) for name in body if name not in SETTING_NAMES]:
            return bad_request(f'Unknown setting {", ".join(unknown)}; the settings are {", ".join(SETTING_NAMES)}.')
        for name, value in body.items():
            wanted, words = SETTING_TYPES.get(name, (str, 'text'))
            if value is not None and (not isinstance(value, wanted) or isinstance(value, bool) != (wanted is bool)):
                return bad_request(f'{name} must be {words} or null.')
        try:
            hub.configure(**body)
        except MessageRejected as e:
            return bad_request(str(e))
        return json_response({'settings': describe(hub)['settings']})

    @app.post('/api/rooms/{room_id}/messages')
    async def post_message(room_id: str, request: Request) -> Response:
        if not is_valid_room_id(room_id):
            return not_found(room_id)
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get('text'), str):
            return bad_request('Send a JSON object with "text" (the message) and optionally "author" (your name).')
        author = body.get('author')
        if author is not None and not isinstance(author, str):
            return bad_request('"author" must be text.')
        attachments = body.get('attachments') or []
        if not isinstance(attachments, list) or not all(isinstance(file_id, str) for file_id in attachments):
            return bad_request('"attachments" must be a list of file ids (each from POST /api/rooms/{id}/files).')
        reply_to, ask = body.get('reply_to'), body.get('ask_claude', False)
        if reply_to is not None and not isinstance(reply_to, str):
            return bad_request('"reply_to" must be the id of a message in the room.')
        if not isinstance(ask, bool):
            return bad_request('"ask_claude" must be true or false.')
        participant = participants.participant_of(request)
        sender = participant or f'api {request.client.host if request.client else ""}'
        try:
            hub = await rooms.get(room_id)
            message = await hub.post(body['text'], author=author, sender=sender, reply_to=reply_to, ask_claude=ask,
                                     author_id=participants.public_id(participant) if participant else None,
                                     attachments=attachments)
        except RateLimited as e:
            return JSONResponse({'error': str(e)}, status_code=429, headers={'Retry-After': '10'})
        except (MessageRejected, InvalidRoomId) as e:
            return bad_request(str(e))
        return json_response({'message': message_to_record(message)}, status_code=201)

    @app.post('/api/rooms/{room_id}/files')
    async def upload(room_id: str, request: Request) -> Response:
        """A file for the room's next messages (multipart, field `file`): kept once per content, checked by its
        bytes; 413 too large, 415 a type Claude cannot read, and then nothing is stored."""
        if not is_valid_room_id(room_id):
            return not_found(room_id)
        try:
            name, data = await uploaded_file(request)
            attachment = await run_in_threadpool(rooms.store.files.put, room_id, data, name)
        except FileRejected as e:
            return JSONResponse({'error': str(e)}, status_code=e.status)
        except ClientDisconnect:
            return JSONResponse({'error': 'The upload was cut off; nothing was stored.'}, status_code=400)
        except OSError as e:
            log.error('cannot store a file for room %s: %s', room_id, e)
            return JSONResponse({'error': file_not_saved(e)}, status_code=507)
        return json_response({'attachment': attachment_to_record(attachment)}, status_code=201)

    @app.get('/api/rooms/{room_id}/files/{file_id}')
    async def download(room_id: str, file_id: str, request: Request) -> Response:
        """A file's bytes with their media type: inline for images and PDFs, a download otherwise. `?preview=1`
        gives an image's scaled-down copy, if it has one (thumbnails)."""
        if not is_valid_room_id(room_id):
            return not_found(room_id)
        preview = request.query_params.get('preview') == '1'
        stored = await run_in_threadpool(lambda: rooms.store.files.stored(room_id, file_id, preview=preview))
        if stored is None:
            return JSONResponse({'error': f'Room {room_id} has no file {file_id[:64]!r}.'}, status_code=404)
        headers = file_headers(stored)
        if stored.path is not None:
            return FileResponse(stored.path, media_type=stored.media_type, headers=headers)
        return Response(stored.data, media_type=stored.media_type, headers=headers)

    @app.post('/api/rooms/{room_id}/stop')
    async def stop(room_id: str) -> Response:
        hub = await existing_hub(rooms, room_id)
        if hub is None:
            return not_found(room_id)
        return json_response({'stopped': hub.stop()})

    @app.post('/api/rooms/{room_id}/share/renew')
    async def renew_link(room_id: str, request: Request) -> Response:
        if not is_valid_room_id(room_id):
            return not_found(room_id)
        await renew(room_id)
        return json_response({'share_url': share.room_link(settings, room_id, links)})


def describe(hub: RoomHub) -> dict[str, Any]:
    """A room as `GET /api/rooms/{id}` shows it: the settings in force (the app's defaults where none is set)."""
    return {
        'id': hub.room_id,
        'title': hub.summary().title,
        'settings': {'title': hub.room_settings.title, 'system_prompt': hub.system_prompt, 'model': hub.model_name,
                     'max_tokens': hub.max_tokens, 'reply_mode': hub.reply_mode,
                     'thinking_budget': hub.room_settings.thinking_budget, 'web_search': hub.room_settings.web_search},
        'message_count': len(hub.messages),
        'streaming': hub.is_streaming,
    }


async def uploaded_file(request: Request) -> tuple[str, bytes]:
    """The name and bytes of the multipart field `file`, refused (FileRejected, 413) as soon as more than
    MAX_UPLOAD_BODY arrived: a huge upload is never read whole."""
    if not request.headers.get('content-type', '').startswith('multipart/form-data'):
        raise FileRejected('Send the file as multipart/form-data, in the field "file".', status=400)
    too_large = FileRejected(f'The upload is over {MAX_FILE_BYTES // MB} MB. {LIMITS_TEXT}', status=413)
    declared = request.headers.get('content-length', '')
    if declared.isdigit() and int(declared) > MAX_UPLOAD_BODY:
        raise too_large

    async def limited() -> AsyncIterator[bytes]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_UPLOAD_BODY:
                raise too_large
            yield chunk
    try:
        form = await MultiPartParser(request.headers, limited(), max_files=1, max_fields=10).parse()  # type: ignore[arg-type]
    except MultiPartException as e:
        raise FileRejected(f'The upload could not be read ({e}). Send one file in the field "file".', status=400) \
            from None
    try:
        upload = form.get('file')
        if not isinstance(upload, UploadFile):
            raise FileRejected('Send the file in the multipart field "file".', status=400)
        return upload.filename or 'file', await upload.read()
    finally:
        await form.close()


def file_headers(stored: Stored) -> dict[str, str]:
    """Inline for images and PDFs (they open in a tab), a download for the rest; never guessed, never run."""
    inline = stored.attachment.media_type in (*IMAGE_TYPES, PDF_TYPE)
    name = stored.attachment.name
    fallback = NOT_ONE_LINE.sub('_', name.encode('ascii', 'replace').decode('ascii')).replace('"', "'") \
        .replace('\\', '_')
    headers = {'Content-Disposition': f'{"inline" if inline else "attachment"}; filename="{fallback}"; '
                                      f"filename*=UTF-8''{quote(name, safe='')}",
               'Cache-Control': 'private, max-age=31536000, immutable',  # the id is the content's hash
               'X-Content-Type-Options': 'nosniff'}
    if stored.media_type != PDF_TYPE:
        headers['Content-Security-Policy'] = FILE_CSP
    return headers


async def json_body(request: Request) -> Any:
    """The request's JSON, or None when it is not JSON (or too large to be a room request)."""
    body = b''
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def bad_request(reason: str) -> JSONResponse:
    return JSONResponse({'error': reason}, status_code=400)


def file_not_saved(error: OSError) -> str:
    """Why an accepted file was not stored, and who can fix it: whoever runs Rooms, not the person attaching it."""
    return (f'The file could not be saved on the server ({error.strerror or error}). Whoever runs Rooms must free '
            'space in its data folder or let Rooms write there; then you can attach the file again.')
