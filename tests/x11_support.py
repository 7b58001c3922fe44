"""Helpers for desktop-window tests under Xvfb: a private X display, finding a window, its pixels, a polite close."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct
import subprocess
import time
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

CLIENT_MESSAGE = 33
"""X11 event type of a ClientMessage."""


@contextmanager
def xvfb(size: str = '1280x900x24') -> Iterator[str]:
    """A new Xvfb server on a display number it picks itself (free by construction); yields e.g. ':5'."""
    read_end, write_end = os.pipe()
    server = subprocess.Popen(['Xvfb', '-displayfd', str(write_end), '-screen', '0', size, '-nolisten', 'tcp'],
                              pass_fds=[write_end], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    try:
        with os.fdopen(read_end) as answer:
            number = answer.readline().strip()
        if not number:
            raise RuntimeError('Xvfb did not start')
        yield f':{number}'
    finally:
        server.terminate()
        server.wait(10)


def find_window(display: str, title_pattern: str, timeout: float) -> tuple[int, str]:
    """Wait for a visible window whose title matches the regex; returns its id and title (needs xdotool)."""
    env = {**os.environ, 'DISPLAY': display}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = subprocess.run(['xdotool', 'search', '--onlyvisible', '--name', title_pattern],
                               capture_output=True, text=True, env=env)
        for line in found.stdout.split():
            title = subprocess.run(['xdotool', 'getwindowname', line], capture_output=True, text=True,
                                   env=env).stdout.strip()
            return int(line), title
        time.sleep(0.5)
    raise TimeoutError(f'no window titled {title_pattern!r} appeared within {timeout} s')


def window_title(display: str, window: int) -> str:
    env = {**os.environ, 'DISPLAY': display}
    return subprocess.run(['xdotool', 'getwindowname', str(window)], capture_output=True, text=True,
                          env=env).stdout.strip()


@dataclass
class Screenshot:
    width: int
    height: int
    rgb: bytes
    """Rows of (r, g, b) bytes, top to bottom."""

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        at = (y * self.width + x) * 3
        return self.rgb[at], self.rgb[at + 1], self.rgb[at + 2]

    def colours(self, step: int = 2) -> Counter[tuple[int, int, int]]:
        return Counter(self.pixel(x, y) for y in range(0, self.height, step) for x in range(0, self.width, step))

    def save_png(self, path: Path) -> None:
        rows = b''.join(b'\0' + self.rgb[y * self.width * 3:(y + 1) * self.width * 3] for y in range(self.height))

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))
        header = struct.pack('>IIBBBBB', self.width, self.height, 8, 2, 0, 0, 0)
        path.write_bytes(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(rows))
                         + chunk(b'IEND', b''))


def screenshot(display: str, window: int) -> Screenshot:
    """The window's pixels, through `xwd` (Debian x11-apps) and a reader of its 24/32-bit TrueColor format."""
    data = subprocess.run(['xwd', '-silent', '-id', str(window)], capture_output=True, check=True,
                          env={**os.environ, 'DISPLAY': display}).stdout
    fields = struct.unpack('>25I', data[:100])
    header_size, width, height, byte_order = fields[0], fields[4], fields[5], fields[7]
    bits_per_pixel, bytes_per_line, ncolours = fields[11], fields[12], fields[19]
    if bits_per_pixel != 32:
        raise ValueError(f'unexpected xwd format: {bits_per_pixel} bits per pixel')
    masks = fields[14:17]
    shifts = [(mask & -mask).bit_length() - 1 for mask in masks]
    start = header_size + ncolours * 12
    order = 'little' if byte_order == 0 else 'big'
    rgb = bytearray()
    for y in range(height):
        row = data[start + y * bytes_per_line:start + y * bytes_per_line + width * 4]
        for x in range(0, width * 4, 4):
            value = int.from_bytes(row[x:x + 4], order)
            rgb += bytes((value & mask) >> shift for mask, shift in zip(masks, shifts, strict=True))
    return Screenshot(width, height, bytes(rgb))


class _ClientMessage(ctypes.Structure):
    _fields_ = [('type', ctypes.c_int), ('serial', ctypes.c_ulong), ('send_event', ctypes.c_int),
                ('display', ctypes.c_void_p), ('window', ctypes.c_ulong), ('message_type', ctypes.c_ulong),
                ('format', ctypes.c_int), ('data', ctypes.c_long * 5)]


class _XEvent(ctypes.Union):
    _fields_ = [('xclient', _ClientMessage), ('pad', ctypes.c_long * 24)]


def close_window(display: str, window: int) -> None:
    """Ask the window to close the way a window manager does when a person clicks its close button.

    That is a WM_DELETE_WINDOW ClientMessage; `xdotool windowclose` would destroy the window under the
    program's feet instead, and there is no window manager under Xvfb to ask.
    """
    x11 = ctypes.CDLL(ctypes.util.find_library('X11') or 'libX11.so.6')
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.POINTER(_XEvent)]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    connection = x11.XOpenDisplay(display.encode())
    if not connection:
        raise RuntimeError(f'cannot open X display {display}')
    try:
        event = _XEvent()
        event.xclient.type = CLIENT_MESSAGE
        event.xclient.window = window
        event.xclient.message_type = x11.XInternAtom(connection, b'WM_PROTOCOLS', 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(connection, b'WM_DELETE_WINDOW', 0)
        if not x11.XSendEvent(connection, window, 0, 0, ctypes.byref(event)):
            raise RuntimeError('XSendEvent failed')
        x11.XFlush(connection)
    finally:
        x11.XCloseDisplay(connection)


def listens_on_all_interfaces(port: int) -> bool:
    """True when a TCP socket listens on 0.0.0.0:port (read from /proc: no packet is sent anywhere)."""
    wanted = f'00000000:{port:04X}'
    for line in Path('/proc/net/tcp').read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == wanted and fields[3] == '0A':  # 0A: LISTEN
            return True
    return False
