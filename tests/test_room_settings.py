"""Room settings: changed in one tab, live in the others, persisted, and used by the next reply."""
from __future__ import annotations

import asyncio

from conftest import ScriptedModel, wait_idle
from test_hub import make_rooms
from test_room_users import send

from chat.config import Settings


async def test_settings_reach_the_model_and_survive_a_restart(settings: Settings, model: ScriptedModel,
                                                               tmp_path) -> None:  # type: ignore[no-untyped-def]
    seen: list[tuple[str, int | None]] = []
    hub = await make_rooms(settings, model, tmp_path).get('r1')
    hub._model_for = lambda name: (seen.append((name, None)), model)[1]
    hub.configure(title='Bread club', system_prompt='Answer like a baker.', model='claude-haiku-5-5',
                  max_tokens=300)
    await hub.post('how long to proof?')
    await wait_idle(hub)
    assert seen == [('claude-haiku-5-5', None)]
    assert hub.summary().title == 'Bread club'
    reopened = await make_rooms(settings, model, tmp_path).get('r1')
    assert (reopened.room_settings.title, reopened.system_prompt, reopened.max_tokens) == (
        'Bread club', 'Answer like a baker.', 300)


async def test_changing_settings_in_one_tab_updates_the_title_in_every_tab(app_users) -> None:
    rooms, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/club')
    await bob.open('/room/club')
    ann.find(marker='room-settings').click()
    await asyncio.sleep(0.05)
    ann.find(marker='settings-title').clear().type('Bread club')
    ann.find(marker='settings-max-tokens').clear().type('512')
    ann.find(marker='settings-save').click()
    await bob.should_see('Bread club')
    hub = rooms.open_hub('club')
    assert hub is not None and hub.room_settings.title == 'Bread club' and hub.max_tokens == 512
    await send(bob, 'hello')
    await bob.should_see('Bread club')


async def test_saving_settings_keeps_what_someone_else_changed_meanwhile(app_users) -> None:
    """Save sends only the fields changed in this dialog: another tab's change since it opened is not undone, and an
    automatic title stays automatic."""
    rooms, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/club')
    await bob.open('/room/club')
    await send(ann, 'What rises overnight?')
    ann.find(marker='room-settings').click()
    await asyncio.sleep(0.05)
    hub = rooms.open_hub('club')
    assert hub is not None
    hub.configure(system_prompt='Answer like a baker.', web_search=True)  # Bob, while Ann's dialog is open
    ann.find(marker='settings-max-tokens').clear().type('512')
    ann.find(marker='settings-save').click()
    await asyncio.sleep(0.05)
    assert hub.max_tokens == 512
    assert (hub.system_prompt, hub.room_settings.web_search) == ('Answer like a baker.', True)
    assert hub.room_settings.title is None  # still named by its first message
