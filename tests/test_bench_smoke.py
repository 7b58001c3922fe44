"""The benchmark's parts still work (not timing): the naive baseline (chat/bench/naive.py) as a chat, the light
socket clients of the capacity part, the report's target table."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from browser_support import chromium, open_room, reply_text, send

from chat.bench import capacity, light_client
from chat.bench.app import App, app_env
from chat.bench.fake_anthropic import FakeAnthropic
from chat.bench.report import table
from chat.bench.runner import Plan
from chat.config import Settings


def test_the_product_has_no_benchmark_switch() -> None:
    """Guards issue 13's layout: the baseline is injected by chat.bench.serve, not chosen by a product setting."""
    assert not any('naive' in name for name in Settings.__dataclass_fields__)


@pytest.mark.browser
def test_naive_baseline_shows_the_same_final_reply(tmp_path: Path) -> None:
    """Guards the benchmark's baseline: whole-text re-sends through ui.markdown, sanitised, same final text."""
    chunks = ['Hello ', '**naive** ', 'world', '<img src=x onerror="window.__pwned = 1">', ' and', ' more', ' words.']
    with FakeAnthropic.in_thread() as fake:
        app = App(tmp_path / 'data', app_env(fake.base_url), tmp_path / 'app.log', probe=False, naive=True)
        with app, chromium() as browser:
            app.wait_ready('/healthz')
            page = open_room(browser, f'{app.url}/room/naive')
            fake.enqueue_text(chunks, delay=0.03)
            send(page, 'hi')
            page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=complete]')
            assert app.messages('naive')[-1]['content'] == ''.join(chunks)
            page.wait_for_function("document.querySelectorAll('[data-testid=message-content]')[1]"
                                   "?.innerText.includes('more words.')")
            assert ' '.join(reply_text(page).split()) == 'Hello naive world and more words.'
            body = page.locator('[data-testid=message][data-role=assistant] [data-testid=message-content]')
            assert 'nicegui-markdown' in (body.get_attribute('class') or '')  # the naive body, not MessageBody
            assert body.locator('strong').inner_text() == 'naive'
            assert page.evaluate('window.__pwned') is None
            assert page.page_errors == []  # type: ignore[attr-defined]


def test_light_clients_get_every_word_once(tmp_path: Path) -> None:
    """Guards the capacity part: light socket clients join a room as a tab does and see every word of a reply once."""
    with FakeAnthropic.in_thread() as fake, \
            App(tmp_path / 'data', app_env(fake.base_url), tmp_path / 'app.log') as app:
        app.wait_ready('/healthz')
        result = asyncio.run(capacity.run_trial(app.url, capacity.Trial(rooms=2, clients=2, words=20, rate=50),
                                                fake.enqueue_words, app.cpu_seconds))
    assert result['samples'] == 2 * 2 * 20, result
    assert (result['lost'], result['duplicated'], result['disconnects'], result['errors']) == (0, 0, 0, [])
    assert result['workers'] == capacity.WORKERS and len(result['worker_loop_lag_ms']) == capacity.WORKERS
    assert result['app_cpu_s'] > 0
    assert capacity.passed(result, p99_ms=10_000)


def test_the_light_clients_read_the_frames_live_py_sends() -> None:
    """Guards light_client.deltas_of against a change of live.py's frame format going unnoticed."""
    from chat.ui import live

    assert (capacity.WIRE.delta_event, capacity.WIRE.sync_event) == (live.DELTA_EVENT, live.SYNC_EVENT)
    frame = ['m1', 0, 'w0@1.000001 ', 'm1.thinking', 3, 'x']
    assert light_client.deltas_of(capacity.WIRE, live.DELTA_EVENT, frame) == [
        ('m1', 0, 'w0@1.000001 '), ('m1.thinking', 3, 'x')]
    assert light_client.deltas_of(capacity.WIRE, 'update', {'_id': 3}) == []


def test_a_light_client_resyncs_a_gap_as_a_tab_does() -> None:
    """Guards the capacity part's count of lost text: text past a gap is asked for with rooms_sync (as
    message_body.js does) and counted as a resync; the answer's words count as arrived, once."""
    client = light_client.LightClient('http://127.0.0.1:1', 'r', capacity.WIRE)
    sent: list[str] = []
    client._send = sent.append  # type: ignore[method-assign]
    words = [f'w{i}@1000.{i:06d} ' for i in range(4)]
    client._on_packet('42' + json.dumps([capacity.WIRE.delta_event, ['m1', 0, words[0]]]))
    client._on_packet('42' + json.dumps([capacity.WIRE.delta_event, ['m1', len(''.join(words[:2])), words[2]]]))
    client._on_packet('42' + json.dumps([capacity.WIRE.delta_event, ['m1', len(''.join(words[:3])), words[3]]]))
    assert len(sent) == 1 and sent[0].startswith('421') and json.loads(sent[0][3:])[1]['msgs'] == ['m1']
    client._on_packet('431' + json.dumps([{'texts': {'m1': ''.join(words)}}]))
    client._on_packet('42' + json.dumps([capacity.WIRE.delta_event, ['m1', len(''.join(words[:3])), words[3]]]))
    body = client.bodies['m1']
    assert sorted(body.arrived) == [0, 1, 2, 3] and body.text == ''.join(words)
    assert (body.gaps, body.duplicates, body.mismatches) == (2, 0, 0)
    # the gap seen while the first resync was on its way asks again once it is answered, as message_body.js does
    assert client.resyncs == 2 and len(sent) == 2 and sent[1].startswith('422')


async def test_a_light_client_opens_its_websocket_on_a_connection_of_its_own() -> None:
    """Guards the capacity part against uvicorn closing sockets 5 s in: on the page's keep-alive connection, its
    keep-alive timeout could be armed after the upgrade (a browser never opens a websocket there)."""
    async with light_client.browser_session() as session:
        assert session.connector is not None and session.connector.force_close


def test_the_target_table_names_what_was_not_measured() -> None:
    results = {'plan': Plan.quick().__dict__, 'rate_words_per_s': 100, 'cpus': 2, 'modes': {},
               'light': {'server_cpu': {'us_per_word_no_tab': 120.0, 'us_per_word_per_tab': 30.0},
                         'capacity': {'max_rooms': 60, 'trials': []}}}
    text = table(results)
    assert '| server CPU per word before any tab' in text and '120 µs' in text
    lines = {line.split('|')[1].strip(): line for line in text.splitlines() if line.startswith('|')}
    assert lines['server CPU per word before any tab'].rstrip(' |').endswith('pass')
    assert lines['server CPU per word per extra tab'].rstrip(' |').endswith('MISS')
    assert lines['rooms streaming at once (4 clients, 50 words/s, p99 <= 100 ms)'].rstrip(' |').endswith('pass')
    assert 'not measured' in lines['latency p50, 4 tabs']
