"""Attachments in Chromium: pick, paste and drop files into the composer's picker, remove one, see a refused one's
reason, send; a second tab shows the image as a loaded `<img>` and the text file as a chip, live. Screenshots at phone
and desktop sizes in both themes (ROOMS_SHOTS=dir keeps them for a look)."""
from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import ROOT, free_port, open_room
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from chat.bench.app import stop_process

pytestmark = pytest.mark.browser

PENDING = '[data-testid=pending-attachment]'


def png(width: int, height: int, color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new('RGB', (width, height), color).save(out, 'PNG')
    return out.getvalue()


@pytest.fixture(scope='module')
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real app with a page that mounts the picker (tests/attach_app.py), on the offline demo model."""
    data_dir = tmp_path_factory.mktemp('attach-ui') / 'data'
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANTHROPIC_', 'CHAT_', 'PYTEST_', 'NICEGUI_'))}
    with open(data_dir.parent / 'app.log', 'w') as log:
        process = subprocess.Popen([sys.executable, 'tests/attach_app.py', '--port', str(port), '--data-dir',
                                    str(data_dir), '--no-browser', '--model', 'demo'],
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f'http://127.0.0.1:{port}'
            deadline = time.monotonic() + 30
            while True:
                assert process.poll() is None and time.monotonic() < deadline, (data_dir.parent / 'app.log').read_text()
                try:
                    with urllib.request.urlopen(f'{url}/healthz', timeout=1):
                        break
                except OSError:
                    time.sleep(0.1)
            yield url
        finally:
            stop_process(process)


def composer_page(browser: Browser, site: str, room: str, **context: object) -> Page:
    """The room itself once its composer mounts the picker, the test page until then."""
    page = open_room(browser.new_context(**context), f'{site}/room/{room}')  # type: ignore[arg-type]
    if page.locator('[data-testid=attach]').count() == 0:
        page.goto(f'{site}/attach-test/{room}')
        page.wait_for_selector('[data-testid=connection][data-state=live]')
    return page


def hand_over(page: Page, kind: str, name: str, data: bytes, media_type: str) -> None:
    """Paste a file into the composer, or drop it there, as the browser would."""
    page.locator('textarea[data-testid=composer]').evaluate(
        """(box, [kind, name, data, type]) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, { type }));
            const event = kind === 'paste'
                ? new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true })
                : new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true });
            box.dispatchEvent(event);
        }""", [kind, name, base64.b64encode(data).decode(), media_type])


def test_files_picked_pasted_and_dropped_show_in_another_tab(site: str, browser: Browser, tmp_path: Path) -> None:
    room = 'attach-live'
    (tmp_path / 'red.png').write_bytes(png(640, 400, (220, 60, 40)))
    (tmp_path / 'notes.md').write_text('# Notes\n\nPlease read **this**.\n')
    (tmp_path / 'table.csv').write_text('a,b\n1,2\n')
    (tmp_path / 'huge.log').write_text('x' * 600_000)
    (tmp_path / 'program.exe').write_bytes(b'MZ\x00\x00binary')
    reader = open_room(browser.new_context(), f'{site}/room/{room}')
    writer = composer_page(browser, site, room)
    expect(writer.locator('[data-testid=attach]')).to_be_visible()

    writer.set_input_files('[data-testid=attach-input]', [tmp_path / 'red.png', tmp_path / 'notes.md',
                                                         tmp_path / 'table.csv'])
    expect(writer.locator(f'{PENDING}[data-state=ready]')).to_have_count(3)
    expect(writer.locator(PENDING).nth(0).locator('img')).to_have_count(1)
    writer.locator(PENDING).filter(has_text='table.csv').locator('[data-testid=remove-attachment]').click()
    expect(writer.locator(PENDING)).to_have_count(2)

    hand_over(writer, 'paste', 'image.png', png(120, 80, (40, 120, 220)), 'image/png')
    hand_over(writer, 'drop', 'dropped.txt', b'dropped text', 'text/plain')
    expect(writer.locator(f'{PENDING}[data-state=ready]')).to_have_count(4)

    writer.set_input_files('[data-testid=attach-input]', [tmp_path / 'huge.log'])
    expect(writer.locator('[data-testid=attachment-error]')).to_contain_text('the limit is 512 KB')
    writer.set_input_files('[data-testid=attach-input]', [tmp_path / 'program.exe'])
    expect(writer.locator('[data-testid=attachment-error]')).to_contain_text('not a file Claude can read')
    expect(writer.locator(PENDING)).to_have_count(4)
    expect(writer.locator('[data-testid=attach-hint]')).to_contain_text('20 MB')

    writer.locator('textarea[data-testid=composer]').fill('Here are my files')
    writer.locator('[data-testid=send]').click()
    expect(writer.locator(PENDING)).to_have_count(0)

    sent = reader.locator('[data-testid=message][data-role=user]')
    expect(sent.locator('[data-testid=attachment]')).to_have_count(4)
    images = sent.locator('[data-testid=attachment][data-media-type="image/png"]')
    expect(images).to_have_count(2)
    expect(images.first).to_have_attribute('target', '_blank')
    reader.wait_for_function("""() => [...document.querySelectorAll(
        '[data-testid=message] [data-testid=attachment] img')].every((img) => img.complete && img.naturalWidth > 0)""")
    chip = sent.locator('[data-testid=attachment][data-media-type="text/markdown"]')
    expect(chip).to_contain_text('notes.md')
    expect(chip).to_contain_text('Markdown')
    served = reader.evaluate('(url) => fetch(url).then(async (r) => [r.status, r.headers.get("content-disposition"), '
                             'await r.text()])', chip.get_attribute('href'))
    assert served[0] == 200 and served[1].startswith('attachment;') and served[2].startswith('# Notes')
    expect(sent.locator('[data-testid=attachment][data-media-type="text/plain"]')).to_contain_text('dropped.txt')
    reply = reader.locator('[data-testid=message][data-role=assistant][data-status=complete]')
    expect(reply).to_contain_text('You attached 4 files')
    expect(reply).to_contain_text('notes.md (text/markdown, 31 B)')

    reader.reload()  # a refresh shows the files again, the images loaded
    reader.wait_for_selector('[data-testid=connection][data-state=live]')
    sent = reader.locator('[data-testid=message][data-role=user]')
    expect(sent.locator('[data-testid=attachment]')).to_have_count(4)
    expect(sent.locator('[data-testid=attachment][data-media-type="image/png"] img')).to_have_count(2)
    reader.wait_for_function("""() => [...document.querySelectorAll(
        '[data-testid=message] [data-testid=attachment] img')].every((img) => img.complete && img.naturalWidth > 0)""")
    expect(sent.locator('[data-testid=attachment][data-media-type="text/markdown"]')).to_contain_text('notes.md')
    assert not reader.page_errors and not writer.page_errors  # type: ignore[attr-defined]


def test_an_image_too_large_to_upload_is_scaled_down_in_the_browser(site: str, browser: Browser,
                                                                     tmp_path: Path) -> None:
    """Regression: an image over 20 MB, or over the server's 50 megapixels, was refused; the issue asks for images too
    large to be scaled down rather than refused. The browser sends a JPEG of at most 1568 px a side instead."""
    room = 'attach-huge'
    (tmp_path / 'noise.png').write_bytes(noise(2700, 2700))  # 21.9 MB
    (tmp_path / 'wide.png').write_bytes(png(9000, 6000, (30, 90, 200)))  # 54 megapixels, a small file
    assert (tmp_path / 'noise.png').stat().st_size > 20 * 2**20
    writer = composer_page(browser, site, room)
    writer.set_input_files('[data-testid=attach-input]', [tmp_path / 'noise.png', tmp_path / 'wide.png'])
    expect(writer.locator(f'{PENDING}[data-state=ready]')).to_have_count(2, timeout=30_000)
    expect(writer.locator('[data-testid=attachment-error]')).to_be_hidden()
    expect(writer.locator(PENDING).filter(has_text='noise.jpg')).to_contain_text('JPEG')
    writer.locator('textarea[data-testid=composer]').fill('Two big pictures')
    writer.locator('[data-testid=send]').click()
    expect(writer.locator(PENDING)).to_have_count(0)
    with urllib.request.urlopen(f'{site}/api/rooms/{room}/messages', timeout=5) as response:
        sent = json.loads(response.read())['messages'][0]['attachments']
    assert sorted((a['name'], a['media_type']) for a in sent) == [('noise.jpg', 'image/jpeg'),
                                                                  ('wide.jpg', 'image/jpeg')]
    for attachment in sent:
        with urllib.request.urlopen(site + attachment['url'], timeout=5) as response:
            with Image.open(io.BytesIO(response.read())) as picture:
                assert max(picture.size) == 1568, picture.size
    assert not writer.page_errors  # type: ignore[attr-defined]


def noise(width: int, height: int) -> bytes:
    """A PNG that does not compress: as large as its pixels."""
    out = io.BytesIO()
    Image.frombytes('RGB', (width, height), os.urandom(width * height * 3)).save(out, 'PNG', compress_level=1)
    return out.getvalue()


@pytest.mark.parametrize('scheme', ['light', 'dark'])
def test_screenshots_of_a_message_with_attachments(site: str, browser: Browser, scheme: str, tmp_path: Path) -> None:
    room = f'attach-shots-{scheme}'
    (tmp_path / 'sunset.png').write_bytes(png(1600, 900, (240, 150, 60)))
    (tmp_path / 'tall.png').write_bytes(png(300, 900, (60, 140, 90)))
    (tmp_path / 'quarterly report with a rather long file name.pdf').write_bytes(
        b'%PDF-1.4\ntrailer<<>>\n%%EOF\n')
    (tmp_path / 'main.py').write_text('print("hello")\n')
    writer = composer_page(browser, site, room, color_scheme=scheme)
    writer.set_input_files('[data-testid=attach-input]', sorted(tmp_path.iterdir()))
    expect(writer.locator(f'{PENDING}[data-state=ready]')).to_have_count(4)
    folder = Path(os.environ.get('ROOMS_SHOTS') or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    writer.set_viewport_size({'width': 390, 'height': 844})
    writer.screenshot(path=str(folder / f'attach-{scheme}-pending-390.png'))
    writer.locator('textarea[data-testid=composer]').fill('The sunset, the report and the script.')
    writer.locator('[data-testid=send]').click()

    context = browser.new_context(color_scheme=scheme)
    reader = open_room(context, f'{site}/room/{room}')
    if scheme == 'dark':
        reader.evaluate("localStorage.setItem('rooms-theme', 'dark')")
        reader.reload()
        reader.wait_for_selector('body.body--dark [data-testid=connection][data-state=live]')
    sent = reader.locator('[data-testid=message][data-role=user]')
    expect(sent.locator('[data-testid=attachment]')).to_have_count(4)
    expect(reader.locator('[data-testid=message][data-role=assistant][data-status=complete]')).to_have_count(1)
    reader.wait_for_function("""() => [...document.querySelectorAll('[data-testid=attachment] img')]
        .every((img) => img.complete && img.naturalWidth > 0)""")
    for width, height in ((390, 844), (1280, 800)):
        reader.set_viewport_size({'width': width, 'height': height})
        sent.evaluate('(e) => { e.scrollIntoView({block: "start"}); window.scrollBy(0, -110) }')  # below the header
        reader.wait_for_timeout(300)
        path = folder / f'attach-{scheme}-{width}.png'
        reader.screenshot(path=str(path))
        assert path.stat().st_size > 10_000
        box = sent.bounding_box()
        assert box is not None and box['x'] + box['width'] <= width, 'the message fits the screen'
        for attachment in sent.locator('[data-testid=attachment]').all():
            inner = attachment.bounding_box()
            assert inner is not None and inner['x'] + inner['width'] <= box['x'] + box['width'] + 1
