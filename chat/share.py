"""Links to this server as others reach it: the LAN address, links with the token, QR codes, the start message.

The only module that imports segno. Finding the LAN address sends no packet anywhere: it asks the kernel for
the addresses of this machine's own interfaces.
"""
from __future__ import annotations

import io
import ipaddress
import secrets
import socket
import struct
import sys
from collections.abc import Sequence
from functools import cache
from urllib.parse import quote

import segno

from .config import Settings
from .links import RoomLinks

ANY_HOST = '0.0.0.0'
LOCAL_HOSTS = frozenset({'127.0.0.1', 'localhost', '::1', ANY_HOST})


def startup_message(settings: Settings, lan_host: str | None, new_room: str, links: RoomLinks | None = None,
                    rooms: Sequence[str] = ()) -> str:
    """What Rooms prints at start: where it runs, the links to give others (with the token) and a QR code.

    :param lan_host: the address others on the network use (`lan_host(settings)`), None if there is none
    :param rooms: ids of rooms to print a room link for, most recent first
    """
    local = link(settings, 'localhost' if settings.host in LOCAL_HOSTS else settings.host, '/')
    lines = [f'Rooms is running at {local}']
    host = lan_host if settings.share else 'localhost'
    if settings.share and lan_host is None:
        lines.append('  no LAN address found: others on your network cannot reach this machine right now')
    elif settings.token_required and host is not None:
        home = link(settings, host, '/')
        lines.append(f'  owner link (opens every room; keep it to yourself): {home}')
        if links is not None:
            lines.append('  room links (each opens one room only; give these to people):')
            lines += [f'    room {room_id}: {room_link(settings, room_id, links, host)}' for room_id in rooms]
            lines.append(f'    a new room: {room_link(settings, new_room, links, host)}')
        if settings.share:
            lines += ['  scan to open the home page on your phone (owner link):', qr_terminal(home).rstrip('\n')]
    if settings.token_required:
        lines.append('  without a link with ?token=... Rooms shows only "token required"')
    why_demo = '--model demo' if settings.api_key else 'no ANTHROPIC_API_KEY set'
    model = (f'the offline demo model ({why_demo})' if settings.uses_demo
             else settings.model + (f' via {settings.base_url}' if settings.base_url else ''))
    lines += [f'  replies from: {model}', f'  rooms saved in: {settings.data_dir.resolve()}',
              '  stop with Ctrl+C' + (' or close the window' if settings.native else '')]
    return '\n'.join(lines)


def link(settings: Settings, host: str, path: str) -> str:
    """`http://host:port/path`, with `?token=` when the token is on."""
    return f'http://{_url_host(host)}:{settings.port}{start_path(settings, path)}'


def lan_host(settings: Settings) -> str | None:
    """The host others on the network use to reach this server, or None when they cannot."""
    if settings.host == ANY_HOST:
        return lan_address()
    return None if settings.host in LOCAL_HOSTS else settings.host


def public_host(settings: Settings) -> str:
    """The host for links shown to people: the LAN one if there is one, else this machine's own name for itself."""
    return lan_host(settings) or 'localhost'


def room_link(settings: Settings, room_id: str, links: RoomLinks, host: str | None = None) -> str:
    """The link that opens one room and nothing else (with its room key when the token is on)."""
    path = f'/room/{room_id}'
    if settings.token:
        path += f'?token={quote(links.key(room_id), safe="")}'
    return f'http://{_url_host(host or public_host(settings))}:{settings.port}{path}'


def owner_link(settings: Settings) -> str:
    """The link that opens everything: the home page with the access token."""
    return link(settings, public_host(settings), '/')


def native_window_url(settings: Settings) -> str:
    """What the native window opens: the token must be in it, the window cannot type it."""
    return link(settings, '127.0.0.1', '/')


def start_path(settings: Settings, path: str = '/') -> str:
    """`path` with `?token=` when the token is on: what a browser must open first to get in."""
    return f'{path}?token={quote(settings.token, safe="")}' if settings.token else path


def new_room_id() -> str:
    return secrets.token_urlsafe(8).replace('-', 'x').replace('_', 'y')


def qr_terminal(url: str) -> str:
    """The QR code of `url` drawn with Unicode half blocks, two rows per line."""
    out = io.StringIO()
    segno.make(url, error='m').terminal(out=out, compact=True)
    return out.getvalue()


def qr_svg_data_uri(url: str) -> str:
    """The QR code of `url` as an SVG `data:` URI for an <img>: dark on white, whatever the page theme."""
    return segno.make(url, error='m').svg_data_uri(scale=6, dark='#0f172a', light='#ffffff', border=2)


def machine_names() -> set[str]:
    """Every name and IPv4 address this machine is known by on its networks (for the Host check in share mode)."""
    hostname = socket.gethostname().lower()
    names = {hostname, f'{hostname}.local', hostname.split('.', 1)[0]}
    return names | {str(address) for address in _interface_addresses()}


@cache
def lan_address() -> str | None:
    """The best guess at this machine's address on the local network, or None when it has none."""
    candidates = _interface_addresses()
    usable = [a for a in candidates if not (a.is_loopback or a.is_link_local or a.is_unspecified)]
    if not usable:
        return None
    # a home or office LAN (192.168/16, then 10/8) before container bridges (usually 172.16/12) and the rest
    def rank(address: ipaddress.IPv4Address) -> int:
        for order, net in enumerate(('192.168.0.0/16', '10.0.0.0/8', '172.16.0.0/12')):
            if address in ipaddress.ip_network(net):
                return order
        return 3
    return str(min(usable, key=rank))


def _interface_addresses() -> list[ipaddress.IPv4Address]:
    if sys.platform.startswith('linux'):
        return _linux_interface_addresses()
    # elsewhere: what the system resolver says about our own name (normally answered from the hosts file)
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return []
    return [ipaddress.IPv4Address(info[4][0]) for info in infos]


def _linux_interface_addresses() -> list[ipaddress.IPv4Address]:
    import fcntl  # Unix only

    siocgifaddr = 0x8915
    found = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        for _, name in socket.if_nameindex():
            try:
                answer = fcntl.ioctl(probe.fileno(), siocgifaddr, struct.pack('256s', name.encode()[:15]))
            except OSError:
                continue  # the interface has no IPv4 address
            found.append(ipaddress.IPv4Address(answer[20:24]))
    return found


def _url_host(host: str) -> str:
    return f'[{host}]' if ':' in host and not host.startswith('[') else host
