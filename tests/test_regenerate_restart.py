"""A Regenerate names the reply it replaces to the model (Options.replacing), so the offline demo writes another answer
even after a restart, when its in-process memory of what it wrote is gone."""
from __future__ import annotations

from pathlib import Path

from conftest import wait_idle

from chat.config import Settings
from chat.demo import Demo
from chat.rooms import Rooms
from chat.store import RoomStore


async def test_a_regenerate_after_a_restart_writes_another_answer(tmp_path: Path) -> None:
    """Regression: after a restart the demo's Regenerate wrote the stored reply again one time in four (the turn
    runner did not say which reply it replaces)."""
    settings = Settings(data_dir=tmp_path, model='demo', demo_delay=0)
    for seed in range(12):
        room = f'r{seed}'
        rooms = Rooms(RoomStore(tmp_path), lambda _name, seed=seed: Demo(delay=0, seed=seed), settings)
        try:
            hub = await rooms.get(room)
            await hub.post('What is a good name for a cat?')
            await wait_idle(hub)
            stored = hub.messages[-1].content
        finally:
            await rooms.close()
        restarted = Demo(delay=0, seed=seed + 1000)  # a new process: nothing remembered
        rooms = Rooms(RoomStore(tmp_path), lambda _name, model=restarted: model, settings)
        try:
            hub = await rooms.get(room)
            hub.regenerate(hub.messages[-1].id)
            await wait_idle(hub)
            reply = hub.messages[-1]
            assert reply.status == 'complete' and reply.content and reply.content != stored, seed
        finally:
            await rooms.close()
