"""Which models think, and how a room's thinking budget reaches them (issue 11 part 2): a model the API says cannot
think is asked without thinking (as the settings say), one that thinks only adaptively gets `{"type": "adaptive"}`;
through the real SDK against the fake."""
from __future__ import annotations

from pathlib import Path

from anthropic.types import ModelInfo
from conftest import wait_idle

from chat.bench.fake_anthropic import FakeAnthropic, model_info
from chat.config import Settings
from chat.llm import Claude, ModelFacts, facts_of
from chat.rooms import Rooms
from chat.store import RoomStore

HAIKU, OPUS = 'claude-haiku-5-5', 'claude-opus-5-5'


def streamed(fake: FakeAnthropic) -> list[dict]:
    return [body for body in fake.requests if body.get('stream')]


async def test_a_room_on_a_model_that_cannot_think_gets_a_whole_reply_without_thinking(tmp_path: Path) -> None:
    """Regression: the room's budget was sent to every model, and one that cannot think answered with the API's 400
    ("thinking is not supported") although the settings said the budget is not used with it. No catalog here: the
    model asks the API about itself before its first turn with thinking."""
    async with FakeAnthropic(cannot_think=[HAIKU]) as fake:
        claude = Claude(HAIKU, api_key='sk-test', base_url=fake.base_url, max_retries=0, timeout=5)
        rooms = Rooms(RoomStore(tmp_path), lambda _name: claude, Settings(data_dir=tmp_path, model=HAIKU))
        try:
            hub = await rooms.get('plain')
            hub.configure(thinking_budget=2048, web_search=True)
            fake.enqueue_text(['A reply ', 'without thinking.'])
            await hub.post('think hard')
            await wait_idle(hub)
            reply = hub.messages[-1]
            assert (reply.status, reply.content, reply.error) == ('complete', 'A reply without thinking.', None)
            request = streamed(fake)[-1]
            assert 'thinking' not in request and request['max_tokens'] == hub.max_tokens
            assert request['tools'][0]['name'] == 'web_search', 'the other settings still hold'
            assert claude.facts == ModelFacts(HAIKU, False)
        finally:
            await rooms.close()
            await claude.close()


async def test_a_model_that_thinks_only_adaptively_is_asked_to_think_adaptively(tmp_path: Path) -> None:
    async with FakeAnthropic(adaptive_only=[OPUS]) as fake:
        claude = Claude(OPUS, api_key='sk-test', base_url=fake.base_url, max_retries=0, timeout=5)
        rooms = Rooms(RoomStore(tmp_path), lambda _name: claude, Settings(data_dir=tmp_path, model=OPUS))
        try:
            hub = await rooms.get('adaptive')
            hub.configure(thinking_budget=4096)
            fake.enqueue_blocks([{'thinking': ['Let me ', 'see.']}, {'text': ['Seen.']}])
            await hub.post('think')
            await wait_idle(hub)
            reply = hub.messages[-1]
            assert (reply.status, reply.thinking, reply.content) == ('complete', 'Let me see.', 'Seen.')
            request = streamed(fake)[-1]
            assert request['thinking'] == {'type': 'adaptive'}
            assert request['max_tokens'] == hub.max_tokens + 4096, 'the budget still makes room for the thinking'
        finally:
            await rooms.close()
            await claude.close()


def test_facts_read_from_the_sdks_model_info() -> None:
    def facts(**kwargs: bool) -> ModelFacts:  # built as the SDK builds a response (lenient, nested)
        return facts_of(ModelInfo.construct(**model_info('claude-x-1', **kwargs)))
    assert facts() == ModelFacts('claude-x-1', True, False)
    assert facts(adaptive_only=True) == ModelFacts('claude-x-1', True, True)
    assert facts(thinks=False) == ModelFacts('claude-x-1', False, False)
    bare = ModelInfo.construct(**{**model_info('claude-x-1'), 'capabilities': None})
    assert facts_of(bare) == ModelFacts('claude-x-1', None), 'unknown: the budget is sent and the API decides'


async def test_thinking_counts_in_a_replys_output_tokens(tmp_path: Path) -> None:
    """Regression: the fake billed 10 output tokens a content block, however long the thinking; it bills what it
    streams, so a reply's usage grows with its thinking as the API's does."""
    async with FakeAnthropic() as fake:
        claude = Claude(OPUS, api_key='sk-test', base_url=fake.base_url, max_retries=0, timeout=5)
        rooms = Rooms(RoomStore(tmp_path), lambda _name: claude, Settings(data_dir=tmp_path, model=OPUS))
        try:
            hub = await rooms.get('usage')
            hub.configure(thinking_budget=1024)
            counts = []
            for steps in (1, 30):
                thinking = [f'step {i}. ' for i in range(steps)]
                fake.enqueue_blocks([{'thinking': thinking}, {'text': ['The ', 'answer.']}])
                await hub.post(f'think in {steps} steps')
                await wait_idle(hub)
                reply = hub.messages[-1]
                assert reply.status == 'complete' and reply.usage is not None
                counts.append(reply.usage.output_tokens)
            assert counts == [1 + 2, 30 + 2], 'a token per thinking or text delta'
        finally:
            await rooms.close()
            await claude.close()
