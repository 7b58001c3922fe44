"""Two people in one room through NiceGUI's simulated `user`: both see every message and the same reply."""
from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from nicegui import core, ui
from nicegui.testing.general import nicegui_reset_globals, prepare_simulation
from nicegui.testing.user import User

from chat.app import build
from chat.config import Settings, prepare_data_dir
from chat.models import Message, Status
from chat.rooms import Rooms
from chat.ui.message_body import MessageBody
from chat.ui.room_page import PAGE_SIZE


@asynccontextmanager
async def simulated_app(settings: Settings) -> AsyncIterator[tuple[Rooms, Callable[[], User]]]:
    """The real app (pages, API, hubs) in NiceGUI's user simulation; yields a factory of users."""
    with nicegui_reset_globals():
        os.environ['NICEGUI_USER_SIMULATION'] = 'true'
        try:
            prepare_data_dir(settings.data_dir)
            rooms = build(settings)
            prepare_simulation()
            ui.run(storage_secret='test secret')
            async with core.app.router.lifespan_context(core.app):
                clients: list[httpx.AsyncClient] = []

                def new_user() -> User:
                    client = httpx.AsyncClient(transport=httpx.ASGITransport(core.app), base_url='http://localhost')
                    clients.append(client)
                    return User(client)
                yield rooms, new_user
                for client in clients:
                    await client.aclose()
        finally:
            os.environ.pop('NICEGUI_USER_SIMULATION', None)


async def send(user: User, text: str) -> None:
    user.find(marker='composer').type(text).trigger('keydown.enter.exact.prevent')
    await asyncio.sleep(0)


async def test_two_users_see_each_others_messages_and_the_same_reply(app_users) -> None:
    rooms, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/lobby')
    await bob.open('/room/lobby')
    await ann.should_see('Start the conversation')
    await send(ann, 'Hello from Ann')
    await bob.should_see('Hello from Ann')
    hub = rooms.open_hub('lobby')
    assert hub is not None
    for _ in range(500):
        if hub.messages and hub.messages[-1].status == Status.COMPLETE and hub.messages[-1].role == 'assistant':
            break
        await asyncio.sleep(0.01)
    reply = hub.messages[-1]
    assert reply.role == 'assistant' and 'Demo model' in reply.content
    for user in (ann, bob):
        await user.should_see('Demo model')
        await user.should_see(kind=ui.element, marker='demo-banner')
    await send(bob, 'And Bob replies')
    await ann.should_see('And Bob replies')
    assert hub.subscriber_count == 2


async def test_blank_message_is_ignored_and_oversized_is_refused_visibly(app_users, settings: Settings) -> None:
    rooms, new_user = app_users
    ann = new_user()
    await ann.open('/room/limits')
    await send(ann, '   ')
    await send(ann, 'x' * (settings.max_message_chars + 1))
    await ann.should_see('the limit is 100,000')
    hub = rooms.open_hub('limits')
    assert hub is not None and hub.messages == []


async def test_bad_room_id_is_404(app_users) -> None:
    _, new_user = app_users
    user = new_user()
    for path in ('/room/a.b', '/room/' + 'x' * 65, '/room/a%00b', '/room/%2e%2e'):
        response = await user.http_client.get(path)
        assert response.status_code == 404, path


async def test_long_room_opens_with_the_latest_messages_and_loads_earlier_on_demand(app_users) -> None:
    rooms, new_user = app_users
    hub = await rooms.get('long')
    hub._model_for = lambda _name: SilentModel()
    for index in range(120):
        hub._append(Message(id=f'm{index}', seq=index + 1, role='user', content=f'message number {index}'))
    user = new_user()
    await user.open('/room/long')
    first = 120 - PAGE_SIZE
    await user.should_see('message number 119')
    await user.should_see(f'message number {first}')
    await user.should_not_see(f'message number {first - 1}')
    user.find(marker='load-earlier').click()
    await user.should_see(f'message number {first - PAGE_SIZE}')
    await user.should_not_see(f'message number {first - PAGE_SIZE - 1}')
    assert user.client is not None
    bodies = [e for e in user.client.layout.descendants() if isinstance(e, MessageBody)]
    shown = [body.props['msgid'] for body in bodies if body.props['msgid']]
    assert shown == [f'm{i}' for i in range(first - PAGE_SIZE, 120)], 'earlier messages are inserted above, in order'


class SilentModel:
    name = 'silent'

    async def stream(self, turns, system, **hooks):  # type: ignore[no-untyped-def]
        return
        yield


async def test_a_flood_is_refused_with_the_reason_and_the_text_is_kept(app_users) -> None:
    """Past 20 messages in 10 s from one browser the composer says why and keeps the text; nothing is dropped."""
    rooms, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/flood')
    await bob.open('/room/flood')
    hub = rooms.open_hub('flood')
    assert hub is not None
    hub._model_for = lambda _name: SilentModel()
    for index in range(20):
        await send(ann, f'flood {index}')
    await send(ann, 'one too many')
    await ann.should_see('faster than 20 in 10 seconds')
    assert ann.find(marker='composer').elements.pop().value == 'one too many', 'the refused text stays'
    await send(bob, 'Bob is not limited by Ann')
    await ann.should_see('Bob is not limited by Ann')
    assert [m.content for m in hub.messages if m.role == 'user'] == [*(f'flood {i}' for i in range(20)),
                                                                       'Bob is not limited by Ann']


async def test_a_new_room_is_called_new_room_until_its_first_message_names_it_in_every_tab(app_users) -> None:
    _, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/unnamed')
    await bob.open('/room/unnamed')
    for user in (ann, bob):
        await user.should_see(kind=ui.label, content='New room')
    await send(ann, 'Plans for the weekend')
    for user in (ann, bob):
        assert user.client is not None
        await user.should_see('Plans for the weekend')
        assert any(label.text == 'Plans for the weekend' for label in user.find(kind=ui.label).elements
                   if label.props.get('data-testid') == 'page-title')
