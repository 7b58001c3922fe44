"""The text relay (chat/ui/live.py's Relay): what goes on the wire while a reply streams, without a browser.

Frames are encoded the way socket.io sends them (`42["rooms_text",[...]]`, JSON without ASCII escapes, as NiceGUI's
orjson does), and applied the way message_body.js applies them, so the tests see bytes per character and the text
every tab ends up with.
"""
from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from chat.events import RoomEvent
from chat.models import Message
from chat.ui.live import DELTA_EVENT, THINKING, Relay

WORDS_PER_SECOND = 100
CHARS_PER_WORD = 6  # 'lorem ' on average: the rate a model writes at, whatever its token size


class Wire:
    """A socket room's frames: encoded size, and the texts a tab applying them (offsets and all) would show."""

    def __init__(self, *, slow: float = 0.0) -> None:
        self.frames: list[list[Any]] = []
        self.bytes = 0
        self.texts: dict[str, str] = {}
        self.slow = slow

    async def emit(self, frame: list[Any]) -> None:
        self.frames.append(frame)
        self.bytes += len(f'42{json.dumps([DELTA_EVENT, frame], ensure_ascii=False, separators=(",", ":"))}'.encode())
        for i in range(0, len(frame), 3):
            body, offset, text = frame[i:i + 3]
            known = self.texts.get(body, '')
            if offset == -1:
                self.texts[body] = text
            else:
                assert offset <= len(known), f'a gap: {body} at {offset}, the tab has {len(known)}'
                self.texts[body] = known + text[len(known) - offset:]
        if self.slow:
            await asyncio.sleep(self.slow)


def reply(message_id: str = '0123456789abcdef') -> Message:
    return Message(id=message_id, seq=2, role='assistant', content='', status='streaming', created_at=time.time())


async def stream(relay: Relay, message: Message, text: str, token_chars: int, *, part: str = 'content') -> None:
    """Publish `text` in tokens of `token_chars` characters at the pace of WORDS_PER_SECOND words."""
    pause = token_chars / (WORDS_PER_SECOND * CHARS_PER_WORD)
    offset = 0
    for start in range(0, len(text), token_chars):
        chunk = text[start:start + token_chars]
        relay(RoomEvent('delta', message, offset=offset, text=chunk, part=part))  # type: ignore[arg-type]
        offset += len(chunk)
        await asyncio.sleep(pause)


@pytest.mark.parametrize('token_chars', [1, 2, 4, 8, 20])
async def test_the_wire_carries_at_most_8_bytes_per_character_whatever_the_token_size(token_chars: int) -> None:
    """Guards the wire target of issue 13: one- to four-character deltas used to cost 10-40 bytes a character."""
    wire = Wire()
    relay = Relay(wire.emit)
    message = reply()
    text = 'lorem ipsum dolor sit amet, consectetur adipiscing elit. ' * 5
    await stream(relay, message, text, token_chars)
    relay(RoomEvent('updated', message))  # the end of a reply sends what is pending at once
    await asyncio.sleep(0.05)
    assert wire.texts == {message.id: text}
    assert wire.bytes / len(text) <= 8, (wire.bytes / len(text), len(wire.frames))


async def test_a_word_sized_delta_goes_out_at_once_when_nothing_is_in_flight() -> None:
    wire = Wire()
    relay = Relay(wire.emit)
    message = reply()
    relay(RoomEvent('delta', message, offset=0, text='w1@1764755757.123456 '))
    await asyncio.sleep(0)  # the frame goes out after the callbacks already due in this turn of the loop
    await asyncio.sleep(0)
    assert wire.frames == [[message.id, 0, 'w1@1764755757.123456 ']]


async def test_tiny_deltas_wait_a_moment_at_most() -> None:
    wire = Wire()
    relay = Relay(wire.emit)
    message = reply()
    relay(RoomEvent('delta', message, offset=0, text='a'))
    await asyncio.sleep(0.01)
    assert wire.frames == []
    await asyncio.sleep(0.05)
    assert wire.frames == [[message.id, 0, 'a']]


async def test_while_a_send_is_in_flight_deltas_of_several_bodies_gather_in_one_frame() -> None:
    wire = Wire(slow=0.05)
    relay = Relay(wire.emit)
    message = reply()
    relay(RoomEvent('delta', message, offset=0, text='first words '))
    await asyncio.sleep(0.01)  # the first frame is in flight
    relay(RoomEvent('delta', message, offset=0, text='thinking ', part='thinking'))
    relay(RoomEvent('delta', message, offset=12, text='and more '))
    relay(RoomEvent('delta', message, offset=21, text='and more still '))
    await asyncio.sleep(0.15)
    assert wire.frames == [[message.id, 0, 'first words '],
                           [message.id + THINKING, 0, 'thinking ', message.id, 12, 'and more and more still ']]


async def test_a_replacement_and_the_final_empty_delta_keep_their_order_and_offsets() -> None:
    """A replacement (offset -1) resets the text; the empty delta at the final length lets a tab that missed text
    notice the gap. Neither may be merged into the text around it."""
    wire = Wire(slow=0.02)
    relay = Relay(wire.emit)
    message = reply()
    relay(RoomEvent('delta', message, offset=0, text='draft text '))
    await asyncio.sleep(0.005)
    relay(RoomEvent('delta', message, offset=-1, text='Reset: '))
    relay(RoomEvent('delta', message, offset=7, text='new text'))
    relay(RoomEvent('delta', message, offset=15, text=''))
    relay(RoomEvent('updated', message))
    await asyncio.sleep(0.1)
    assert wire.frames[-1] == [message.id, -1, 'Reset: ', message.id, 7, 'new text']
    assert wire.texts == {message.id: 'Reset: new text'}


async def test_offsets_count_code_points_like_python() -> None:
    wire = Wire()
    relay = Relay(wire.emit)
    message = reply()
    for offset, chunk in [(0, '🙂'), (1, 'é'), (2, '漢字 ')]:
        relay(RoomEvent('delta', message, offset=offset, text=chunk))
    await asyncio.sleep(0.1)
    assert wire.frames == [[message.id, 0, '🙂é漢字 ']]
    assert wire.texts == {message.id: '🙂é漢字 '}
