"""Crash safety, proven: SIGKILL the app mid-reply at random moments, restart it, and nothing is lost but the tail.

The app runs as `python main.py` against a loopback fake of the Anthropic API that streams timestamped words
(`w<index>@<time sent> `). A headless Chromium tab sends each question, the app is killed 0.2 to 2.5 s into the
reply, and restarted on the same data dir. After each restart: every file in the data dir parses, every message
seen before is unchanged, the question is there, and the cut reply is `interrupted` with a prefix of what the fake
sent that lacks at most the last checkpoint interval's words. The kill moments are random; the seed is in every
failure message, and CRASH_SEED=<seed> replays them.
"""
from __future__ import annotations

import json
import os
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import AppProcess, chromium, send
from playwright.sync_api import Page

from chat.bench.fake_anthropic import FakeAnthropic, parse_words

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KILLS = 20
ROOM = 'crash'
CHECKPOINT = 1.0
"""Settings.checkpoint_interval: the most a crash may lose of a growing reply."""
SLACK = 0.5
"""Time for the checkpoint after the interval to reach the disk (a word comes every 20 ms, then a fsync'd write)."""
PREFIX = re.compile(r'(?:w\d+@\d+\.\d{6} )*')
"""What a checkpoint of a words reply looks like: whole words, in order, nothing else."""


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic.in_thread() as server:
        yield server


def test_sigkill_mid_reply_keeps_history_and_the_last_checkpoint(tmp_path: Path, fake: FakeAnthropic) -> None:
    """Guards the crash promise of the README: a kill loses at most the last second of the reply being written."""
    seed = int(os.environ.get('CRASH_SEED', time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    data_dir = tmp_path / 'data'
    env = {'ANTHROPIC_API_KEY': 'sk-test', 'ANTHROPIC_BASE_URL': fake.base_url}
    seen: dict[str, dict[str, Any]] = {}
    """Every message after a restart, by id: later restarts must find each one unchanged."""
    cuts: list[tuple[float, int]] = []
    app = AppProcess(data_dir, env=env)
    try:
        with chromium() as browser:
            page = browser.new_page()
            for round_ in range(KILLS):
                context = f'seed {seed}, round {round_}'
                open_room(page, app)
                if round_ % 5 == 0:  # now and then a reply that completes, to be kept through the later kills
                    fake.enqueue_text(['Complete ', 'answer ', f'{round_}.'])
                    ask(page, app, fake, f'finish {round_}')
                    messages = app.wait_for(ROOM, lambda ms: ms[-1]['role'] == 'assistant'
                                            and ms[-1]['status'] == 'complete', timeout=10)
                    seen.update((m['id'], m) for m in messages)
                question = f'question {round_}: tell me a long story'
                fake.enqueue_words(400, rate=50)
                asked_at = ask(page, app, fake, question)
                time.sleep(rng.uniform(0.2, 2.5))
                killed_at = time.time()
                app.kill()

                assert_files_parse(data_dir, allow_temp=True)
                app = AppProcess(data_dir, env=env)
                messages = app.messages(ROOM)
                assert_history_kept(messages, seen, context)
                question_message, reply = messages[-2], messages[-1]
                assert question_message['role'] == 'user' and question_message['content'] == question, context
                assert reply['role'] == 'assistant' and reply['status'] == 'interrupted', (context, reply)
                words = assert_checkpoint(reply['content'], asked_at, killed_at, context)
                cuts.append((killed_at - asked_at, len(words)))
                wait_file_agrees(data_dir, messages, context)
                assert_files_parse(data_dir, allow_temp=False)
                assert 'Traceback' not in app.log, app.log
                seen.update((m['id'], m) for m in messages)

            # the last cut reply shows in a tab as interrupted, with its text (none if cut before its first checkpoint)
            open_room(page, app)
            last = app.messages(ROOM)[-1]
            shown = page.locator(f'[data-testid=message][data-message-id="{last["id"]}"]')
            shown.wait_for()
            assert shown.get_attribute('data-status') == 'interrupted'
            content = shown.locator('[data-testid=message-content]')
            if last['content']:
                content.wait_for()
                assert content.inner_text().split() == last['content'].split()
            else:
                assert not (content.text_content() or '').strip(), context
    finally:
        app.stop()
    assert len(cuts) == KILLS
    late = [words for after, words in cuts if after > CHECKPOINT + SLACK]
    assert all(late), f'a reply cut well after its first checkpoint lost everything: {cuts}'


def open_room(page: Page, app: AppProcess) -> None:
    page.goto(f'{app.url}/room/{ROOM}')
    page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=15_000)


def ask(page: Page, app: AppProcess, fake: FakeAnthropic, text: str) -> float:
    """Send `text` from the tab; return time.time() when the fake API got the streaming request it caused."""
    before = streams(fake)
    send(page, text)
    # the clear of the composer comes back from the server; typing before it lands would be wiped
    page.wait_for_function("() => !document.querySelector('textarea[data-testid=composer]').value", polling=20)
    deadline = time.monotonic() + 10
    while streams(fake) == before:
        assert time.monotonic() < deadline, f'the app never asked the model: {app.log}'
        time.sleep(0.002)
    return time.time()


def streams(fake: FakeAnthropic) -> int:
    """Streaming model calls so far (replies; a title suggestion is a plain call)."""
    return sum(1 for request in list(fake.requests) if request.get('stream'))


def assert_checkpoint(content: str, asked_at: float, killed_at: float, context: str) -> list[tuple[int, float]]:
    """The cut reply holds whole words 0..k-1, and the words after its last one were sent at most ~1 s before."""
    assert PREFIX.fullmatch(content), (context, content[-200:])
    words = parse_words(content)
    assert [index for index, _ in words] == list(range(len(words))), context
    saved_until = words[-1][1] if words else asked_at
    assert killed_at - saved_until <= CHECKPOINT + SLACK, (
        f'{context}: the kill came {killed_at - asked_at:.2f} s into the reply and lost '
        f'{killed_at - saved_until:.2f} s of it ({len(words)} words kept)')
    return words


def assert_history_kept(messages: list[dict[str, Any]], seen: dict[str, dict[str, Any]], context: str) -> None:
    seqs = [m['seq'] for m in messages]
    assert seqs == sorted(set(seqs)), (context, seqs)
    assert len({m['id'] for m in messages}) == len(messages), context
    by_id = {m['id']: m for m in messages}
    for message_id, before in seen.items():
        assert by_id.get(message_id) == before, (context, before, by_id.get(message_id))
    assert not [m for m in messages if m['status'] == 'streaming'], context


def assert_files_parse(data_dir: Path, *, allow_temp: bool) -> None:
    """Every file in the data dir is JSON; a temp file of a write the kill cut short may exist until the room opens."""
    for path in data_dir.iterdir():
        if path.is_dir():
            continue
        if allow_temp and path.name.endswith('.tmp'):
            continue
        assert not path.name.endswith('.tmp'), f'stale temp file {path.name} after the room was opened'
        try:
            json.loads(path.read_text(encoding='utf-8'))
        except FileNotFoundError:  # a reply's checkpoint file, folded into the room file by the app meanwhile
            assert path.name.endswith('.reply.json'), path.name
    assert (data_dir / f'{ROOM}.json').exists()


def wait_file_agrees(data_dir: Path, messages: list[dict[str, Any]], context: str) -> None:
    """The room's file holds what the API shows, the recovered `interrupted` status included."""
    deadline = time.monotonic() + 5
    while True:
        stored = json.loads((data_dir / f'{ROOM}.json').read_text(encoding='utf-8'))['messages']
        records = sorted(stored.values(), key=lambda r: r['seq'])
        if records == messages:
            return
        assert time.monotonic() < deadline, (context, records[-1:], messages[-1:])
        time.sleep(0.02)
