"""Attachments (issue 11 part 1): what Claude gets, through the real SDK against the fake (image, PDF and text
blocks; what the API refuses and how a refusal shows), the demo model's answer, and turns that carry files."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import anthropic
import pytest
from attachment_support import PDF, image, size_of
from conftest import wait_idle

from chat.bench.fake_anthropic import FakeAnthropic
from chat.config import Settings
from chat.demo import Demo
from chat.files import API_EDGE
from chat.llm import Claude
from chat.models import Attachment, Message
from chat.rooms import Rooms
from chat.store import RoomStore
from chat.turns import REQUEST_BYTES, Turn, build_turns, fit_turns

# --- what Claude gets, through the real SDK against the fake -----------------------------------------------------

async def test_claude_gets_image_pdf_and_text_blocks_through_the_sdk(fake_api: FakeAnthropic, tmp_path: Path) -> None:
    claude = Claude('claude-sonnet-5-5', api_key='sk-test', base_url=fake_api.base_url, max_retries=0, timeout=5)
    settings = Settings(data_dir=tmp_path, model='claude-sonnet-5-5', api_key='sk-test', base_url=fake_api.base_url)
    rooms = Rooms(RoomStore(tmp_path), lambda _name: claude, settings)
    try:
        files = rooms.store.files
        photo = files.put('r1', image(3000, 2000, 'JPEG'), 'photo.jpg')
        pdf = files.put('r1', PDF, 'report.pdf')
        code = files.put('r1', b'def f():\n    return 1\n', 'f.py')
        hub = await rooms.get('r1')
        await hub.post('no files yet', author='Ann')
        await wait_idle(hub)
        await hub.post('what are these?', author='Ann', attachments=[photo.id, pdf.id, code.id])
        await wait_idle(hub)
        assert hub.messages[-1].content.startswith('Echo: Ann: what are these?')
        assert '(+ image image/jpeg, document report.pdf, document f.py)' in hub.messages[-1].content
        first, second = fake_api.requests[-1]['messages'][0], fake_api.requests[-1]['messages'][2]
        assert isinstance(first['content'], str), 'a turn without files stays a plain string'
        image_block, pdf_block, text_block, words = second['content']
        assert image_block['source']['media_type'] == 'image/jpeg'
        assert max(size_of(base64.b64decode(image_block['source']['data']))) == API_EDGE, 'scaled for Claude'
        assert pdf_block == {'type': 'document', 'title': 'report.pdf', 'source': {
            'type': 'base64', 'media_type': 'application/pdf', 'data': base64.b64encode(PDF).decode()}}
        assert text_block['source'] == {'type': 'text', 'media_type': 'text/plain', 'data': 'def f():\n    return 1\n'}
        assert words['text'].startswith('Ann: what are these?\n[attached: photo.jpg (image/jpeg, ')
        assert words['cache_control'] == {'type': 'ephemeral'}, 'the newest turn still ends the cached prefix'
    finally:
        await rooms.close()
        await claude.close()


async def test_the_fake_refuses_what_the_api_refuses(fake_api: FakeAnthropic) -> None:
    client = anthropic.AsyncAnthropic(api_key='sk-test', base_url=fake_api.base_url, max_retries=0)
    png = base64.b64encode(image(8, 8)).decode()
    wide = base64.b64encode(image(8001, 2)).decode()
    cases = [
        ({'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', 'data': 'A' * (5 * 2**20 + 4)}},
         'image exceeds 5 MB maximum'),
        ({'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', 'data': wide}},
         'image dimensions exceed max allowed size: 8000 pixels'),
        ({'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/jpeg', 'data': png}},
         'appears to be a image/png image'),
        ({'type': 'document', 'source': {'type': 'base64', 'media_type': 'application/pdf', 'data': png}},
         'The PDF specified was not valid'),
        ({'type': 'text', 'text': ''}, 'text content blocks must be non-empty'),
        ({'type': 'video'}, "Input tag 'video'"),
    ]
    try:
        for block, message in cases:
            with pytest.raises(anthropic.BadRequestError) as refused:
                await client.messages.create(model='claude-sonnet-5-5', max_tokens=10,
                                             messages=[{'role': 'user', 'content': [block]}])
            assert refused.value.status_code == 400 and refused.value.body['error']['type'] == 'invalid_request_error'
            assert message in refused.value.body['error']['message'] and 'messages' in str(refused.value)
        content = [{'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', 'data': png}},
                   {'type': 'text', 'text': 'hi'}]
        ok = await client.messages.create(model='claude-sonnet-5-5', max_tokens=10,
                                          messages=[{'role': 'user', 'content': content}])
        assert ok.content[0].text == 'A fine title' and len(fake_api.blocks('image')) == 4, 'refused ones recorded too'
    finally:
        await client.close()


async def test_a_refused_file_shows_the_api_reason_in_the_reply(fake_api: FakeAnthropic, tmp_path: Path) -> None:
    claude = Claude('claude-sonnet-5-5', api_key='sk-test', base_url=fake_api.base_url, max_retries=0, timeout=5)
    settings = Settings(data_dir=tmp_path, model='claude-sonnet-5-5', api_key='sk-test', base_url=fake_api.base_url)
    rooms = Rooms(RoomStore(tmp_path), lambda _name: claude, settings)
    try:
        note = rooms.store.files.put('r1', b'%PDF-1.4 but cut', 'cut.pdf')
        hub = await rooms.get('r1')
        fake_api.enqueue_status(400, {'type': 'error', 'error': {
            'type': 'invalid_request_error', 'message': 'messages.0.content.0.document.source.base64.data: The PDF '
                                                        'specified was not valid.'}})
        await hub.post('read it', attachments=[note.id])
        await wait_idle(hub)
        reply = hub.messages[-1]
        assert reply.status == 'error' and '(400)' in (reply.error or '') and 'PDF specified was not valid' in \
            (reply.error or '')
    finally:
        await rooms.close()
        await claude.close()


async def test_the_demo_model_acknowledges_the_files() -> None:
    attachment = Attachment('c' * 64, 'plan_*v2*.pdf', 'application/pdf', 123_456, f'/api/rooms/r/files/{"c" * 64}')
    message = Message(id='m1', seq=1, role='user', content='here', author='Ann', attachments=(attachment,))
    turns = build_turns([message], lambda _a: ('application/pdf', PDF))
    reply = ''.join([chunk async for chunk in Demo(delay=0).stream(turns, '')])
    assert 'You attached 1 file' in reply and r'plan\_\*v2\*.pdf (application/pdf, 121 KB)' in reply
    assert '[attached:' not in reply, 'the quote of the question leaves the file list to the reply'


def test_turns_stay_strings_without_files_and_big_files_push_old_files_out() -> None:
    plain = [Message(id=f'm{n}', seq=n, role='user' if n % 2 else 'assistant', content=f'text {n}') for n in (1, 2)]
    assert all(isinstance(turn.content, str) for turn in build_turns(plain, lambda _a: None))
    attachment = Attachment('d' * 64, 'big.pdf', 'application/pdf', 8 * 2**20, f'/api/rooms/r/files/{"d" * 64}')
    heavy = [Message(id=f'h{n}', seq=n, role='user' if n % 2 else 'assistant', content=f'part {n}',
                     attachments=(attachment,) if n % 2 else ()) for n in range(1, 6)]
    turns = build_turns(heavy, lambda _a: ('application/pdf', b'%PDF-' + b'x' * (8 * 2**20)))
    kept, left_out = fit_turns(turns, 10**9, 1000)
    assert left_out == 0 and sum(len(json.dumps(t.content)) for t in kept) < REQUEST_BYTES
    assert kept[0].content[0]['text'].startswith('[big.pdf was attached here but is left out: one request to Claude '
                                                 'carries at most 30 MB'), 'the oldest file goes, its message stays'
    assert [block['type'] for turn in kept[1:] if isinstance(turn.content, list) for block in turn.content
            if block['type'] != 'text'] == ['document', 'document']
    gone = build_turns(heavy[:1], lambda _a: None)
    assert gone[0].content[0] == {'type': 'text', 'text': '[big.pdf: this file is no longer available]'}
    assert isinstance(gone[0], Turn)

