"""`python main.py --native` under Xvfb: a real Qt window shows the live home page, and closing it saves the rooms."""
from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import time
from pathlib import Path

import httpx
import pytest
from browser_support import AppProcess, chromium, running_app
from x11_support import close_window, find_window, listens_on_all_interfaces, screenshot, window_title, xvfb

TOKEN = 'native-token-0123456789'
HEADER = (30, 41, 59)
"""The header's colour (Tailwind slate-800)."""
LIVE_DOT = (62, 207, 110)
"""The connection dot once the page's socket is connected (rooms.css)."""
DEMO_BANNER = (255, 247, 214)
LONG_QUESTION = '\n'.join(' '.join(f'word{line}x{i}' for i in range(120)) for line in range(6))
"""The demo model quotes the question, so this makes its reply long enough to still stream when the window closes."""


def _missing() -> str | None:
    if not sys.platform.startswith('linux'):
        return 'the native window test runs on Linux under Xvfb'
    if importlib.util.find_spec('webview') is None or importlib.util.find_spec('qtpy') is None:
        return "pywebview with Qt is not installed: pip install -e '.[native]'"
    if importlib.util.find_spec('PyQt6') is None:
        return "PyQt6 is not installed: pip install -e '.[native]'"
    for tool, package in (('Xvfb', 'xvfb'), ('xdotool', 'xdotool'), ('xwd', 'x11-apps')):
        if shutil.which(tool) is None:
            return f'{tool} is missing: apt-get install {package}'
    return None


pytestmark = [pytest.mark.skipif(_missing() is not None, reason=_missing() or ''), pytest.mark.browser]


def near(colour: tuple[int, int, int], target: tuple[int, int, int], tolerance: int = 10) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour, target, strict=True))


@pytest.mark.parametrize('share', [False, True], ids=['native', 'native-share'])
def test_native_window_shows_the_live_home_page_and_closing_it_saves_rooms(share: bool, tmp_path: Path) -> None:
    data = tmp_path / 'data'
    args = ['--native', '--model', 'demo', *(['--share', '--token', TOKEN] if share else [])]
    with xvfb() as display:
        app = AppProcess(data, *args, env={'DISPLAY': display, 'QT_QPA_PLATFORM': 'xcb'})
        try:
            window, _ = find_window(display, '^Rooms$|· Rooms$', timeout=90)
            shot = wait_for_live_home_page(display, window, tmp_path / f'native-{"share" if share else "plain"}.png')
            assert any(near(c, DEMO_BANNER) for c in shot.colours()), 'the demo banner is not shown'
            room = 'desk'
            if share:
                # the window got in with the token (its page is live); the LAN is served while it is open
                assert listens_on_all_interfaces(app.port)
                assert httpx.get(f'{app.url}/api/rooms').status_code == 401
            post_and_wait_for_streaming(app, room, token=TOKEN if share else None)
            close_window(display, window)
            app.process.wait(60)
            assert app.process.returncode == 0, app.log
            assert 'Traceback' not in app.log, app.log
        finally:
            app.stop()
    with running_app(data, '--model', 'demo') as again:
        messages = again.messages(room)
    assert [m['role'] for m in messages] == ['user', 'assistant']
    reply = messages[1]
    # `stopped` (not `interrupted`): the shutdown ran and saved the reply in the middle of its stream
    assert reply['status'] == 'stopped', reply
    assert reply['content'].startswith('**Demo model**')


def wait_for_live_home_page(display: str, window: int, png: Path, timeout: float = 90):
    """The window's title follows the page, and its header shows the green "live" dot of a connected socket."""
    deadline = time.monotonic() + timeout
    title, shot = '', None
    while time.monotonic() < deadline:
        title = window_title(display, window)
        if re.search(r'· Rooms$', title) and 'Token required' not in title:
            shot = screenshot(display, window)
            top = [shot.pixel(x, y) for y in range(0, 30, 2) for x in range(0, shot.width, 4)]
            header_share = sum(near(c, HEADER) for c in top) / len(top)
            if header_share > 0.5 and any(near(c, LIVE_DOT, 25) for c in top):
                shot.save_png(png)
                return shot
        time.sleep(1)
    if shot is not None:
        shot.save_png(png)
    raise AssertionError(f'the window never showed the live home page (title {title!r}, screenshot {png})')


def post_and_wait_for_streaming(app: AppProcess, room: str, token: str | None) -> None:
    """A second person posts through Chromium; returns while the demo reply is still streaming."""
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f'{app.url}/room/{room}' + (f'?token={token}' if token else ''))
        page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=15_000)
        name_input = page.locator('[data-testid=name-input]')
        if name_input.count():
            name_input.fill('Desk')
            page.click('[data-testid=name-save]')
        composer = page.locator('textarea[data-testid=composer]')
        composer.fill(LONG_QUESTION)
        composer.press('Enter')
        page.wait_for_function("document.querySelector('[data-testid=message][data-role=assistant]')"
                               "?.innerText.length > 200", timeout=15_000)
        assert page.locator('[data-testid=message][data-role=assistant][data-status=streaming]').count() == 1
