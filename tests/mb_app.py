"""Throwaway NiceGUI app for tests/test_message_body_browser.py: shows MessageBody elements and pushes deltas.

Run as `python tests/mb_app.py PORT`. The server keeps the "true" text of each message in MESSAGES; tests drive it
through small HTTP endpoints, and the rooms_sync handler mirrors what chat/ui/live.py does.
"""
from __future__ import annotations

import sys
from typing import Any

from fastapi import Request
from nicegui import app, core, ui

from chat.ui.live import DELTA_EVENT
from chat.ui.message_body import MessageBody

MESSAGES: dict[str, dict[str, Any]] = {}  # msgid -> {'room', 'text', 'streaming'}, in page order
SYNCS: list[dict[str, Any]] = []  # every rooms_sync request received, for the tests to inspect
BODIES: dict[str, list[MessageBody]] = {}  # msgid -> elements showing it (all tabs)


def socket_room(room: str) -> str:
    return f'room:{room}'


def apply(text: str, offset: int, chunk: str) -> str:
    """What the real server does with its own text: offsets count code points (Python's len)."""
    return chunk if offset == -1 else text[:offset] + chunk


@app.post('/setup')
async def setup(request: Request) -> dict:
    """Replace all messages: body {'msgs': [{'msgid', 'room', 'text', 'streaming'}]}."""
    data = await request.json()
    MESSAGES.clear()
    SYNCS.clear()
    for m in data['msgs']:
        MESSAGES[m['msgid']] = {'room': m['room'], 'text': m.get('text', ''), 'streaming': m.get('streaming', False)}
    return {'ok': True}


@app.post('/add')
async def add(request: Request) -> dict:
    """Add messages like /setup, keeping the existing ones (tabs show them after clicking 'add')."""
    data = await request.json()
    for m in data['msgs']:
        MESSAGES[m['msgid']] = {'room': m['room'], 'text': m.get('text', ''), 'streaming': m.get('streaming', False)}
    return {'ok': True}


@app.post('/push')
async def push(request: Request) -> dict:
    """Emit deltas {'deltas': [[msgid, offset, chunk], ...], 'store': bool}, one frame each, to the message's room.

    With store (default) the server's text follows the delta; without it the delta is sent but the server's text
    is left alone (tests set it with /truth to stage gaps).
    """
    data = await request.json()
    for msgid, offset, chunk in data['deltas']:
        message = MESSAGES[msgid]
        if data.get('store', True):
            message['text'] = apply(message['text'], offset, chunk)
        await core.sio.emit(DELTA_EVENT, [msgid, offset, chunk], room=socket_room(message['room']))
    return {'ok': True}


@app.post('/burst')
async def burst(request: Request) -> dict:
    """Stream {'msgid', 'text'} one code point per delta, as fast as possible."""
    data = await request.json()
    message = MESSAGES[data['msgid']]
    for char in data['text']:
        offset = len(message['text'])
        message['text'] += char
        await core.sio.emit(DELTA_EVENT, [data['msgid'], offset, char], room=socket_room(message['room']))
    return {'ok': True}


@app.post('/frame')
async def frame(request: Request) -> dict:
    """Emit one frame {'room', 'frame': [msgid, offset, chunk, ...]} as chat/ui/live.py's Relay does (several
    bodies' texts in one event); the server's texts follow it."""
    data = await request.json()
    items = data['frame']
    for i in range(0, len(items), 3):
        message = MESSAGES[items[i]]
        message['text'] = apply(message['text'], items[i + 1], items[i + 2])
    await core.sio.emit(DELTA_EVENT, items, room=socket_room(data['room']))
    return {'ok': True}


@app.post('/truth')
async def truth(request: Request) -> dict:
    """Set the server's text of a message without telling anyone."""
    data = await request.json()
    MESSAGES[data['msgid']]['text'] = data['text']
    return {'ok': True}


@app.post('/replace')
async def replace(request: Request) -> dict:
    """set_text_silently on every element of a message, then (unless silent) an update of the element, as any later
    change of it (a status, a version) sends the recorded text along."""
    data = await request.json()
    MESSAGES[data['msgid']]['text'] = data['text']
    for body in BODIES.get(data['msgid'], []):
        if body.is_deleted:  # its tab is gone
            continue
        body.set_text_silently(data['text'])
        if not data.get('silent'):
            body.update()
    return {'ok': True}


@app.get('/syncs')
def syncs() -> list[dict[str, Any]]:
    return SYNCS


async def on_sync(sid: str, data: Any) -> dict[str, Any]:
    SYNCS.append(data)
    await core.sio.enter_room(sid, socket_room(data['room']))
    return {'texts': {m: MESSAGES[m]['text'] for m in data.get('msgs', []) if m in MESSAGES}}


core.sio.on('rooms_sync', on_sync)


def add_body(msgid: str) -> None:
    message = MESSAGES[msgid]
    body = MessageBody(room=message['room'], msgid=msgid, text=message['text'], streaming=message['streaming'])
    body.props(f'data-testid=body-{msgid}')
    BODIES.setdefault(msgid, []).append(body)


@ui.page('/room/{room}')
def room_page(room: str) -> None:
    ui.label(f'room {room}')
    with ui.column().classes('w-full') as column:
        for msgid, message in MESSAGES.items():
            if message['room'] == room:
                add_body(msgid)

    def add_later() -> None:
        """Add this room's messages that this tab does not show yet (set up after the page loaded)."""
        with column:
            for msgid, message in MESSAGES.items():
                if message['room'] == room and not any(
                        not b.is_deleted and b.client is ui.context.client for b in BODIES.get(msgid, [])):
                    add_body(msgid)

    ui.button('add', on_click=add_later).props('data-testid=add')


if __name__ in {'__main__', '__mp_main__'}:
    ui.run(port=int(sys.argv[1]), host='127.0.0.1', reload=False, show=False, title='mb', favicon='🧪')
