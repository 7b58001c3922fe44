"""What one request to Claude may carry (issue 11 part 1): at most 100 images, 100 PDF pages and 32 MB. A room with more
files than that still gets replies: its oldest files are left out, each replaced by a note naming it; the fake API
refuses what the API refuses, and a request over 32 MB says what to do. Through the real SDK against the fake."""
from __future__ import annotations

import io
import os
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
import pytest_asyncio
from attachment_support import image
from conftest import claude_rooms, wait_idle
from PIL import Image

from chat.bench.fake_anthropic import FakeAnthropic
from chat.errors import ModelError
from chat.files import pdf_pages
from chat.llm import Claude
from chat.rooms import Rooms
from chat.turns import MAX_IMAGES, MAX_PDF_PAGES, Turn

MODEL = 'claude-sonnet-5-5'
MB = 2**20


@pytest_asyncio.fixture
async def rooms(tmp_path: Path, claude: Claude, fake_api: FakeAnthropic) -> AsyncIterator[Rooms]:
    registry = claude_rooms(tmp_path, claude, fake_api)
    yield registry
    await registry.close()


def pdf(pages: int, padding: int = 0) -> bytes:
    """A PDF of this many pages, its page objects in a compressed object stream (PDF 1.5) as most PDFs keep them."""
    objects = zlib.compress(b' '.join(b'<</Type /Page /Parent 2 0 R>>' for _ in range(pages)))
    head = (f'%PDF-1.5\n2 0 obj<</Type /Pages /Count {pages}>>endobj\n3 0 obj<</Type /ObjStm /N {pages} /First 1 '
            f'/Filter /FlateDecode /Length {len(objects)}>>stream\n').encode()
    return head + objects + b'\nendstream endobj\n%' + b'x' * padding + b'\n%%EOF\n'


def last_request(fake: FakeAnthropic) -> dict[str, Any]:
    return [body for body in fake.requests if body.get('stream')][-1]


def blocks(request: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [block for message in request['messages'] if isinstance(message['content'], list)
            for block in message['content'] if block['type'] == kind]


def notes(request: dict[str, Any]) -> list[str]:
    return [block['text'] for block in blocks(request, 'text') if 'is left out' in block['text']]


async def test_a_room_of_many_images_still_gets_replies_and_the_oldest_are_left_out(
        rooms: Rooms, fake_api: FakeAnthropic) -> None:
    """Regression: every image of a room was sent with every reply, and past 100 the API refused them all (400)."""
    hub = await rooms.get('album')
    for batch in range(11):
        ids = [rooms.store.files.put('album', image(8, 8, color=(batch * 20, n * 20, 7)), f'b{batch}-{n}.png').id
               for n in range(10)]
        await hub.post(f'batch {batch}', attachments=ids)
        await wait_idle(hub)
        assert hub.messages[-1].status == 'complete', hub.messages[-1].error
    request = last_request(fake_api)
    assert len(blocks(request, 'image')) == MAX_IMAGES
    left_out = notes(request)
    assert len(left_out) == 10 and all(f'b0-{n}.png' in note for n, note in enumerate(left_out)), \
        'the ten oldest, each named where it was'
    assert 'at most 100 images' in left_out[0]
    assert hub.messages[-1].left_out == 0, 'only files are left out, not the messages'

    client = anthropic.AsyncAnthropic(api_key='sk-test', base_url=fake_api.base_url, max_retries=0)
    too_many = [{'type': 'image', 'source': {'type': 'base64', 'media_type': 'image/png', 'data': image_data}}
                for image_data in [blocks(request, 'image')[0]['source']['data']] * (MAX_IMAGES + 1)]
    try:
        with pytest.raises(anthropic.BadRequestError, match='Too many images'):
            await client.messages.create(model=MODEL, max_tokens=10, messages=[
                {'role': 'user', 'content': [*too_many, {'type': 'text', 'text': 'hi'}]}])
    finally:
        await client.close()


async def test_pdfs_past_100_pages_leave_the_oldest_out(rooms: Rooms, fake_api: FakeAnthropic) -> None:
    hub = await rooms.get('reports')
    for n in range(3):
        report = rooms.store.files.put('reports', pdf(40, padding=n), f'report{n}.pdf')
        await hub.post(f'report {n}', attachments=[report.id])
        await wait_idle(hub)
        assert hub.messages[-1].status == 'complete', hub.messages[-1].error
    request = last_request(fake_api)
    assert [block['title'] for block in blocks(request, 'document')] == ['report1.pdf', 'report2.pdf']
    assert len(notes(request)) == 1 and 'report0.pdf' in notes(request)[0] and 'at most 100 PDF pages' in \
        notes(request)[0]

    content = [*blocks(request, 'document'), {'type': 'document', 'source': {
        'type': 'base64', 'media_type': 'application/pdf', 'data': blocks(request, 'document')[0]['source']['data']}}]
    client = anthropic.AsyncAnthropic(api_key='sk-test', base_url=fake_api.base_url, max_retries=0)
    try:
        with pytest.raises(anthropic.BadRequestError, match=f'A maximum of {MAX_PDF_PAGES} PDF pages'):
            await client.messages.create(model=MODEL, max_tokens=10, messages=[{'role': 'user', 'content': content}])
    finally:
        await client.close()


async def test_files_over_the_request_cap_leave_the_oldest_out(rooms: Rooms, fake_api: FakeAnthropic) -> None:
    """Eight photos Claude takes as they are (3.6 MB each, 4.8 MB as base64) are 39 MB: the newest six go (29 MB), the
    two oldest are named in notes; each reply is complete (was: the API's 413 for every reply)."""
    hub = await rooms.get('heavy')
    for batch in range(4):
        ids = [rooms.store.files.put('heavy', noise(1100, 1100), f'photo{batch}-{n}.png').id for n in range(2)]
        await hub.post(f'photos {batch}', attachments=ids)
        await wait_idle(hub, timeout=30)
        assert hub.messages[-1].status == 'complete', hub.messages[-1].error
    request = last_request(fake_api)
    assert len(blocks(request, 'image')) == 6
    assert len(notes(request)) == 2 and 'photo0-0.png' in notes(request)[0] and 'photo0-1.png' in notes(request)[1]
    assert 'at most 30 MB' in notes(request)[0]


def noise(width: int, height: int) -> bytes:
    """A PNG that does not compress: as large as its pixels."""
    out = io.BytesIO()
    Image.frombytes('RGB', (width, height), os.urandom(width * height * 3)).save(out, 'PNG', compress_level=1)
    return out.getvalue()


async def test_a_request_over_32_mb_says_what_to_do(claude: Claude, fake_api: FakeAnthropic) -> None:
    """The fake's 413 `request_too_large`, through the SDK, becomes a reason the room can act on."""
    with pytest.raises(ModelError) as failed:
        async for _ in claude.stream([Turn('user', 'x' * (33 * MB))], ''):
            pass
    reason = failed.value.reason
    assert '413' in reason and 'too large for one request' in reason and 'Attach fewer or smaller files' in reason
    assert fake_api.requests and not fake_api.requests[-1].get('thinking')


def test_pdf_pages_are_counted_without_parsing() -> None:
    assert pdf_pages(pdf(7)) == 7, 'in a compressed object stream'
    assert pdf_pages(b'%PDF-1.4\n1 0 obj<</Type/Pages/Count 2>>endobj 2 0 obj<</Type/Page>>endobj '
                     b'3 0 obj<</Type /Page>>endobj') == 2
    assert pdf_pages(b'%PDF-1.4 odd') == 1, 'at least one'
