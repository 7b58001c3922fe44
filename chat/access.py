"""The access token: one ASGI middleware in front of every page, API route, asset and the socket.

When the token is on, a request gets in with any of: `?token=T` (checked, turned into a cookie, and the
browser is sent to the same URL without it), the cookie, or `Authorization: Bearer T`. Everything else is
refused: 401 JSON for the API, NiceGUI's assets and the socket, a small "token required" page for pages,
and a closed handshake for websockets. Only `/healthz` (says "ok", nothing else) and `/favicon.ico` stay
open. NiceGUI's own assets are guarded too: they reveal nothing, but a browser sends the cookie with them
anyway, so keeping them closed costs nothing and leaves nothing to reason about.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings

OPEN_PATHS = frozenset({'/healthz', '/favicon.ico'})
"""Reachable without the token: they say nothing about the rooms."""
SOCKET_PREFIX = '/_nicegui_ws/'
"""NiceGUI's socket.io endpoint (polling and websocket); the browser sends the cookie with both."""
JSON_PREFIXES = ('/api/', '/_nicegui', SOCKET_PREFIX)
"""Refused with JSON instead of the HTML page: scripts and assets, not people, ask for these."""
COOKIE_MAX_AGE = 30 * 24 * 3600
"""Seconds a browser keeps the cookie; a new token (a restart without --token) makes it worthless anyway."""


def install(app: Starlette, settings: Settings) -> None:
    """Put the token gate in front of the whole app when the token is on; without a token nothing changes."""
    if settings.token_required:
        app.add_middleware(TokenGate, token=settings.token, cookie_name=cookie_name(settings.port))


def cookie_name(port: int) -> str:
    # cookies ignore the port: two Rooms on one host must not overwrite each other's cookie
    return f'rooms_access_{port}'


def cookie_value(token: str) -> str:
    """What the cookie holds: derived from the token, so the cookie never spells the token itself out."""
    return hmac.new(token.encode(), b'rooms access cookie', hashlib.sha256).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing tells nothing about how much of a guess was right."""
    return hmac.compare_digest(given.encode(), expected.encode())


class TokenGate:
    """Pure ASGI middleware (not BaseHTTPMiddleware) so it sees websocket scopes as well as HTTP ones."""

    def __init__(self, app: ASGIApp, *, token: str, cookie_name: str) -> None:
        self.app = app
        self.token = token
        self.cookie_name = cookie_name
        self.cookie = cookie_value(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] not in {'http', 'websocket'} or scope['path'] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        query = parse_qsl(scope.get('query_string', b'').decode('latin-1'), keep_blank_values=True)
        given = [value for key, value in query if key == 'token']
        if given:
            if not all(same_secret(value, self.token) for value in given):
                await self._refuse(scope, send, 'The token in this link is wrong or out of date.')
            elif scope['type'] == 'http' and scope['method'] in {'GET', 'HEAD'} \
                    and not scope['path'].startswith(SOCKET_PREFIX):
                await self._redirect_with_cookie(scope, query, send)
            else:
                await self.app(scope, receive, send)
            return
        if self._has_bearer(headers):
            await self.app(scope, receive, send)
        elif not self._has_cookie(headers):
            await self._refuse(scope, send, 'An access token is required.')
        elif _cross_site_socket(scope, headers):
            await self._refuse(scope, send, 'The socket must be opened by a Rooms page.')
        else:
            await self.app(scope, receive, send)

    def _has_cookie(self, headers: dict[str, str]) -> bool:
        cookies = SimpleCookie()
        try:
            cookies.load(headers.get('cookie', ''))
        except Exception:  # a malformed Cookie header is just no cookie
            return False
        morsel = cookies.get(self.cookie_name)
        return morsel is not None and same_secret(morsel.value, self.cookie)

    def _has_bearer(self, headers: dict[str, str]) -> bool:
        scheme, _, credentials = headers.get('authorization', '').partition(' ')
        return scheme.lower() == 'bearer' and same_secret(credentials.strip(), self.token)

    async def _redirect_with_cookie(self, scope: Scope, query: list[tuple[str, str]], send: Send) -> None:
        rest = urlencode([(key, value) for key, value in query if key != 'token'])
        # a path like //host/ would turn the Location into another site: keep it on this one
        path = '/' + (scope.get('root_path', '') + scope['path']).lstrip('/')
        location = path + (f'?{rest}' if rest else '')
        cookie = (f'{self.cookie_name}={self.cookie}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax')
        await _respond(send, 303, b'', 'text/plain; charset=utf-8',
                       [(b'location', location.encode('latin-1', 'replace')), (b'set-cookie', cookie.encode()),
                        (b'cache-control', b'no-store'), (b'referrer-policy', b'no-referrer')])

    async def _refuse(self, scope: Scope, send: Send, reason: str) -> None:
        if scope['type'] == 'websocket':
            await send({'type': 'websocket.close', 'code': 1008, 'reason': 'token required'})
            return
        if scope['path'].startswith(JSON_PREFIXES):
            body = json.dumps({'error': f'{reason} {HOW_TO_GET_IN}'}).encode()
            await _respond(send, 401, body, 'application/json', [(b'www-authenticate', b'Bearer')])
        else:
            await _respond(send, 401, refusal_page(reason).encode(), 'text/html; charset=utf-8',
                           [(b'www-authenticate', b'Bearer')])


HOW_TO_GET_IN = ('Ask whoever started Rooms for the link with ?token=... (it is printed in their terminal), '
                 'or send "Authorization: Bearer <token>".')


def refusal_page(reason: str) -> str:
    """The page a browser without the token sees; static text only, nothing from the request is echoed."""
    return f'''<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Token required · Rooms</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1e293b}}
h1{{font-size:1.5rem}}code{{background:#f1f5f9;padding:0 .25rem;border-radius:.25rem}}</style></head>
<body data-testid="token-required"><h1>Token required</h1>
<p>{reason} This Rooms server only lets in people who have its link with the access token.</p>
<p>Ask whoever started Rooms for the link with <code>?token=...</code> (it is printed in their terminal
and shown by the <b>Share</b> button of every room), then open that link once: this browser remembers it.</p>
</body></html>
'''


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in scope.get('headers', []):
        name = key.decode('latin-1').lower()
        text = value.decode('latin-1')
        headers[name] = f'{headers[name]}; {text}' if name == 'cookie' and name in headers else text
    return headers


def _cross_site_socket(scope: Scope, headers: dict[str, str]) -> bool:
    """True when another web page (not a Rooms page) opens the socket with this browser's cookie.

    SameSite=Lax does not help here: for an IP address every port is the same site, so a page served by any
    other program on this host could otherwise talk to the socket in the name of its visitor.
    """
    origin = headers.get('origin')
    if not scope['path'].startswith(SOCKET_PREFIX) or origin is None:
        return False  # not a browser: it has the cookie only if its owner gave it
    return origin.split('://', 1)[-1].rstrip('/').lower() != headers.get('host', '').lower()


async def _respond(send: Send, status: int, body: bytes, content_type: str,
                   extra: list[tuple[bytes, bytes]]) -> None:
    start: Message = {'type': 'http.response.start', 'status': status,
                      'headers': [(b'content-type', content_type.encode()),
                                  (b'content-length', str(len(body)).encode()), *extra]}
    await send(start)
    await send({'type': 'http.response.body', 'body': body})
