"""Participants: each browser gets an id on its first visit, kept in an HttpOnly cookie.

The id tells one person's tabs from another's (the flood limit counts per person). Its cookie is set by the server
on the first page a browser opens and added to that first request too, so the page already sees it.
"""
from __future__ import annotations

import hashlib
import re
import secrets

from starlette.applications import Starlette
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = 'rooms_participant'
MAX_AGE = 400 * 24 * 3600
"""The longest a browser keeps a cookie (Chromium caps it at 400 days)."""
ID_PATTERN = re.compile(r'[A-Za-z0-9_-]{22}')


def install(app: Starlette) -> None:
    app.add_middleware(ParticipantCookie)


def public_id(participant: str) -> str:
    """The id others may see (in messages, reactions): derived one way from the browser's secret cookie, so knowing
    it lets nobody act as that browser."""
    return hashlib.sha256(f'rooms participant {participant}'.encode()).hexdigest()[:16]


def participant_of(connection: HTTPConnection) -> str | None:
    """The participant id of the browser that sent this request, None for a client without the cookie (a script)."""
    value = connection.cookies.get(COOKIE, '')
    return value if ID_PATTERN.fullmatch(value) else None


class ParticipantCookie:
    """Pure ASGI middleware: a page request without a valid participant cookie gets one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] != 'http' or scope['method'] != 'GET' or scope['path'].startswith(('/_nicegui', '/api/')) \
                or participant_of(HTTPConnection(scope)) is not None:
            await self.app(scope, receive, send)
            return
        new_id = secrets.token_urlsafe(16)
        cookie = f'{COOKIE}={new_id}'
        # appended last, so it wins over a malformed value of the same name in the request
        others = [value for key, value in scope['headers'] if key.lower() == b'cookie']
        headers = [(key, value) for key, value in scope['headers'] if key.lower() != b'cookie']
        headers.append((b'cookie', b'; '.join([*others, cookie.encode()])))
        scope = {**scope, 'headers': headers}

        async def sending(message: Message) -> None:
            if message['type'] == 'http.response.start':
                message['headers'] = [*message.get('headers', []),
                                      (b'set-cookie', f'{cookie}; Path=/; Max-Age={MAX_AGE}; HttpOnly; '
                                       'SameSite=Lax'.encode())]
            await send(message)
        await self.app(scope, receive, sending)
