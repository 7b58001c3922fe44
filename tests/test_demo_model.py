"""The offline demo model behaves like a model where a person can see it: versions differ, Continue goes on, thinking
streams first, usage is reported, and it always says it is the demo."""
from __future__ import annotations

import asyncio
import itertools

from conftest import wait_idle
from test_hub import make_rooms

from chat.config import Settings
from chat.demo import VARIANTS, Demo, demo_reply
from chat.llm import NO_OPTIONS, Options, Thinking
from chat.models import Attachment, Message, Status, Usage
from chat.turns import Turn, build_turns

QUESTION = [Turn('user', 'What is a room?')]


async def reply_of(demo: Demo, turns: list[Turn], options: Options = NO_OPTIONS) -> tuple[str, str, list[Usage]]:
    """The reply's text, its thinking and the usage it reported."""
    usage: list[Usage] = []
    text, thinking = [], []
    async for part in demo.stream(turns, '', on_usage=usage.append, options=options):
        if isinstance(part, Thinking):
            thinking.append(part.text)
        else:
            assert isinstance(part, str)
            text.append(part)
    return ''.join(text), ''.join(thinking), usage


async def test_each_new_version_of_a_reply_reads_differently() -> None:
    demo = Demo(delay=0, seed=1)
    answers = [(await reply_of(demo, QUESTION))[0] for _ in range(VARIANTS + 1)]
    assert all(a != b for a, b in itertools.pairwise(answers)), 'a regenerate never repeats the last one'
    assert len(set(answers)) == VARIANTS, 'it goes through all its answers'
    assert all(a.startswith('**Demo model** (offline).') and '> What is a room?' in a for a in answers)


async def test_versions_differ_even_when_other_rooms_ask_in_between() -> None:
    demo = Demo(delay=0, seed=2)
    first = (await reply_of(demo, QUESTION))[0]
    for n in range(5):
        await reply_of(demo, [Turn('user', f'something else {n}')])
    assert (await reply_of(demo, QUESTION))[0] != first


async def test_a_regenerate_after_a_restart_never_writes_the_reply_it_replaces() -> None:
    """Regression: the demo remembered its last answer in-process only, so after a restart a Regenerate wrote the
    stored reply again one time in four; it now leaves out the variant whose text is the reply being replaced."""
    for seed in range(16):
        stored = (await reply_of(Demo(delay=0, seed=seed), QUESTION))[0]
        restarted = Demo(delay=0, seed=seed + 1000)  # nothing remembered
        assert (await reply_of(restarted, QUESTION, Options(replacing=stored)))[0] != stored, seed
        partial = stored[:len(stored) // 2]  # a stopped reply: the variant it started
        regenerated = (await reply_of(Demo(delay=0, seed=seed + 2000), QUESTION, Options(replacing=partial)))[0]
        assert not regenerated.startswith(partial), seed
    searching = (await reply_of(Demo(delay=0, seed=5), QUESTION, Options(web_search=True)))[0]
    again = await reply_of(Demo(delay=0, seed=5), QUESTION, Options(web_search=True, replacing=searching))
    assert again[0] != searching, 'with web search on too'
    remembered = Demo(delay=0, seed=7)  # the same process: it goes on to another answer than both
    first = (await reply_of(remembered, QUESTION))[0]
    second = (await reply_of(remembered, QUESTION, Options(replacing=first)))[0]
    third = (await reply_of(remembered, QUESTION, Options(replacing=second)))[0]
    assert len({first, second, third}) == 3


async def test_continue_emits_only_the_rest_of_the_answer() -> None:
    demo = Demo(delay=0, seed=3)
    whole = (await reply_of(demo, QUESTION))[0]
    for cut in (10, len(whole) // 2, len(whole) - 3):
        partial = whole[:cut].rstrip()
        rest = (await reply_of(demo, [*QUESTION, Turn('assistant', partial)]))[0]
        assert whole[:cut] + rest == whole or partial + rest == whole
        assert '**Demo model**' not in rest, 'never the whole answer again'


async def test_continue_of_any_variant_finishes_that_variant() -> None:
    for variant in range(VARIANTS):
        whole = demo_reply('What is a room?', variant=variant)
        partial = whole[:len(whole) * 2 // 3].rstrip()
        rest = (await reply_of(Demo(delay=0), [*QUESTION, Turn('assistant', partial)]))[0]
        assert partial + rest == whole


async def test_continue_of_text_the_demo_did_not_write_closes_it_sensibly() -> None:
    foreign = Turn('assistant', 'Rooms are shared:\n\n```python\nprint(1)')  # Claude's, or an older demo's
    rest = (await reply_of(Demo(delay=0), [*QUESTION, foreign]))[0]
    assert rest.startswith('\n```'), 'an open code block is closed first'
    assert 'demo model' in rest and len(rest) < 200 and 'You wrote' not in rest


async def test_thinking_streams_first_word_by_word_then_the_answer() -> None:
    parts = [part async for part in Demo(delay=0).stream(QUESTION, '', options=Options(thinking_budget=2048))]
    kinds = [isinstance(part, Thinking) for part in parts]
    assert kinds[0] and not kinds[-1] and kinds == sorted(kinds, reverse=True), 'all thinking before any text'
    thoughts = [part.text for part in parts if isinstance(part, Thinking)]
    assert len(thoughts) > 10 and all(len(piece.split()) == 1 for piece in thoughts)
    assert 'What is a room?' in ''.join(thoughts) and 'demo model' in ''.join(thoughts)
    no_thinking = [part async for part in Demo(delay=0).stream(QUESTION, '')]
    assert not any(isinstance(part, Thinking) for part in no_thinking)


async def test_web_search_on_says_the_demo_cannot_search() -> None:
    text = (await reply_of(Demo(delay=0), QUESTION, Options(web_search=True)))[0]
    assert 'demo model cannot search the web' in text and 'Claude can' in text
    assert 'search the web' not in (await reply_of(Demo(delay=0), QUESTION))[0]


async def test_usage_is_reported_as_an_estimate_of_tokens() -> None:
    text, thinking, usage = await reply_of(Demo(delay=0), QUESTION, Options(thinking_budget=1024))
    [counted] = usage
    assert counted.cache_read_tokens == counted.cache_write_tokens == 0
    assert 0 < counted.input_tokens < 50
    assert len(text + thinking) // 6 < counted.output_tokens < len(text + thinking) // 2


async def test_attached_files_are_named_with_type_and_size() -> None:
    image = Attachment('a' * 64, 'cat [1].png', 'image/png', 2048, '/api/rooms/r/files/' + 'a' * 64)
    message = Message(id='m1', seq=1, role='user', content='look', attachments=(image,))
    text, _, [usage] = await reply_of(Demo(delay=0), build_turns([message]))
    assert r'cat \[1\].png (image/png, 2 KB)' in text and 'You attached 1 file' in text
    assert usage.input_tokens > 1600, 'an image costs what Claude would count for it'


async def test_through_a_room_regenerate_differs_and_continue_continues(settings: Settings) -> None:
    """Regression (issue 12): Regenerate wrote the same text again and Continue repeated the whole answer."""
    demo = Demo(delay=0.002)
    rooms = make_rooms(settings, demo)  # type: ignore[arg-type]
    try:
        hub = await rooms.get('demo-room')
        await hub.post('How do rooms work?', author='Ann')
        await wait_idle(hub)
        reply = hub.messages[-1]
        first = reply.content
        assert reply.status == Status.COMPLETE and first.startswith('**Demo model**') and reply.usage is not None

        hub.regenerate(reply.id)
        await wait_idle(hub)
        second = hub.messages[-1].content
        assert hub.messages[-1].status == Status.COMPLETE and second != first
        assert second.startswith('**Demo model**') and 'Ann: How do rooms work?' in second

        hub.regenerate(reply.id)
        while hub.streaming is None or len(hub.streaming.content) < 60:  # stop it part way
            await asyncio.sleep(0.002)
        hub.stop()
        await wait_idle(hub)
        stopped = hub.messages[-1]
        partial = stopped.content
        assert stopped.status == Status.STOPPED and partial and partial != second

        hub.resume(stopped.id)
        await wait_idle(hub)
        final = hub.messages[-1]
        assert final.status == Status.COMPLETE and final.content.startswith(partial)
        assert final.content.count('**Demo model**') == 1, 'Continue goes on, it does not start again'
        assert final.content in {demo_reply('Ann: How do rooms work?', variant=v) for v in range(VARIANTS)}
    finally:
        await rooms.close()


async def test_through_a_room_thinking_shows_first_and_web_search_is_declined(settings: Settings) -> None:
    rooms = make_rooms(settings, Demo(delay=0.001))  # type: ignore[arg-type]
    try:
        hub = await rooms.get('thinking-room')
        hub.configure(thinking_budget=1024, web_search=True)
        await hub.post('Search the news for me')
        await wait_idle(hub)
        reply = hub.messages[-1]
        assert reply.status == Status.COMPLETE and reply.thinking.startswith('The message says “Search the news')
        assert reply.content.startswith('**Demo model**') and 'the demo model cannot search the web' in reply.content
        assert reply.usage is not None and reply.usage.output_tokens > len(reply.content) // 6
    finally:
        await rooms.close()
