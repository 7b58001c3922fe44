"""Why a reply ended: cut off at the room's max tokens (a note, and Continue writes the rest), refused by Claude (a
note, no Continue), or paused by the API in a long web-search turn (Rooms goes on by itself, in the same reply).
Through the real SDK against the fake API; the field is kept in the room file, the JSON API, versions and exports."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anthropic
import pytest
import pytest_asyncio
from conftest import CLAUDE_MODEL as MODEL
from conftest import api_client, claude_rooms, wait_idle
from test_room_users import send, simulated_app

from chat.api import transcript
from chat.bench.fake_anthropic import FakeAnthropic, estimate_tokens
from chat.bench.fake_checks import encrypted, signature
from chat.config import Settings
from chat.errors import MessageRejected
from chat.llm import MAX_CONTINUATIONS, Claude
from chat.models import Status
from chat.rooms import Rooms

SOURCE = {'url': 'https://example.org/moon', 'title': 'The Moon', 'cited_text': 'The Moon is 384,400 km away.'}
SEARCH = {'search': 'moon distance', 'results': [{'url': SOURCE['url'], 'title': SOURCE['title']}]}
CUT_NOTE = "Claude reached this room's limit of 4,096 tokens for one reply."
REFUSAL_NOTE = 'Claude declined to go on with this reply'


@pytest_asyncio.fixture
async def rooms(data_dir: Path, claude: Claude, fake_api: FakeAnthropic) -> AsyncIterator[Rooms]:
    """Rooms that answer with Claude through the real SDK against the fake."""
    registry = claude_rooms(data_dir, claude, fake_api)
    yield registry
    await registry.close()


def replies(fake: FakeAnthropic) -> list[dict[str, Any]]:
    """The streamed requests (a room's first reply is followed by a title request, which does not stream)."""
    return [body for body in fake.requests if body.get('stream')]


async def test_a_reply_cut_off_at_max_tokens_stays_complete_says_why_and_continue_writes_the_rest(
        rooms: Rooms, fake_api: FakeAnthropic) -> None:
    """Regression: a reply cut off at the room's max tokens ended as a plain `complete` reply, with no Continue."""
    hub = await rooms.get('long')
    fake_api.enqueue_text(['The first ', 'half of it '], stop_reason='max_tokens')
    await hub.post('Write a long story')
    await wait_idle(hub)
    reply = hub.messages[-1]
    assert (reply.status, reply.stop_reason, reply.cut_off) == (Status.COMPLETE, 'max_tokens', True)
    with pytest.raises(MessageRejected):
        hub.retry(reply.id)  # it did not fail: Regenerate makes a new version instead

    fake_api.enqueue_text(['and more '], stop_reason='max_tokens')
    hub.resume(reply.id)
    await wait_idle(hub)
    assert replies(fake_api)[-1]['messages'][-1] == {'role': 'assistant', 'content': 'The first half of it'}, \
        'Continue sends the text so far as a prefill'
    assert (reply.status, reply.stop_reason) == (Status.COMPLETE, 'max_tokens'), 'cut off again: it says so again'

    fake_api.enqueue_text(['and the end.'])
    hub.resume(reply.id)
    await wait_idle(hub)
    assert reply.content == 'The first half of it and more and the end.'
    assert (reply.status, reply.stop_reason, reply.cut_off) == (Status.COMPLETE, None, False)
    with pytest.raises(MessageRejected):
        hub.resume(reply.id)


async def test_a_refusal_is_kept_and_cannot_be_continued(rooms: Rooms, fake_api: FakeAnthropic) -> None:
    hub = await rooms.get('refused')
    fake_api.enqueue_text(['I will not '], stop_reason='refusal')
    await hub.post('Something Claude declines')
    await wait_idle(hub)
    reply = hub.messages[-1]
    assert (reply.status, reply.stop_reason, reply.can_continue) == (Status.COMPLETE, 'refusal', False)
    with pytest.raises(MessageRejected):
        hub.resume(reply.id)
    assert '_[Claude declined to go on]_' in transcript(hub)


async def test_the_stop_reason_survives_a_restart_versions_the_api_and_export_import(
        rooms: Rooms, claude: Claude, fake_api: FakeAnthropic, data_dir: Path) -> None:
    hub = await rooms.get('kept')
    fake_api.enqueue_text(['Cut ', 'here'], stop_reason='max_tokens')
    await hub.post('Go on and on')
    await wait_idle(hub)
    reply = hub.messages[-1]
    fake_api.enqueue_text(['A short answer.'])
    hub.regenerate(reply.id)
    await wait_idle(hub)
    assert (reply.stop_reason, reply.versions[0]['stop_reason']) == (None, 'max_tokens'), 'kept per version'
    hub.select_version(reply.id, 0)
    assert (reply.content, reply.stop_reason) == ('Cut here', 'max_tokens')
    await hub.flush()

    async with api_client(rooms, hub.settings, data_dir) as http:
        listed = (await http.get('/api/rooms/kept/messages')).json()['messages']
        assert listed[-1]['stop_reason'] == 'max_tokens' and listed[0]['stop_reason'] is None
        assert listed[-1]['versions'][0]['stop_reason'] is None, 'the shelved version is the regenerated one'
        exported = await http.get('/api/rooms/kept/export.json')
        created = await http.post('/api/rooms/import', content=exported.content)
        assert created.status_code == 201, created.text
        imported = (await http.get(f'/api/rooms/{created.json()["room"]}/messages')).json()['messages']
        assert imported[-1]['stop_reason'] == 'max_tokens'
        transcript = (await http.get('/api/rooms/kept/export.md')).text
        assert "## Claude (claude-sonnet-5-5) _[cut off at the room's length limit]_\n\nCut here" in transcript
    await rooms.close()

    reopened = claude_rooms(data_dir, claude, fake_api)
    try:
        again = (await reopened.get('kept')).messages[-1]
        assert (again.stop_reason, again.cut_off, again.versions[0]['stop_reason']) == ('max_tokens', True, None)
    finally:
        await reopened.close()


async def test_a_paused_search_turn_goes_on_in_a_second_request_into_the_same_reply(
        rooms: Rooms, fake_api: FakeAnthropic) -> None:
    """Regression: a turn the API paused (`pause_turn`) ended the reply there, half written."""
    hub = await rooms.get('paused')
    hub.configure(web_search=True)
    fake_api.enqueue_blocks([SEARCH, {'text': ['It is about 384,400 km away. '], 'citations': [SOURCE]}],
                            stop_reason='pause_turn')
    fake_api.enqueue_blocks([{'text': ['It drifts outward.']}])
    await hub.post('How far is the Moon?')
    await wait_idle(hub)

    reply = hub.messages[-1]
    assert [m.role for m in hub.messages] == ['user', 'assistant'], 'one reply'
    assert reply.content == 'It is about 384,400 km away. [[1]](<https://example.org/moon>)It drifts outward.'
    assert (reply.status, reply.stop_reason, reply.citations) == (Status.COMPLETE, None, [SOURCE])
    first, second = replies(fake_api)
    assert {k: v for k, v in second.items() if k != 'messages'} == {k: v for k, v in first.items() if k != 'messages'}
    assert second['messages'][:-1] == first['messages'], 'the same request, with the paused turn after it'
    turn = second['messages'][-1]
    assert turn['role'] == 'assistant'
    search, result, text = turn['content']
    assert (search['type'], search['name'], search['input']) == ('server_tool_use', 'web_search',
                                                                 {'query': 'moon distance'})
    assert result == {'type': 'web_search_tool_result', 'tool_use_id': search['id'], 'content': [
        {'type': 'web_search_result', 'url': SOURCE['url'], 'title': SOURCE['title'], 'page_age': None,
         'encrypted_content': encrypted(SOURCE['url'])}]}, 'the results go back as they came, encrypted content too'
    assert text == {'type': 'text', 'text': 'It is about 384,400 km away.', 'citations': [
        {'type': 'web_search_result_location', 'url': SOURCE['url'], 'title': SOURCE['title'],
         'cited_text': SOURCE['cited_text'], 'encrypted_index': encrypted(SOURCE['url'])}]}
    assert reply.usage is not None
    assert reply.usage.output_tokens == 2 + 1, 'the fake counts a token per delta and search: both requests count'
    assert reply.usage.input_tokens == estimate_tokens(first) + estimate_tokens(second)
    assert reply.usage.web_searches == 1


async def test_a_paused_turn_that_thinks_goes_on_with_its_signed_thinking_first(
        rooms: Rooms, fake_api: FakeAnthropic) -> None:
    hub = await rooms.get('thinks')
    hub.configure(thinking_budget=1024, web_search=True)
    fake_api.enqueue_blocks([{'thinking': ['Search ', 'first.']}, SEARCH, {'text': ['Found it.']}],
                            stop_reason='pause_turn')
    fake_api.enqueue_blocks([{'text': [' About 384,400 km.']}])
    await hub.post('How far is the Moon?')
    await wait_idle(hub)
    reply = hub.messages[-1]
    assert (reply.status, reply.error, reply.content) == (Status.COMPLETE, None, 'Found it. About 384,400 km.')
    second = replies(fake_api)[-1]
    assert second['thinking'] == {'type': 'enabled', 'budget_tokens': 1024}, 'the same options'
    assert second['messages'][-1]['content'][0] == {'type': 'thinking', 'thinking': 'Search first.',
                                                    'signature': signature('Search first.')}
    assert reply.thinking == 'Search first.'


async def test_a_pause_after_continue_joins_the_prefill_and_pauses_are_bounded(
        rooms: Rooms, fake_api: FakeAnthropic) -> None:
    hub = await rooms.get('bounded')
    hub.configure(web_search=True)
    fake_api.enqueue_text(['Part one'], stop_reason='max_tokens')
    await hub.post('Tell me everything')
    await wait_idle(hub)
    reply = hub.messages[-1]
    fake_api.enqueue_blocks([SEARCH], stop_reason='pause_turn')
    hub.resume(reply.id)
    await wait_idle(hub)
    turn = replies(fake_api)[-1]['messages'][-1]
    assert turn['role'] == 'assistant' and turn['content'][0] == {'type': 'text', 'text': 'Part one'}
    assert [block['type'] for block in turn['content'][1:]] == ['server_tool_use', 'web_search_tool_result']

    before = len(replies(fake_api))
    for _ in range(MAX_CONTINUATIONS + 2):
        fake_api.enqueue_blocks([{'text': ['more ']}], stop_reason='pause_turn')
    await hub.post('And again')
    await wait_idle(hub)
    assert len(replies(fake_api)) - before == MAX_CONTINUATIONS + 1, 'a turn that never ends is given up on'
    assert (hub.messages[-1].status, hub.messages[-1].stop_reason) == (Status.COMPLETE, None)


async def test_the_fake_refuses_changed_thinking_or_search_blocks_like_the_api(fake_api: FakeAnthropic) -> None:
    client = anthropic.AsyncAnthropic(api_key='sk-test', base_url=fake_api.base_url, max_retries=0)
    thinking = {'type': 'thinking', 'thinking': 'Plan.', 'signature': signature('Plan.')}
    result = {'type': 'web_search_tool_result', 'tool_use_id': 'srvtoolu_1', 'content': [
        {'type': 'web_search_result', 'url': SOURCE['url'], 'title': 'x', 'encrypted_content': encrypted('x')}]}
    search = {'type': 'server_tool_use', 'id': 'srvtoolu_1', 'name': 'web_search', 'input': {'query': 'q'}}
    options: dict[str, Any] = {'model': MODEL, 'max_tokens': 2048,
                               'thinking': {'type': 'enabled', 'budget_tokens': 1024}}
    try:
        answer = await client.messages.create(messages=[{'role': 'user', 'content': 'hi'},
                                                        {'role': 'assistant', 'content': [thinking]}], **options)
        assert answer.stop_reason == 'end_turn', 'a thinking turn that starts with its signed thinking goes on'
        for content, complaint in (([{**thinking, 'thinking': 'Changed.'}], 'Invalid `signature`'),
                                   ([thinking, search, result], 'Invalid `encrypted_content`'),
                                   ([thinking, {**result, 'tool_use_id': 'other'}], 'server_tool_use')):
            with pytest.raises(anthropic.BadRequestError, match=complaint):
                await client.messages.create(messages=[{'role': 'user', 'content': 'hi'},
                                                       {'role': 'assistant', 'content': content}], **options)
    finally:
        await client.close()


async def test_the_room_page_shows_why_a_reply_ended_and_offers_continue_only_when_it_helps(
        settings: Settings, fake_api: FakeAnthropic) -> None:
    claude_settings = replace(settings, model=MODEL, api_key='sk-test', base_url=fake_api.base_url)
    async with simulated_app(claude_settings) as (rooms, new_user):
        ann = new_user()
        await ann.open('/room/cut')
        fake_api.enqueue_text(['Once upon ', 'a time '], stop_reason='max_tokens')
        await send(ann, 'Tell me a long story')
        await ann.should_see(CUT_NOTE)
        await ann.should_see("Continue writes the rest; the room's settings can raise the limit.")
        await ann.should_see(marker='regenerate')  # still offered on the last reply
        await ann.should_not_see(marker='retry')

        fake_api.enqueue_text(['the end.'])
        ann.find(marker='continue').click()
        hub = rooms.open_hub('cut')
        assert hub is not None
        for _ in range(500):
            if hub.messages[-1].content.endswith('the end.') and hub.streaming is None:
                break
            await asyncio.sleep(0.01)
        assert hub.messages[-1].content == 'Once upon a time the end.'
        await ann.should_not_see(CUT_NOTE)
        await ann.should_not_see(marker='continue')

        bob = new_user()
        await bob.open('/room/refused')
        fake_api.enqueue_text(['I cannot '], stop_reason='refusal')
        await send(bob, 'Something Claude declines')
        await bob.should_see(REFUSAL_NOTE)
        await asyncio.sleep(0.05)
        await bob.should_not_see(marker='continue')
        await bob.should_see(marker='regenerate')
