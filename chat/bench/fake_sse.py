"""Server-sent events on a raw asyncio stream, as the fake Anthropic API writes them (chunked HTTP/1.1)."""
from __future__ import annotations

import asyncio
import contextlib
import json


class ClientGone(Exception):
    """The client closed the connection while a stream was being sent."""


async def send_event(writer: asyncio.StreamWriter, eof: asyncio.Future[None], event: str, data: object) -> None:
    if eof.done():
        raise ClientGone
    payload = f'event: {event}\ndata: {json.dumps(data)}\n\n'.encode()
    writer.write(f'{len(payload):x}\r\n'.encode() + payload + b'\r\n')
    try:
        await writer.drain()
    except ConnectionError as exc:
        raise ClientGone from exc


async def wait_eof(reader: asyncio.StreamReader) -> None:
    """Return when the client closes its side (HTTP/1.1 clients send nothing while awaiting a response)."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass
