"""How a long room's file is written: in small pieces, so the writer thread never holds the GIL for long."""
from __future__ import annotations

import json
from pathlib import Path

import chat.store as store_module
from chat.models import Message
from chat.store import RoomStore, dump_tables


def test_a_long_room_is_written_in_small_pieces_that_make_the_same_json(tmp_path: Path) -> None:
    """Guards the event loop while a reply streams in a 10,000-message room: a save joined and encoded the whole
    file as one string, a C call that stalled the loop for 15-40 ms on a busy machine."""
    data = {'messages': {str(i): {'seq': i, 'content': f'text {i} \u00e9\U0001F469'} for i in range(1, 1001)},
            'settings': {'1': {'title': 'T'}}}
    cache: dict[str, dict[str, str]] = {}
    for pieces in (dump_tables(data), dump_tables(data, cache=cache), dump_tables(data, cache=cache),
                   dump_tables(data, ensure_ascii=True)):
        assert json.loads(''.join(pieces)) == data
        assert max(len(piece) for piece in pieces) < 100 * store_module.WRITE_CHUNK  # documents of < 100 chars
        assert len(pieces) >= 1000 // store_module.WRITE_CHUNK


def test_a_long_room_round_trips_through_its_file(tmp_path: Path) -> None:
    room_file, _ = RoomStore(tmp_path).open('long')
    messages = [Message(id=f'm{i}', seq=i, role='user', content=f'text {i}') for i in range(1, 1002)]
    room_file.save(messages)
    room_file.save([messages[500]])
    reloaded = RoomStore(tmp_path).open('long')[1].messages
    assert [(m.seq, m.content) for m in reloaded] == [(m.seq, m.content) for m in messages]
