"""Who may reach what: one ASGI middleware in front of every page, API route, asset and the socket.

In every mode, token or not, a request is refused (403) when its `Host` is not a name of this server (a DNS
rebinding page names its own host), and a state-changing request or a socket is refused when its `Origin` (or
`Referer`) is another site. Every answer carries headers that forbid framing and sniffing.

When the token is on, a request also needs a credential: the owner's (the access token: `?token=T`, the cookie it
turns into, or `Authorization: Bearer T`) opens everything; a room link's (a room key, see links.py, in the same
three forms) opens that one room: its page, its `/api/rooms/{id}/...` routes, the assets every page loads and the
live updates of its own tabs. Only `/healthz` (says "ok", nothing else) and `/favicon.ico` stay open.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Literal
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from nicegui import Client
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import share
from .config import Settings
from .links import RoomLinks
from .models import is_valid_room_id

OPEN_PATHS = frozenset({'/healthz', '/favicon.ico'})
"""Reachable without the token: they say nothing about the rooms."""
SOCKET_PREFIX = '/_nicegui_ws/'
"""NiceGUI's socket.io endpoint (polling and websocket); the browser sends the cookie with both."""
CLIENT_PREFIX = '/_nicegui/client/'
"""NiceGUI's per-tab routes (uploads), named after the tab's client id."""
ASSET_PREFIXES = ('/_nicegui/', '/rooms-static/')
"""Scripts and styles every page loads; they say nothing about any room."""
JSON_PREFIXES = ('/api/', '/_nicegui', SOCKET_PREFIX)
"""Refused with JSON instead of the HTML page: scripts and assets, not people, ask for these."""
STATE_CHANGING = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})
COOKIE_MAX_AGE = 30 * 24 * 3600
"""Seconds a browser keeps the cookie; a new token (a restart without --token) makes it worthless anyway."""
ROOM_PATH = re.compile(r'/room/([A-Za-z0-9_-]{1,64})/?')
ROOM_API_PATH = re.compile(r'/api/rooms/([A-Za-z0-9_-]{1,64})(/.*)?')
OWNER_ONLY_ROOM_ROUTES = frozenset({'/share/renew'})
"""Room routes a room link does not open: they change who else may come in."""
LOOPBACK_NAMES = frozenset({'localhost', '127.0.0.1', '::1'})
SECURITY_HEADERS = [
    (b'x-frame-options', b'DENY'),
    (b'content-security-policy', b"frame-ancestors 'none'"),
    (b'referrer-policy', b'same-origin'),
    (b'x-content-type-options', b'nosniff'),
]
"""On every answer: no page may frame Rooms (a hidden Delete under a decoy button), no other site learns a room's
address from a link followed out of it, and no browser guesses a type the server did not send."""


@dataclass(slots=True, frozen=True)
class Access:
    """What the request's credential opens: everything (the owner), or one room."""

    owner: bool
    room: str | None = None


OWNER = Access(owner=True)
OWNER_KEY = '\0owner'
"""Stands for the access token among the room ids a request's credentials open (no room id has a NUL)."""
Target = tuple[Literal['open', 'asset', 'owner', 'room', 'tab'], str | None]
"""What a request reaches: the open paths, an asset, something only the owner may see, a room, or a tab's socket
or route (the room of that tab, or None for a tab that no longer exists)."""


def install(app: Starlette, settings: Settings, links: RoomLinks) -> None:
    """Put the gate in front of the whole app (every mode: the host, origin and framing checks always apply)."""
    app.add_middleware(Gate, settings=settings, links=links, hosts=HostPolicy.of(settings))


def access_of(scope: Scope) -> Access:
    """The access the gate granted this request (every request reaching a page or route went through it)."""
    return scope.get('state', {}).get('rooms_access', OWNER)


def owner_cookie_name(port: int) -> str:
    # cookies ignore the port: two Rooms on one host must not overwrite each other's cookie
    return f'rooms_access_{port}'


def room_cookie_name(port: int, room_id: str) -> str:
    return f'rooms_room_{port}_{room_id}'


def cookie_value(secret: str, purpose: bytes = b'rooms access cookie') -> str:
    """What a cookie holds: derived from the token or key, so the cookie never spells it out."""
    return hmac.new(secret.encode(), purpose, hashlib.sha256).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison, so response timing tells nothing about how much of a guess was right."""
    return hmac.compare_digest(given.encode(), expected.encode())


class HostPolicy:
    """The `Host` names this server answers to: loopback names, `--allow-host` names, the address it was told to
    bind, and with `--share` this machine's own addresses and host name."""

    def __init__(self, names: frozenset[str], machine: bool) -> None:
        self.names = names
        self.machine = machine
        self._machine_names: frozenset[str] = frozenset()
        self._machine_read = -1e9

    @classmethod
    def of(cls, settings: Settings) -> HostPolicy:
        names = {name.lower() for name in settings.allowed_hosts}
        if settings.host not in share.LOCAL_HOSTS:
            names.add(settings.host.lower())
        return cls(frozenset(names), machine=settings.share)

    def allows(self, host_header: str | None) -> bool:
        name = host_name(host_header or '')
        if not name:
            return False
        if name in LOOPBACK_NAMES or name.endswith('.localhost') or name in self.names or _is_loopback(name):
            return True
        return self.machine and name in self._this_machine()

    def _this_machine(self) -> frozenset[str]:
        # addresses change (DHCP, a new network): read them again, but not more than once every 10 s
        if time.monotonic() - self._machine_read > 10:
            self._machine_names = frozenset(share.machine_names())
            self._machine_read = time.monotonic()
        return self._machine_names


HOST_HEADER = re.compile(r'(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(:[0-9]{1,5})?')
"""What a browser sends as `Host`: a name or an address, then maybe a port; anything else names no host of ours."""


def host_name(host_header: str) -> str:
    """The host name of a `Host` header, lower case, without port, brackets or final dot; '' when malformed."""
    match = HOST_HEADER.fullmatch(host_header.strip().lower())
    return match[1].strip('[]').rstrip('.') if match else ''


def _is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Gate:
    """Pure ASGI middleware (not BaseHTTPMiddleware) so it sees websocket scopes as well as HTTP ones."""

    def __init__(self, app: ASGIApp, *, settings: Settings, links: RoomLinks, hosts: HostPolicy) -> None:
        self.app = app
        self.token = settings.token
        self.port = settings.port
        self.links = links
        self.hosts = hosts
        self.owner_cookie = owner_cookie_name(settings.port)
        self.owner_value = cookie_value(settings.token) if settings.token else ''

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope['type'] not in {'http', 'websocket'}:
            await self.app(scope, receive, send)
            return
        if scope['type'] == 'http':
            send = _with_security_headers(send)
        headers = _headers(scope)
        if not self.hosts.allows(headers.get('host')):
            await _refuse(scope, send, 403, 'This server does not answer to that host name. If you reach Rooms '
                          'through another name, start it with --allow-host NAME.')
            return
        if _foreign_origin(scope, headers):
            await _refuse(scope, send, 403, 'Requests from other web sites are refused: use Rooms from its own '
                          'pages, or send the request without an Origin header from a script.')
            return
        if self.token is None:
            await self._enter(scope, receive, send, OWNER)
            return
        await self._check_credential(scope, receive, send, headers)

    async def _check_credential(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str]) -> None:
        target = self._target(scope)
        if target[0] == 'open':
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get('query_string', b'').decode('latin-1'), keep_blank_values=True)
        given = [value for key, value in query if key == 'token']
        bearer = _bearer(headers)
        secrets = given or ([bearer] if bearer else [])
        if secrets:
            credentials = [self._opened_by(secret) for secret in secrets]
            if None in credentials:
                await _refuse(scope, send, 401, 'The token in this link is wrong or out of date.')
                return
        else:
            credentials = self._cookie_credentials(headers)
            if not credentials:
                await _refuse(scope, send, 401, 'An access token is required.')
                return
        access = _grant(credentials, target)
        if access is None:
            await _refuse(scope, send, 403, 'This link opens one room only; ask whoever started Rooms for a link '
                          'to what you want to open.')
        elif given and scope['type'] == 'http' and scope['method'] in {'GET', 'HEAD'} and target[0] != 'tab':
            await self._redirect_with_cookie(scope, query, send, access)
        else:
            await self._enter(scope, receive, send, access)

    def _target(self, scope: Scope) -> Target:
        path: str = scope['path']
        if path in OPEN_PATHS:
            return 'open', None
        if path.startswith(SOCKET_PREFIX) or path.startswith(CLIENT_PREFIX):
            return 'tab', _room_of_tab(scope, path)
        if path.startswith(ASSET_PREFIXES):
            return 'asset', None
        if match := ROOM_PATH.fullmatch(path):
            return 'room', match[1]
        if (match := ROOM_API_PATH.fullmatch(path)) and (route := (match[2] or '').rstrip('/')) not in \
                OWNER_ONLY_ROOM_ROUTES and not (match[1] == 'import' and not route and scope.get('method') == 'POST'):
            return 'room', match[1]  # (POST /api/rooms/import makes a room: the owner's; a room `import` is a room)
        return 'owner', None

    def _opened_by(self, secret: str) -> str | None:
        """OWNER_KEY for the access token, the room id for a room key, None for anything else."""
        assert self.token is not None
        if same_secret(secret, self.token):
            return OWNER_KEY
        room = self.links.room_of(secret)
        return room if room is not None and self.links.opens(room, secret) else None

    def _cookie_credentials(self, headers: dict[str, str]) -> list[str]:
        cookies = _cookies(headers)
        found = []
        if (owner := cookies.get(self.owner_cookie)) is not None and same_secret(owner, self.owner_value):
            found.append(OWNER_KEY)
        prefix = room_cookie_name(self.port, '')
        for name, value in cookies.items():
            room = name[len(prefix):]
            if name.startswith(prefix) and is_valid_room_id(room) and same_secret(value, self._room_value(room)):
                found.append(room)
        return found

    def _room_value(self, room_id: str) -> str:
        return cookie_value(self.links.key(room_id), b'rooms room cookie')

    async def _enter(self, scope: Scope, receive: Receive, send: Send, access: Access) -> None:
        scope.setdefault('state', {})['rooms_access'] = access
        await self.app(scope, receive, send)

    async def _redirect_with_cookie(self, scope: Scope, query: list[tuple[str, str]], send: Send,
                                    access: Access) -> None:
        rest = urlencode([(key, value) for key, value in query if key != 'token'])
        location = safe_path(scope) + (f'?{rest}' if rest else '')
        if access.owner:
            name, value = self.owner_cookie, self.owner_value
        else:
            assert access.room is not None
            name, value = room_cookie_name(self.port, access.room), self._room_value(access.room)
        cookie = f'{name}={value}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax'
        await _respond(send, 303, b'', 'text/plain; charset=utf-8',
                       [(b'location', location.encode('ascii')), (b'set-cookie', cookie.encode()),
                        (b'cache-control', b'no-store')])


def _grant(credentials: list[str], target: Target) -> Access | None:
    """What the request's credentials open of `target`: everything for the owner, else the one room they name."""
    if OWNER_KEY in credentials:
        return OWNER
    kind, room = target
    if kind == 'asset' or (kind == 'tab' and room is None):  # a tab that no longer exists can do nothing
        return Access(owner=False, room=credentials[0])
    if kind in {'room', 'tab'} and room in credentials:
        return Access(owner=False, room=room)
    return None


def safe_path(scope: Scope) -> str:
    """The request's path as sent (still percent-encoded), always a path on this site.

    Decoded, `/%5Cevil.com` would become `/\\evil.com`, which browsers follow to `//evil.com`: another site.
    """
    raw = scope.get('raw_path') or scope['path'].encode()
    path = quote(raw.decode('latin-1'), safe="/%:@!$&'()*+,;=-._~")
    return '/' + path.lstrip('/\\')


def _room_of_tab(scope: Scope, path: str) -> str | None:
    """The room whose page made the tab that this socket or tab route belongs to; None when there is no such tab."""
    if path.startswith(CLIENT_PREFIX):
        client_id = path[len(CLIENT_PREFIX):].split('/', 1)[0]
    else:
        query = dict(parse_qsl(scope.get('query_string', b'').decode('latin-1')))
        client_id = query.get('client_id', '')
    client = Client.instances.get(client_id)
    if client is None:
        return None
    match = ROOM_PATH.fullmatch(client.request.url.path) if client.request is not None else None
    return match[1] if match else ''  # '' is no room: a tab of the home page


def _foreign_origin(scope: Scope, headers: dict[str, str]) -> bool:
    """True when another web site sends this socket or state-changing request through a visitor's browser."""
    is_socket = scope['type'] == 'websocket' or scope['path'].startswith(SOCKET_PREFIX)
    if not is_socket and scope.get('method') not in STATE_CHANGING:
        return False
    origin = headers.get('origin')
    if origin is None and not is_socket:
        origin = headers.get('referer')
    if origin is None:
        return False  # not a browser (a browser always sends Origin with these): it holds only what it was given
    parts = urlsplit(origin)
    return parts.scheme not in {'http', 'https'} or parts.netloc.lower() != headers.get('host', '').lower()


def _with_security_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message['type'] == 'http.response.start':
            present = {name.lower() for name, _ in message.get('headers', [])}
            message['headers'] = [*message.get('headers', []),
                                  *(header for header in SECURITY_HEADERS if header[0] not in present)]
        await send(message)
    return sending


async def _refuse(scope: Scope, send: Send, status: int, reason: str) -> None:
    if scope['type'] == 'websocket':
        await send({'type': 'websocket.close', 'code': 1008, 'reason': 'refused'})
        return
    extra = [(b'www-authenticate', b'Bearer')] if status == 401 else []
    if scope['path'].startswith(JSON_PREFIXES):
        text = f'{reason} {HOW_TO_GET_IN}' if status == 401 else reason
        await _respond(send, status, json.dumps({'error': text}).encode(), 'application/json', extra)
    else:
        await _respond(send, status, refusal_page(status, reason).encode(), 'text/html; charset=utf-8', extra)


HOW_TO_GET_IN = ('Ask whoever started Rooms for the link with ?token=... (it is printed in their terminal), '
                 'or send "Authorization: Bearer <token>".')


def refusal_page(status: int, reason: str) -> str:
    """The page a browser that may not come in sees; static text only, nothing from the request is echoed."""
    if status == 401:
        heading, test_id = 'Token required', 'token-required'
        advice = ('This Rooms server only lets in people who have its link with the access token.</p>\n<p>Ask whoever '
                  'started Rooms for the link with <code>?token=...</code> (it is printed in their terminal and shown '
                  'by the <b>Share</b> button of every room), then open that link once: this browser remembers it.')
    else:
        heading, test_id, advice = 'Not allowed', 'not-allowed', ''
    return f'''<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{heading} · Rooms</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1e293b}}
h1{{font-size:1.5rem}}code{{background:#f1f5f9;padding:0 .25rem;border-radius:.25rem}}
@media (prefers-color-scheme:dark){{body{{background:#0f172a;color:#e2e8f0}}code{{background:#1e293b}}}}</style></head>
<body data-testid="{test_id}"><h1>{heading}</h1>
<p>{reason}{" " + advice if advice else ""}</p>
</body></html>
'''


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in scope.get('headers', []):
        name = key.decode('latin-1').lower()
        text = value.decode('latin-1')
        headers[name] = f'{headers[name]}; {text}' if name == 'cookie' and name in headers else text
    return headers


def _cookies(headers: dict[str, str]) -> dict[str, str]:
    cookies = SimpleCookie()
    try:
        cookies.load(headers.get('cookie', ''))
    except Exception:  # a malformed Cookie header is just no cookie
        return {}
    return {name: morsel.value for name, morsel in cookies.items()}


def _bearer(headers: dict[str, str]) -> str | None:
    scheme, _, credentials = headers.get('authorization', '').partition(' ')
    return credentials.strip() or None if scheme.lower() == 'bearer' else None


async def _respond(send: Send, status: int, body: bytes, content_type: str,
                   extra: list[tuple[bytes, bytes]]) -> None:
    start: Message = {'type': 'http.response.start', 'status': status,
                      'headers': [(b'content-type', content_type.encode()),
                                  (b'content-length', str(len(body)).encode()), *extra]}
    await send(start)
    await send({'type': 'http.response.body', 'body': body})
