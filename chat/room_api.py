"""The JSON API of one room (CONTRACT.md "JSON API" additions): read and change its settings, post, stop, renew
its link. Every route sends the same intents a tab sends, so scripts and tabs see one room."""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from . import access, participants, share
from .api import existing_hub, json_response, not_found
from .config import Settings
from .errors import InvalidRoomId, MessageRejected, RateLimited
from .hub import RoomHub
from .links import RoomLinks
from .models import is_valid_room_id, message_to_record
from .rooms import Rooms

SETTING_NAMES = ('title', 'system_prompt', 'model', 'max_tokens', 'reply_mode')
"""What PATCH may change."""
LATER_SETTINGS = ('thinking_budget', 'web_search')
"""Settings of the contract this version does not have yet."""
MAX_BODY = 1024 * 1024
"""The largest JSON body a room route reads (a message of 100,000 characters fits several times)."""

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
        if later := [name for name in body if name in LATER_SETTINGS]:
            return bad_request(f'{", ".join(later)}: not a setting of this version of Rooms yet.')
        if unknown := [str(name) for name in body if name not in SETTING_NAMES]:
            return bad_request(f'Unknown setting {", ".join(unknown)}; the settings are {", ".join(SETTING_NAMES)}.')
        for name, value in body.items():
            wanted = int if name == 'max_tokens' else str
            if value is not None and (not isinstance(value, wanted) or isinstance(value, bool)):
                return bad_request(f'{name} must be {"a whole number" if wanted is int else "text"} or null.')
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
        if body.get('attachments'):
            return bad_request('Attachments are not supported by this version of Rooms yet.')
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
                                     author_id=participants.public_id(participant) if participant else None)
        except RateLimited as e:
            return JSONResponse({'error': str(e)}, status_code=429, headers={'Retry-After': '10'})
        except (MessageRejected, InvalidRoomId) as e:
            return bad_request(str(e))
        return json_response({'message': message_to_record(message)}, status_code=201)

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
                     'max_tokens': hub.max_tokens, 'reply_mode': hub.reply_mode},
        'message_count': len(hub.messages),
        'streaming': hub.is_streaming,
    }


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
