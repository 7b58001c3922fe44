"""How a long room's file is written: in small pieces, so the writer thread never holds the GIL for long."""
from __future__ import annotations

import json
from pathlib import Path

import chat.store as store_module
from chat.models import Message, Status
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


def test_a_reply_that_starts_streaming_costs_no_room_file_write(tmp_path: Path) -> None:
    """Guards long rooms: the reply's first save goes to its small checkpoint file, the room file gets it once it
    settles; a crash in between still finds it (RoomFile.load), and removing it removes its checkpoint."""
    room_file, _ = RoomStore(tmp_path).open('r')
    user = Message(id='u1', seq=1, role='user', content='question')
    reply = Message(id='a2', seq=2, role='assistant', content='', status=Status.STREAMING)
    room_file.save([user, reply])
    assert [m['seq'] for m in json.loads((tmp_path / 'r.json').read_text())['messages'].values()] == [1]
    assert json.loads((tmp_path / 'r.reply.json').read_text())['seq'] == 2
    crashed = RoomStore(tmp_path).open('r')[1].messages
    assert [(m.seq, m.status) for m in crashed] == [(1, Status.COMPLETE), (2, Status.STREAMING)]

    reply.content, reply.status = 'Answer', Status.COMPLETE
    room_file.save([reply])
    assert not (tmp_path / 'r.reply.json').exists()
    assert [m.content for m in RoomStore(tmp_path).open('r')[1].messages] == ['question', 'Answer']

    again = Message(id='a3', seq=3, role='assistant', content='', status=Status.STREAMING)
    room_file.save([again])
    room_file.delete([3])
    assert not (tmp_path / 'r.reply.json').exists()
    assert [m.seq for m in RoomStore(tmp_path).open('r')[1].messages] == [1, 2]
