"""MessageBody in real headless Chromium: markdown rendering, streamed deltas, resyncs and sanitising.

A throwaway NiceGUI app (tests/mb_app.py) runs as a subprocess; tests set up its messages and push deltas over
HTTP, and watch what the page renders.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port
from playwright.sync_api import Browser, Page, sync_playwright

pytestmark = pytest.mark.browser

PYTHON = Path(sys.executable)


class Server:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, path: str, data: Any = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(self.url + path, data=body, headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def setup(self, *msgs: dict[str, Any]) -> None:
        self.call('/setup', {'msgs': list(msgs)})

    def push(self, *deltas: tuple[str, int, str], store: bool = True) -> None:
        self.call('/push', {'deltas': [list(d) for d in deltas], 'store': store})

    def syncs(self, room: str) -> list[dict[str, Any]]:
        return [s for s in self.call('/syncs') if s.get('room') == room]

    def wait_syncs(self, room: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait until the room got `count` rooms_sync requests (the first one also joins the socket to the room)."""
        return wait_for(lambda: (s := self.syncs(room)) and len(s) >= count and s, timeout, f'{count} syncs of {room}')


def wait_for(check: Callable[[], Any], timeout: float = 10, what: str = 'condition') -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out waiting for {what}')
        time.sleep(0.05)


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    log = (tmp_path_factory.mktemp('mb') / 'app.log').open('w')
    # without pytest's variables: NiceGUI would otherwise think it runs inside its own test harness
    env = {k: v for k, v in os.environ.items() if not k.startswith('PYTEST_')}
    process = subprocess.Popen([str(PYTHON), 'tests/mb_app.py', str(port)], cwd=ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    srv = Server(f'http://127.0.0.1:{port}')

    def ready() -> bool:
        assert process.poll() is None, f'mb_app exited, see {log.name}'
        try:
            srv.call('/syncs')
            return True
        except OSError:
            return False

    try:
        wait_for(ready, 30, 'mb_app to start')
        yield srv
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope='module')
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Tab:
    page: Page
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def body(self, msgid: str) -> str:
        return f'[data-testid=body-{msgid}]'

    def text(self, msgid: str) -> str:
        """The body's local text (what deltas were applied to)."""
        return self.page.evaluate('id => [...window.roomsBodies.get(id)][0].getText()', msgid)

    def wait_text(self, msgid: str, expected: str, timeout: float = 10) -> None:
        wait_for(lambda: self.text(msgid) == expected, timeout, f'{msgid} == {expected!r}, is {self.text(msgid)!r}')

    def wait_shown(self, msgid: str, expected: str, timeout: float = 10) -> None:
        """Wait until the rendered text (throttled) contains `expected`."""
        locator = self.page.locator(self.body(msgid))
        wait_for(lambda: expected in locator.inner_text(), timeout, f'{msgid} to show {expected!r}')


@pytest.fixture
def tab(browser: Browser, server: Server) -> Iterator[Tab]:
    context = browser.new_context()
    context.grant_permissions(['clipboard-read', 'clipboard-write'], origin=server.url)
    page = context.new_page()
    t = Tab(page)
    page.on('request', lambda r: t.requests.append(r.url))
    page.on('dialog', lambda d: (t.dialogs.append(d.message), d.dismiss()))
    page.on('pageerror', lambda e: t.errors.append(str(e)))
    yield t
    context.close()
    assert not t.errors, t.errors


def open_room(tab: Tab, server: Server, room: str, syncs: int = 1) -> None:
    tab.page.goto(f'{server.url}/room/{room}')
    server.wait_syncs(room, syncs)  # the tab joined the room's broadcast group


def test_initial_text_renders_as_markdown(tab: Tab, server: Server) -> None:
    text = ('# Title\n\nSome **bold** and <b>raw</b> html.\nSecond line\n\n- one\n- two\n\n'
            '```python\nprint("hi")\n```\n\n[site](https://example.invalid/a) ![logo](http://tracker.invalid/l.png)')
    server.setup({'msgid': 'a1', 'room': 'r1', 'text': text, 'streaming': False})
    tab.page.add_init_script('document.addEventListener("rooms:rendered", () => (window.__renders = '
                             '(window.__renders || 0) + 1))')
    open_room(tab, server, 'r1')
    body = tab.page.locator(tab.body('a1'))
    assert 'rb' in body.get_attribute('class').split()
    assert body.locator('h1').inner_text() == 'Title'
    assert body.locator('strong').inner_text() == 'bold'
    assert body.locator('li').all_inner_texts() == ['one', 'two']
    assert 'Some bold and <b>raw</b> html.\nSecond line' in body.inner_text()  # raw HTML shown as typed, breaks on
    assert body.locator('b').count() == 0
    code = body.locator('pre code.language-python')
    assert code.inner_text().strip() == 'print("hi")'
    assert code.locator('span.hljs-built_in, span.hljs-string').count() >= 2, 'highlighted by its language'
    link = body.locator('a', has_text='site')
    assert link.get_attribute('href') == 'https://example.invalid/a'
    assert link.get_attribute('target') == '_blank'
    assert link.get_attribute('rel') == 'noopener noreferrer nofollow'
    image = body.locator('a.rb-img')
    assert image.inner_text() == '🖼 logo'
    assert image.get_attribute('href') == 'http://tracker.invalid/l.png'
    assert body.locator('img').count() == 0
    assert body.locator('.rb-done').count() == 1 and body.locator('.rb-tail').count() == 1
    assert tab.page.evaluate('window.__renders') >= 1  # rooms:rendered bubbled up to the document

    copy = body.locator('[data-testid=code-copy]')
    assert copy.count() == 1
    copy.click()
    wait_for(lambda: tab.page.evaluate('navigator.clipboard.readText()').strip() == 'print("hi")', 5, 'clipboard')
    assert not any(urlparse(u).hostname != '127.0.0.1' for u in tab.requests), tab.requests


def test_deltas_append_drop_duplicates_and_resync_gaps(tab: Tab, server: Server) -> None:
    server.setup({'msgid': 'b1', 'room': 'r2', 'text': '', 'streaming': True},
                 {'msgid': 'b2', 'room': 'r2', 'text': 'done before', 'streaming': False})
    open_room(tab, server, 'r2')
    assert server.syncs('r2')[0]['msgs'] == ['b1']  # only live messages are asked about
    server.push(('b1', 0, 'Hello'), ('b1', 5, ', '), ('b1', 7, 'world'))
    tab.wait_text('b1', 'Hello, world')
    server.push(('b1', 7, 'world'), ('b1', 12, '!'), ('b1', 12, '!'))  # a duplicate, a new chunk, again
    tab.wait_text('b1', 'Hello, world!')
    server.push(('b1', 10, 'ld!!?'))  # overlaps: only the part beyond the local text is new
    tab.wait_text('b1', 'Hello, world!!?')
    tab.wait_shown('b1', 'Hello, world!!?')

    # offsets count code points like Python's len(): an emoji is one, not two UTF-16 units
    server.push(('b1', 15, ' 🙂'), ('b1', 17, ' ok'), ('b1', 17, ' ok'))
    tab.wait_text('b1', 'Hello, world!!? 🙂 ok')

    # a gap: the tab missed text, asks for all of it and ends up with the server's text
    syncs_before = len(server.syncs('r2'))
    server.call('/truth', {'msgid': 'b1', 'text': 'Hello, world!!? 🙂 ok, missed, and the rest'})
    server.push(('b1', 28, ' and the rest'), store=False)
    syncs = server.wait_syncs('r2', syncs_before + 1)
    assert 'b1' in syncs[-1]['msgs'] and syncs[-1]['client_id']
    tab.wait_text('b1', 'Hello, world!!? 🙂 ok, missed, and the rest')
    tab.wait_shown('b1', 'missed, and the rest')
    # a message that got a delta counts as live from then on
    server.push(('b2', 11, '!'))
    tab.wait_text('b2', 'done before!')
    server.push(('b2', 99, 'gap'), store=False)
    assert set(server.wait_syncs('r2', syncs_before + 2)[-1]['msgs']) == {'b1', 'b2'}
    tab.wait_text('b2', 'done before!')


def test_offset_minus_one_and_server_replacements(tab: Tab, server: Server) -> None:
    server.setup({'msgid': 'c1', 'room': 'r3', 'text': 'first', 'streaming': True})
    open_room(tab, server, 'r3')
    server.push(('c1', 5, ' draft'))
    tab.wait_text('c1', 'first draft')
    server.push(('c1', -1, 'replaced *entirely*'))
    tab.wait_text('c1', 'replaced *entirely*')
    tab.wait_shown('c1', 'replaced entirely')
    assert tab.page.locator(tab.body('c1') + ' em').inner_text() == 'entirely'
    server.push(('c1', -1, ''))
    tab.wait_text('c1', '')

    # text recorded with set_text_silently() reaches the tab with the element's next update, and only then
    server.call('/replace', {'msgid': 'c1', 'text': 'from the server'})
    tab.wait_text('c1', 'from the server')
    server.call('/replace', {'msgid': 'c1', 'text': 'kept on the server only', 'silent': True})
    tab.page.wait_for_timeout(300)
    assert tab.text('c1') == 'from the server'


def test_fast_deltas_are_throttled_and_finished_blocks_kept(tab: Tab, server: Server) -> None:
    server.setup({'msgid': 'd1', 'room': 'r4', 'text': '', 'streaming': True})
    open_room(tab, server, 'r4')
    server.push(('d1', 0, 'First paragraph.\n\n'))
    tab.wait_text('d1', 'First paragraph.\n\n')
    server.push(('d1', 18, 'Second'))
    tab.wait_shown('d1', 'Second')
    done_p = '.rb-done > p'
    assert tab.page.locator(tab.body('d1') + ' ' + done_p).inner_text() == 'First paragraph.'
    tab.page.evaluate('sel => { document.querySelector(sel).__kept = true; window.__renders = 0; '
                      'document.addEventListener("rooms:rendered", () => window.__renders++); }',
                      tab.body('d1') + ' ' + done_p)
    streamed = ' paragraph, streamed one code point at a time. ' * 12 + '\n\n```js\nlet a = 1;\n\n\nlet b = 2;\n```\n'
    server.call('/burst', {'msgid': 'd1', 'text': streamed})
    tab.wait_text('d1', 'First paragraph.\n\nSecond' + streamed)
    tab.page.wait_for_function('window.__renders >= 1', timeout=5_000)  # throttled: on a busy machine it comes late
    tab.page.wait_for_timeout(100)
    renders = tab.page.evaluate('window.__renders')
    assert 1 <= renders < len(streamed) / 4, renders
    # the finished paragraph's DOM was never replaced, the fenced block with blank lines stayed in one piece
    assert tab.page.evaluate('sel => document.querySelector(sel).__kept === true', tab.body('d1') + ' ' + done_p)
    code = tab.page.locator(tab.body('d1') + ' pre code.language-js')
    assert code.count() == 1 and code.inner_text() == 'let a = 1;\n\n\nlet b = 2;\n'
    assert 'Second paragraph, streamed' in tab.page.locator(tab.body('d1')).inner_text()


def test_one_sync_per_room_on_load_and_again_on_reconnect(tab: Tab, server: Server) -> None:
    server.setup(*[{'msgid': f'e{i}', 'room': 'r5', 'text': f'm{i}', 'streaming': i % 2 == 0} for i in range(6)],
                 {'msgid': 'x1', 'room': 'other', 'text': 'elsewhere', 'streaming': True})
    open_room(tab, server, 'r5')
    tab.page.wait_for_timeout(500)
    syncs = server.syncs('r5')
    assert len(syncs) == 1 and sorted(syncs[0]['msgs']) == ['e0', 'e2', 'e4']
    assert server.syncs('other') == []

    # a reconnect is a new socket.io session: the tab joins the room again and catches up
    tab.page.evaluate('window.socket.io.engine.close()')
    server.wait_syncs('r5', 2)
    server.push(('e0', 2, ' after reconnect'))
    tab.wait_text('e0', 'm0 after reconnect')

    # a message added after the page loaded joins the stream too
    server.call('/add', {'msgs': [{'msgid': 'e9', 'room': 'r5', 'text': '', 'streaming': True}]})
    tab.page.get_by_test_id('add').click()
    synced = server.wait_syncs('r5', 3)
    assert 'e9' in synced[-1]['msgs']
    server.push(('e9', 0, 'late *but* live'))
    tab.wait_shown('e9', 'late but live')


HOSTILE = [
    '<script>window.__pwned = 1</script>',
    '<img src=x onerror="window.__pwned = 2">',
    '[click me](javascript:window.__pwned=3)',
    '<iframe src="javascript:parent.__pwned=4"></iframe>',
    '<svg onload="window.__pwned=5"><circle r="1"/></svg>',
    '<style>body { background: url(http://tracker.invalid/style.png) }</style>',
    '<form action="http://tracker.invalid/f"><button formaction="javascript:window.__pwned=7">go</button></form>',
    '<a href="javascript:window.__pwned=8">x</a>',
    '![pixel](http://tracker.invalid/pixel.png)',
    '[data](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0xMDwvc2NyaXB0Pg==)',
    '<details open ontoggle="window.__pwned=11">x</details>',
    '[entity](&#106;avascript:window.__pwned=12) [tab](java&#9;script:window.__pwned=12)',
    '<math><mi xlink:href="javascript:window.__pwned=13">x</mi></math>',
    '<javascript:window.__pwned=14>',
    '![js](javascript:window.__pwned=15) ![svg](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)',
    '[ref][r] and ![refimg][i]\n\n[r]: javascript:window.__pwned=16\n[i]: http://tracker.invalid/ref.png',
    '<object data="http://tracker.invalid/o.swf"></object><embed src="http://tracker.invalid/e.swf">',
    '<input autofocus onfocus="window.__pwned=18"><textarea>t</textarea><select><option>o</select>',
    '```"><img src=x onerror=window.__pwned=19>\ncode\n```',
    '[t](http://ok.invalid "x\\" onmouseover=\\"window.__pwned=20")',
    '<noscript><p title="</noscript><img src=x onerror=window.__pwned=21>">',
    '<base href="http://tracker.invalid/"><link rel="stylesheet" href="http://tracker.invalid/x.css">'
    '<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=22">',
    '&lt;script&gt;window.__pwned=23&lt;/script&gt; <<script>script>window.__pwned=23<</script>/script>',
    '<video poster="http://tracker.invalid/poster.png"><source src="http://tracker.invalid/v.mp4"></video>',
    '<a href="https://ok.invalid" onclick="window.__pwned=25" style="position:fixed;inset:0">cover</a>',
    '| a | b |\n|---|---|\n| <img src=x onerror=window.__pwned=26> | ![t](http://tracker.invalid/t.png) |',
    '- [ ] <button onclick="window.__pwned=27">task</button>\n- [x] done',
    '[tel](tel:123) [xmpp](xmpp:a@b.invalid) [file](file:///etc/passwd) [vb](vbscript:msgbox(1)) <mailto:a@b.invalid>',
]

FORBIDDEN_ELEMENTS = 'iframe, frame, script, style, form, svg, math, object, embed, img, input, textarea, select, ' \
                     'video, audio, source, link, meta, base'


def assert_harmless(tab: Tab, msgids: list[str]) -> None:
    page = tab.page
    # poke everything that could carry a handler
    page.evaluate('''() => { for (const el of document.querySelectorAll('.rb *')) {
        for (const type of ['mouseover', 'focus', 'toggle', 'load', 'error']) el.dispatchEvent(new Event(type));
    } }''')
    page.wait_for_timeout(300)
    assert tab.dialogs == []
    assert page.evaluate('window.__pwned') is None
    for msgid in msgids:
        assert page.locator(tab.body(msgid)).count() == 1, msgid
    found = page.evaluate('''sel => [...document.querySelectorAll('.rb')].flatMap(rb =>
        [...rb.querySelectorAll(sel)].map(el => el.outerHTML))''', FORBIDDEN_ELEMENTS)
    assert found == []
    buttons = page.evaluate('''() => [...document.querySelectorAll('.rb button')]
        .filter(b => !b.matches('.rb-code > .rb-code-head > button.rb-copy[data-testid=code-copy]'))
        .map(b => b.outerHTML)''')
    assert buttons == []
    bad_attributes = page.evaluate('''() => [...document.querySelectorAll('.rb, .rb *')].flatMap(el =>
        [...el.attributes].filter(a => /^on/i.test(a.name) || a.name === 'style'
            || /^\\s*(javascript|data|vbscript):/i.test(a.value))
        .map(a => el.tagName + ' ' + a.name + '=' + a.value))''')
    assert bad_attributes == []
    hrefs = page.evaluate('''() => [...document.querySelectorAll('.rb a[href]')].map(a => a.href)''')
    assert all(urlparse(h).scheme in {'http', 'https', 'mailto'} for h in hrefs), hrefs
    assert all(a == 'noopener noreferrer nofollow' for a in page.evaluate(
        '''() => [...document.querySelectorAll('.rb a')].map(a => a.rel)'''))
    assert page.locator('.rb a[href="http://tracker.invalid/pixel.png"]').inner_text() == '🖼 pixel'
    remote = [u for u in tab.requests if urlparse(u).hostname != '127.0.0.1']
    assert remote == []


def test_hostile_initial_text_is_harmless(tab: Tab, server: Server) -> None:
    assert len(HOSTILE) >= 15
    msgids = [f'h{i}' for i in range(len(HOSTILE))]
    server.setup(*[{'msgid': m, 'room': 'evil', 'text': p, 'streaming': False} for m, p in zip(msgids, HOSTILE,
                                                                                                strict=True)])
    open_room(tab, server, 'evil')
    tab.wait_shown('h0', '<script>window.__pwned = 1</script>')  # raw HTML is visible as text
    tab.wait_shown('h1', '<img src=x onerror="window.__pwned = 2">')
    assert_harmless(tab, msgids)


def test_hostile_streamed_text_is_harmless(tab: Tab, server: Server) -> None:
    msgids = [f's{i}' for i in range(len(HOSTILE))]
    server.setup(*[{'msgid': m, 'room': 'evil-s', 'text': '', 'streaming': True} for m in msgids])
    open_room(tab, server, 'evil-s')
    deltas = []
    for msgid, payload in zip(msgids, HOSTILE, strict=True):
        # small chunks, so that every partial state of each payload gets rendered too
        deltas += [(msgid, i, payload[i:i + 3]) for i in range(0, len(payload), 3)]
    server.push(*deltas)
    for msgid, payload in zip(msgids, HOSTILE, strict=True):
        tab.wait_text(msgid, payload)
    tab.wait_shown('s0', '<script>window.__pwned = 1</script>')
    tab.page.wait_for_timeout(200)  # let the last throttled renders happen
    assert_harmless(tab, msgids)



def test_a_long_paragraph_grows_token_by_token_and_ends_as_one_paragraph(tab: Tab, server: Server) -> None:
    """Guards the incremental render of a growing paragraph (kept tokens, text appended to its Text node, new words
    in an inline box of their own past 2,000 characters): what shows in the end is the Markdown of the whole text."""
    server.setup({'msgid': 'p1', 'room': 'r7', 'text': '', 'streaming': True})
    open_room(tab, server, 'r7')
    words = [f'word{i} is *here* and `there`, ' if i % 50 == 0 else f'plain{i} ' for i in range(500)]
    offset = 0
    for start in range(0, len(words), 25):
        chunk = ''.join(words[start:start + 25])
        server.push(('p1', offset, chunk))
        offset += len(chunk)
        tab.page.wait_for_timeout(30)
    text = ''.join(words)
    tab.wait_text('p1', text)
    body = tab.page.locator(tab.body('p1'))
    wait_for(lambda: body.locator('.rb-new').count() == 0 and 'plain499' in body.inner_text(), 5, 'the last render')
    assert body.locator('p').count() == 1
    assert body.locator('em').count() == body.locator('code').count() == 10
    assert ' '.join(body.inner_text().split()) == ' '.join(text.replace('*', '').replace('`', '').split())
