"""Extended thinking and web search (issue 11 parts 2 and 3): what Claude streams through the real SDK against the
fake, how the hub keeps it (live, checkpointed, after a restart, in versions and exports), the room settings and the
API that change them, what it costs, and what the demo model does offline."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest_asyncio
from conftest import CLAUDE_MODEL as MODEL
from conftest import api_client, claude_rooms, wait_idle

from chat.bench.fake_anthropic import FakeAnthropic
from chat.catalog import ModelCatalog
from chat.config import Settings
from chat.demo import Demo
from chat.events import RoomEvent
from chat.llm import MAX_SEARCHES, Claude, Options, Thinking
from chat.models import Message, Status, Usage
from chat.pricing import DEFAULT_PRICES, describe, estimate
from chat.records import message_from_record, message_to_record
from chat.rooms import Rooms
from chat.store import RoomStore
from chat.turns import Turn, build_turns

SOURCE = {'url': 'https://example.org/moon', 'title': 'The Moon', 'cited_text': 'The Moon is 384,400 km away.'}
OTHER = {'url': 'https://example.net/orbit', 'title': 'Orbits', 'cited_text': 'It drifts 3.8 cm a year.'}
SCRIPT = [
    {'thinking': ['The user asks ', 'about the Moon. ', 'I should search.']},
    {'redacted': True},
    {'search': 'moon distance', 'results': [{'url': SOURCE['url'], 'title': SOURCE['title']},
                                            {'url': OTHER['url'], 'title': OTHER['title']}]},
    {'text': ['It is ', 'about 384,400 km away.'], 'citations': [SOURCE]},
    {'text': [' It drifts outward.'], 'citations': [OTHER, SOURCE]},
    {'text': [' That is all.']},
]


@pytest_asyncio.fixture
async def fake_api() -> AsyncIterator[FakeAnthropic]:
    async with FakeAnthropic(cannot_think=['claude-haiku-5-5']) as server:
        yield server


def last_reply_request(fake: FakeAnthropic) -> dict[str, Any]:
    """The newest streamed request (a room's first reply is followed by a title request, which does not stream)."""
    return [body for body in fake.requests if body.get('stream')][-1]


@pytest_asyncio.fixture
async def rooms(tmp_path: Path, claude: Claude, fake_api: FakeAnthropic) -> AsyncIterator[Rooms]:
    """Rooms on a fresh data dir that answer with Claude through the real SDK against the fake."""
    registry = claude_rooms(tmp_path, claude, fake_api)
    yield registry
    await registry.close()


async def test_thinking_searches_and_sources_stream_into_the_reply_and_survive_a_restart(
        fake_api: FakeAnthropic, claude: Claude, tmp_path: Path) -> None:
    rooms = claude_rooms(tmp_path, claude, fake_api)
    try:
        hub = await rooms.get('moon')
        hub.configure(thinking_budget=2048, web_search=True)
        events: list[RoomEvent] = []
        searches_done: list[bool] = []
        """Whether the reply's search was done, as each update said when it was published (not as the reply ended)."""

        def record(event: RoomEvent) -> None:
            events.append(event)
            if event.kind == 'updated' and event.message is not None and event.message.tools:
                searches_done.append(event.message.tools[0]['done'])
        hub.subscribe(record)
        fake_api.enqueue_blocks(SCRIPT)
        await hub.post('How far is the Moon?', author='Ann')
        await wait_idle(hub)
        reply = hub.messages[-1]

        request = last_reply_request(fake_api)
        assert request['thinking'] == {'type': 'enabled', 'budget_tokens': 2048}
        assert request['max_tokens'] == hub.max_tokens + 2048, 'thinking comes on top of the room\'s max tokens'
        assert request['tools'] == [{'type': 'web_search_20250305', 'name': 'web_search', 'max_uses': MAX_SEARCHES}]

        assert reply.status == 'complete'
        assert reply.thinking == 'The user asks about the Moon. I should search.'
        assert reply.thinking_redacted == 1
        assert [(t['query'], t['done'], t['results'], t['error']) for t in reply.tools] == \
            [('moon distance', True, 2, '')]
        assert reply.citations == [SOURCE, OTHER]
        assert reply.content == ('It is about 384,400 km away.[[1]](<https://example.org/moon>) It drifts outward.'
                                 '[[2]](<https://example.net/orbit>)[[1]](<https://example.org/moon>) That is all.')
        assert reply.usage is not None and reply.usage.web_searches == 1

        thinking = [e for e in events if e.kind == 'delta' and e.part == 'thinking']
        assert [e.text for e in thinking[:2]] == ['about the Moon. ', 'I should search.'], \
            'the first piece comes with the update that makes the thinking block, the rest as deltas'
        assert thinking[-1].offset == len(reply.thinking) and thinking[-1].text == '', 'a last delta closes gaps'
        assert False in searches_done and True in searches_done, searches_done
        assert searches_done.index(False) < searches_done.index(True), 'the search shows while it runs, then as done'

        turns = build_turns(hub.messages)
        assert turns[-1].content == 'It is about 384,400 km away. It drifts outward. That is all.', \
            'Claude gets its own text back without the numbered links'
    finally:
        await rooms.close()

    reopened = claude_rooms(tmp_path, claude, fake_api)
    try:
        again = (await reopened.get('moon')).messages[-1]
        assert (again.thinking, again.thinking_redacted, again.tools, again.citations) == \
            (reply.thinking, 1, reply.tools, reply.citations)
        assert (await reopened.get('moon')).room_settings.thinking_budget == 2048
    finally:
        await reopened.close()


async def test_a_reply_cut_mid_thinking_comes_back_interrupted_with_its_thinking(
        fake_api: FakeAnthropic, claude: Claude, tmp_path: Path) -> None:
    """A crash mid-thinking loses at most the last checkpoint interval: a restart on the same data dir shows the reply
    interrupted, with the thinking streamed until its last checkpoint (was: only the checkpoint file was read)."""
    rooms = claude_rooms(tmp_path, claude, fake_api)
    try:
        hub = await rooms.get('cut')
        hub.configure(thinking_budget=1024)
        fake_api.enqueue_blocks([{'thinking': [f'step {i}. ' for i in range(300)]}, {'text': ['done']}], delay=0.01)
        await hub.post('think long')
        while len(hub.messages) < 2 or hub.messages[-1].thinking.count('step') < 10:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # a checkpoint has been written since
        await hub.flush()
        sidecar = tmp_path / 'cut.reply.json'
        assert sidecar.exists() and 'step 3.' in sidecar.read_text(), 'the streaming reply is checkpointed'

        # a new process on the same data dir while this one still streams: the files as a crash leaves them
        reopened = claude_rooms(tmp_path, claude, fake_api)
        try:
            again = (await reopened.get('cut')).messages[-1]
            live = hub.messages[-1]
            assert (again.role, again.status, again.content) == ('assistant', Status.INTERRUPTED, '')
            assert again.thinking.startswith('step 0. step 1. step 2. step 3. '), again.thinking
            assert live.thinking.startswith(again.thinking) and live.status == Status.STREAMING, \
                'the thinking streamed until the checkpoint, while the reply was still thinking'
        finally:
            await reopened.close()
        hub.stop()
        await wait_idle(hub)
    finally:
        await rooms.close()


async def test_citations_go_through_export_and_import(rooms: Rooms, fake_api: FakeAnthropic, tmp_path: Path) -> None:
    """A reply's sources, as Claude cited them through the SDK, are exported and come back equal in the imported room
    (with its numbered links, its searches and its thinking)."""
    hub = await rooms.get('cited')
    hub.configure(thinking_budget=1024, web_search=True)
    fake_api.enqueue_blocks(SCRIPT)
    await hub.post('How far is the Moon?')
    await wait_idle(hub)
    reply = hub.messages[-1]
    assert reply.citations == [SOURCE, OTHER]
    async with api_client(rooms, rooms.settings, tmp_path) as client:
        exported = (await client.get('/api/rooms/cited/export.json')).json()
        assert exported['messages'][-1]['citations'] == [SOURCE, OTHER]
        created = await client.post('/api/rooms/import', json=exported)
        assert created.status_code == 201, created.text
        imported = (await client.get(f'/api/rooms/{created.json()["room"]}/messages')).json()['messages'][-1]
    assert imported['citations'] == reply.citations
    assert (imported['content'], imported['thinking']) == (reply.content, reply.thinking)


async def test_continue_goes_on_without_thinking_and_regenerate_starts_afresh(
        rooms: Rooms, fake_api: FakeAnthropic) -> None:
    hub = await rooms.get('again')
    hub.configure(thinking_budget=1024, web_search=True)
    fake_api.enqueue_blocks(SCRIPT)
    await hub.post('How far is the Moon?')
    await wait_idle(hub)
    reply = hub.messages[-1]
    fake_api.enqueue_blocks([{'thinking': ['Fresh thoughts.']}, {'text': ['A new answer.']}])
    hub.regenerate(reply.id)
    await wait_idle(hub)
    assert (reply.thinking, reply.thinking_redacted, reply.tools, reply.citations, reply.content) == \
        ('Fresh thoughts.', 0, [], [], 'A new answer.')
    old = reply.versions[0]
    assert old['citations'] == [SOURCE, OTHER] and old['thinking'].startswith('The user asks'), \
        'the previous version keeps its own thinking and sources'
    hub.select_version(reply.id, 0)
    assert reply.citations == [SOURCE, OTHER] and reply.tools[0]['query'] == 'moon distance'

    reply.status = Status.STOPPED  # as if stopped mid-answer: Continue sends the text as a prefill
    fake_api.enqueue_text([' More.'])
    hub.resume(reply.id)
    await wait_idle(hub)
    assert 'thinking' not in last_reply_request(fake_api), 'the API refuses a prefill with thinking on'
    assert reply.content.endswith(' More.') and reply.thinking.startswith('The user asks')


async def test_a_failed_search_and_a_model_that_cannot_think_say_so(
        fake_api: FakeAnthropic, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, model=MODEL, api_key='sk-test', base_url=fake_api.base_url)
    catalog = ModelCatalog(settings)
    assert 'claude-haiku-5-5' in await catalog.names()
    assert catalog.can_think('claude-haiku-5-5') is False and catalog.can_think(MODEL) is True
    assert catalog.can_think('demo') is True

    haiku = catalog.get('claude-haiku-5-5')
    rooms = Rooms(RoomStore(tmp_path), catalog.get, settings)
    try:
        hub = await rooms.get('limits')
        hub.configure(model='claude-haiku-5-5', thinking_budget=1024)
        fake_api.enqueue_text(['Answered ', 'without thinking.'])
        await hub.post('think')
        await wait_idle(hub)
        assert (hub.messages[-1].status, hub.messages[-1].content) == ('complete', 'Answered without thinking.')
        assert 'thinking' not in last_reply_request(fake_api), \
            'a model the catalog says cannot think is asked without thinking, as the settings say (not refused)'

        hub.configure(model=MODEL, thinking_budget=0, web_search=True)
        fake_api.enqueue_blocks([{'search': 'too much', 'error': 'max_uses_exceeded'}, {'text': ['Sorry.']}])
        await hub.post('search a lot')
        await wait_idle(hub)
        call = hub.messages[-1].tools[0]
        assert call['error'] == f'the limit of {MAX_SEARCHES} searches per reply was reached'
        assert 'thinking' not in last_reply_request(fake_api)
    finally:
        await rooms.close()
        await haiku.close()  # type: ignore[attr-defined]


def test_records_keep_only_http_sources_and_clean_everything() -> None:
    record = message_to_record(Message(id='m1', seq=1, role='assistant', content='x'))
    assert (record['thinking'], record['citations']) == ('', []), 'CONTRACT: "" and [] when there are none'
    hostile = {**record, 'thinking': 'ok\ud800', 'thinking_redacted': -1, 'tools': [{'query': 5}, 'x', {
        'id': 't1', 'query': 'q\nr', 'done': True, 'results': 3}],
               'citations': [{'url': 'javascript:alert(1)', 'title': 'x'}, {'url': 'https://a.example/ x'},
                             {'url': 'https://a.example/>', 'title': 'x'}, SOURCE, SOURCE,
                             {'url': 'http://b.example/', 'title': None}]}
    message = message_from_record(hostile)
    assert message.thinking == 'ok\ufffd' and message.thinking_redacted == 0
    assert [t['query'] for t in message.tools] == ['', 'q r']
    assert message.citations == [SOURCE, {'url': 'http://b.example/', 'title': 'http://b.example/', 'cited_text': ''}]


def test_searches_count_in_the_cost() -> None:
    usage = Usage(input_tokens=1000, output_tokens=1000, web_searches=2)
    assert estimate(MODEL, usage, DEFAULT_PRICES) == 1000 * 3 / 1e6 + 1000 * 15 / 1e6 + 0.02
    assert '2 web searches' in describe(usage, 0.038)
    assert (usage + Usage(web_searches=1)).web_searches == 3


async def test_the_demo_thinks_offline_and_says_it_cannot_search() -> None:
    demo = Demo(delay=0)
    parts = [part async for part in demo.stream([Turn('user', 'hello')], '', options=Options(1024, True))]
    thoughts = ''.join(p.text for p in parts if isinstance(p, Thinking))
    text = ''.join(p for p in parts if isinstance(p, str))
    assert thoughts.strip(), 'the demo shows thinking when the room has a budget'
    assert parts.index(next(p for p in parts if isinstance(p, str))) > 0, 'thinking comes first'
    assert 'search' in text.lower()


@pytest_asyncio.fixture
async def http(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Rooms]]:
    settings = Settings(data_dir=tmp_path, model='demo', demo_delay=0.001)
    rooms = Rooms(RoomStore(tmp_path), lambda _name: Demo(0.001), settings)
    async with api_client(rooms, settings, tmp_path) as client:
        yield client, rooms
    await rooms.close()


async def test_the_api_reads_and_changes_thinking_and_web_search(
        http: tuple[httpx.AsyncClient, Rooms]) -> None:
    client, rooms = http
    await client.post('/api/rooms/api1/messages', json={'text': 'hi'})
    await wait_idle(await rooms.get('api1'))
    settings = (await client.get('/api/rooms/api1')).json()['settings']
    assert (settings['thinking_budget'], settings['web_search']) == (0, False)
    changed = await client.patch('/api/rooms/api1', json={'thinking_budget': 4096, 'web_search': True})
    assert changed.status_code == 200 and changed.json()['settings']['thinking_budget'] == 4096
    assert changed.json()['settings']['web_search'] is True
    for bad in ({'thinking_budget': 10}, {'thinking_budget': 10**6}, {'thinking_budget': True},
                {'web_search': 'yes'}, {'web_search': 1}):
        refused = await client.patch('/api/rooms/api1', json=bad)
        assert refused.status_code == 400 and refused.json()['error'], bad
    assert (await client.get('/api/rooms/api1')).json()['settings']['thinking_budget'] == 4096
    off = await client.patch('/api/rooms/api1', json={'thinking_budget': 0, 'web_search': False})
    assert off.json()['settings']['thinking_budget'] == 0

    hub = await rooms.get('api1')
    hub.configure(thinking_budget=1024)
    await client.post('/api/rooms/api1/messages', json={'text': 'think please'})
    await wait_idle(hub)
    messages = (await client.get('/api/rooms/api1/messages')).json()['messages']
    assert messages[-1]['thinking'], 'the demo\'s thinking is served with the message'
    exported = (await client.get('/api/rooms/api1/export.json')).json()
    assert json.dumps(exported).count('"thinking"') >= 2, 'exports carry the thinking'
    created = await client.post('/api/rooms/import', json=exported)
    new = created.json()['room']
    assert (await client.get(f'/api/rooms/{new}/messages')).json()['messages'][-1]['thinking'] == \
        messages[-1]['thinking']


async def test_the_settings_dialog_turns_on_thinking_and_search_and_says_the_demo_answers(app_users: Any) -> None:
    rooms, new_user = app_users
    ann, bob = new_user(), new_user()
    await ann.open('/room/dialog')
    await bob.open('/room/dialog')
    ann.find(marker='room-settings').click()
    await ann.should_see(marker='settings-demo')
    await ann.should_see('every reply comes from the offline demo model')
    ann.find(marker='settings-thinking').clear().type('2048')
    ann.find(marker='settings-web-search').click()
    ann.find(marker='settings-save').click()
    await asyncio.sleep(0.1)
    hub = rooms.open_hub('dialog')
    assert hub is not None and (hub.room_settings.thinking_budget, hub.room_settings.web_search) == (2048, True)

    ann.find(marker='composer').type('think about it').trigger('keydown.enter.exact.prevent')
    await bob.should_see(marker='thinking')  # the demo thinks, live in the other tab too
    await wait_idle(hub)
    await bob.should_see('Thought process')
    assert hub.messages[-1].thinking

    ann.find(marker='room-settings').click()
    ann.find(marker='settings-thinking').clear().type('100')
    ann.find(marker='settings-save').click()
    await ann.should_see('thinking budget is 0 (off) or a whole number')
    assert hub.room_settings.thinking_budget == 2048, 'a refused value changes nothing'
