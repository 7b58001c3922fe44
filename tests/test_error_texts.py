"""Texts a person reads when something fails or is off say who can fix what: the person in the room, or whoever
runs Rooms (issue 12, point 5): an import or a file the server cannot save, and why the demo model answers."""
from __future__ import annotations

import errno
import json
import os
from dataclasses import replace
from typing import Any

import httpx
import pytest
from attachment_support import upload
from nicegui.elements.upload_files import SmallFileUpload
from test_export_import_search import export_of, record
from test_room_users import simulated_app

from chat.api import import_not_saved
from chat.config import Settings
from chat.rooms import Rooms

NO_SPACE = os.strerror(errno.ENOSPC)


def disk_full(*_args: Any, **_kwargs: Any) -> None:
    raise OSError(errno.ENOSPC, NO_SPACE)


async def test_an_import_the_server_cannot_save_tells_the_person_who_can_fix_it(
        app_users: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: the home page said only "The imported room could not be saved (...)", leaving the person who
    imported to wonder whether their file was at fault; it says what the API says (one function for both)."""
    rooms, new_user = app_users
    monkeypatch.setattr(rooms, '_write_new_room', disk_full)
    user = new_user()
    await user.open('/')
    upload_element = user.find(marker='import').elements.pop()
    await upload_element.handle_uploads([SmallFileUpload('room.json', 'application/json',
                                                         json.dumps(export_of(record())).encode())])
    expected = import_not_saved(OSError(errno.ENOSPC, NO_SPACE))
    assert 'Whoever runs Rooms' in expected and NO_SPACE in expected
    await user.should_see(expected)
    assert await rooms.summaries() == []


async def test_a_file_the_server_cannot_save_says_whoever_runs_rooms_must_make_room(
        http: httpx.AsyncClient, rooms: Rooms, monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression: "The file could not be saved (No space left on device)." named no one who could act."""
    monkeypatch.setattr(rooms.store.files, 'put', disk_full)
    response = await upload(http, 'r1', 'notes.txt', b'some notes')
    assert response.status_code == 507
    error = response.json()['error']
    assert NO_SPACE in error
    assert 'Whoever runs Rooms must free space in its data folder or let Rooms write there' in error
    assert 'then you can attach the file again' in error


@pytest.mark.parametrize(('api_key', 'model', 'says', 'never'), [
    (None, 'claude-sonnet-5-5', 'No API key is set: whoever runs Rooms can set ANTHROPIC_API_KEY', '--model demo'),
    ('sk-test-key', 'demo', 'Rooms was started with the demo model (--model demo): whoever runs it can restart it',
     'No API key'),
], ids=['no key', 'key and --model demo'])
async def test_the_demo_note_says_why_the_demo_answers(settings: Settings, api_key: str | None, model: str,
                                                       says: str, never: str) -> None:
    """Regression: with a key set and `--model demo`, the settings and the banner said "No API key is set"."""
    async with simulated_app(replace(settings, api_key=api_key, model=model, demo_delay=0.002)) as (_rooms, new_user):
        user = new_user()
        await user.open('/room/demo-note')
        banner = user.find(marker='demo-banner').elements.pop()
        assert says in ' '.join(e.content for e in banner.descendants() if hasattr(e, 'content'))
        user.find(marker='room-settings').click()
        await user.should_see(marker='settings-demo')
        note = user.find(marker='settings-demo').elements.pop().text
        assert 'every reply comes from the offline demo model' in note
        assert says in note and never not in note
