"""Hostile input through the real app in real Chromium: nothing a user or the model writes ever runs.

`python main.py` runs against a loopback fake of the Anthropic API. People send a corpus of hostile payloads, and the
model streams them back cut at awkward chunk boundaries; two tabs watch live, then reload. A MutationObserver that
every page gets before its own scripts records any forbidden element or attribute that reaches a message body, even
for a moment, so a payload that is only dangerous half-rendered is caught too.
"""
from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest
from browser_support import AppProcess
from playwright.sync_api import Browser, BrowserContext, Page

from chat.bench.fake_anthropic import FakeAnthropic
from chat.ui.room_page import PAGE_SIZE

pytestmark = pytest.mark.browser

HUGE = '<b>' + 'A' * 30_000 + '<img src=x onerror="window.__pwned=\'huge\';alert(\'huge\')"> ' + 'B' * 20_000
"""One line of 50 kB with an injection in the middle (under the 100,000 character message limit)."""

HOSTILE = [
    '<script>window.__pwned="script";alert("script")</script>',
    '<ScRiPt >window.__pwned="case"</sCrIpT>',
    '<scr<script>ipt>window.__pwned="nested-script"</scr</script>ipt>',
    '<img src=x onerror="window.__pwned=\'img\';alert(\'img\')">',
    '<img src="x` `<script>window.__pwned=\'backtick\'</script>"` `>',
    '<svg onload="window.__pwned=\'svg\'"><circle r="1"/></svg>',
    '<svg><animate onbegin="window.__pwned=\'animate\'" attributeName=x dur=1s /></svg>',
    '<svg><a xlink:href="javascript:window.__pwned=\'svg-link\'"><text y=20>x</text></a></svg>',
    '<details open ontoggle="window.__pwned=\'details\';alert(\'details\')"><summary>s</summary></details>',
    '<body onload="window.__pwned=\'body\'">body</body>',
    '<video src=x onerror="window.__pwned=\'video\'"></video><audio src=x onerror="window.__pwned=\'audio\'">',
    '<video poster="http://tracker.invalid/poster.png"><source src="http://tracker.invalid/v.mp4"></video>',
    '[markdown link](javascript:window.__pwned=\'md-js\')',
    '[mixed case](JaVaScRiPt:window.__pwned=\'md-case\')',
    '[spaced]( javascript:window.__pwned=\'md-space\' ) [angle](<javascript:window.__pwned=\'md-angle\'>)',
    '[vb](vbscript:msgbox("vb")) <a href="vbscript:msgbox(1)">vb html</a>',
    '[data link](data:text/html;base64,PHNjcmlwdD53aW5kb3cuX19wd25lZD0nZGF0YSc8L3NjcmlwdD4=)',
    '<a href="data:text/html,<script>window.__pwned=\'data-html\'</script>">data html</a>',
    '<a href="javascript:window.__pwned=\'html-js\'">html link</a>',
    '[entities](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;window.__pwned=\'ent\')',
    '[hex entity](&#x6A;avascript&colon;window.__pwned=\'hex\') [tab](java&#9;script:window.__pwned=\'tab\')',
    '[padded](&#0000106avascript:window.__pwned=\'pad\') [nul](java\x00script:window.__pwned=\'nul\')',
    '<javascript:window.__pwned=\'autolink\'> <vbscript:msgbox(1)>',
    '[evil]: javascript:window.__pwned=\'ref\'\n[pixel]: http://tracker.invalid/ref-pixel.gif\n'
    '[ref link][evil] and ![ref image][pixel]',
    '![tracking pixel](http://tracker.invalid/pixel.gif?who=everyone)',
    '![js image](javascript:window.__pwned=\'img-js\') ![svg image](data:image/svg+xml;base64,'
    'PHN2ZyBvbmxvYWQ9ImFsZXJ0KDEpIi8+)',
    '![x](x" onerror="window.__pwned=\'img-attr\') ![y](https://tracker.invalid/y.png "t\\" onload=\\"alert(1)")',
    '<img src="http://tracker.invalid/html-pixel.gif"><img srcset="http://tracker.invalid/s.gif 1x">',
    '<iframe src="javascript:parent.__pwned=\'iframe\'"></iframe>',
    '<iframe srcdoc="<script>parent.__pwned=\'srcdoc\'</script>"></iframe><frameset><frame src=x>',
    '<form action="http://tracker.invalid/f"><input name=q autofocus onfocus="window.__pwned=\'input\'">'
    '<button formaction="javascript:window.__pwned=\'button\'">go</button></form>',
    '<style>*{background:url(http://tracker.invalid/css.png)} body{display:none}</style>',
    '<p style="background:url(http://tracker.invalid/s.png);position:fixed;inset:0;z-index:9999">cover</p>',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__pwned=\'meta\'">',
    '<base href="http://tracker.invalid/">[relative](page.html)',
    '<link rel=stylesheet href="http://tracker.invalid/l.css"><link rel=prefetch href="http://tracker.invalid/p">',
    '<object data="javascript:window.__pwned=\'object\'"></object><embed src="http://tracker.invalid/e.swf">',
    '<div onclick="window.__pwned=\'div\'" onmouseover="window.__pwned=\'div\'">hover me</div>',
    '<x-evil onmouseover="window.__pwned=\'custom\'">custom</x-evil>'
    '<marquee onstart="window.__pwned=\'mq\'">m</marquee>',
    '&lt;script&gt;window.__pwned="entity"&lt;/script&gt; &#60;img src=x onerror=alert(1)&#62;',
    '<!--><img src=x onerror="window.__pwned=\'comment\'">-->',
    '<noscript><p title="</noscript><img src=x onerror=window.__pwned=\'noscript\'>">',
    '<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=\'mxss\'></style></mglyph></table>',
    '<template><script>window.__pwned="template"</script></template>',
    '<img src=x onerror=window.__pwned=\'unclosed\'',
    '<a href="javascript:window.__pwned=\'unclosed-a\'" [unclosed md](javascript:alert(1)',
    '**<img src=x onerror=window.__pwned=\'bold\'>** _<svg onload=alert(1)>_ `<script>alert(1)</script>`',
    '> <script>window.__pwned="quote"</script>\n> ![q](http://tracker.invalid/quote.png)',
    '- [ ] <button onclick="window.__pwned=\'task\'">task</button>\n- [x] [done](javascript:alert(1))',
    '| a | b |\n|---|---|\n| <img src=x onerror=window.__pwned=\'table\'> | ![t](http://tracker.invalid/t.png) |',
    '```html\n<script>window.__pwned="fence"</script>\n```\n\n```"><img src=x onerror=alert(1)>\ncode\n```',
    '[title](https://ok.invalid "x\\" onmouseover=\\"window.__pwned=\'title\'")',
    '<a href="https://ok.invalid" onclick="window.__pwned=\'anchor\'" style="position:fixed;inset:0">cover</a>',
    '<table background="http://tracker.invalid/bg.png"><tr><td>t</td></tr></table>',
    '<isindex type=image src=1 onerror=window.__pwned=\'isindex\'><keygen autofocus onfocus=alert(1)>',
    HUGE,
]
TRACKER_IMAGES = {
    'http://tracker.invalid/pixel.gif?who=everyone': '🖼 tracking pixel',
    'http://tracker.invalid/ref-pixel.gif': '🖼 ref image',
    'http://tracker.invalid/quote.png': '🖼 q',
    'http://tracker.invalid/t.png': '🖼 t',
}
"""Markdown images of the corpus that must show as links (href -> text) instead of loading."""
HOSTILE_TITLES = [
    '</title><script>window.__pwned="title"</script><img src=x onerror=alert(1)>',
    '<svg onload=alert(1)> {{ 7*7 }} ${alert(1)} <b>bold</b>',
    '"><iframe src=javascript:alert(1)> &lt;escaped&gt;',
]
"""Room titles the model suggests (at most 80 characters, as the app keeps them)."""
ROOM_TEXTS = PAGE_SIZE // 2
"""User messages per room: with their replies, as many messages as a room page shows at first."""

# Installed in every page before its own scripts. Records anything forbidden that enters a message body, at once.
WATCHER = r'''
(() => {
  const BAD_TAGS = new Set(['script', 'iframe', 'frame', 'frameset', 'form', 'button', 'input', 'textarea', 'select',
    'option', 'keygen', 'isindex', 'style', 'link', 'object', 'embed', 'applet', 'meta', 'base', 'svg', 'math',
    'img', 'image', 'video', 'audio', 'source', 'track', 'picture', 'template', 'noscript', 'marquee']);
  const BAD_ATTRS = new Set(['style', 'src', 'srcset', 'srcdoc', 'action', 'formaction', 'background', 'poster',
    'xlink:href', 'ping', 'http-equiv']);
  const CONTENT = '[data-testid=message-content]';
  function problems(root) {
    const found = [];
    for (const el of [root, ...root.querySelectorAll('*')]) {
      const tag = el.localName;
      const copyButton = tag === 'button' && el.matches('.rb-code > .rb-code-head > button.rb-copy');
      if (BAD_TAGS.has(tag) && !copyButton) found.push('<' + tag + '>');
      for (const a of el.attributes) {
        const value = a.value.replace(/[\u0000-\u0020\u00a0]/g, '').toLowerCase();
        if (/^on/i.test(a.name) || BAD_ATTRS.has(a.name.toLowerCase())) found.push(tag + ' ' + a.name + '=' + a.value);
        else if (/^(javascript|vbscript|data|file):/.test(value)) found.push(tag + ' ' + a.name + '=' + a.value);
      }
      if (tag === 'a' && el.hasAttribute('href') && !/^(https?|mailto):$/.test(el.protocol)) {
        found.push('a href=' + el.href);
      }
    }
    return found;
  }
  window.__hostileProblems = (selector) =>
    [...document.querySelectorAll(selector || CONTENT)].flatMap((el) => problems(el).slice(0, 5));
  const seen = [];
  window.__hostileSeen = () => seen.slice(0, 20);
  new MutationObserver((records) => {
    for (const record of records) {
      const target = record.target.nodeType === 1 ? record.target : record.target.parentElement;
      if (!target || !target.closest(CONTENT)) continue;
      if (record.type === 'attributes') seen.push(...problems(target).map((p) => 'attribute change: ' + p));
      for (const node of record.addedNodes) if (node.nodeType === 1) seen.push(...problems(node));
    }
  }).observe(document, { subtree: true, childList: true, attributes: true });
})();
'''


@dataclass
class Tab:
    page: Page
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    loads: int = 0


@dataclass
class Session:
    """Browser context of one test: its tabs, every request any of them made."""

    context: BrowserContext
    requests: list[str] = field(default_factory=list)
    tabs: list[Tab] = field(default_factory=list)

    def open(self, url: str) -> Tab:
        page = self.context.new_page()
        tab = Tab(page)
        page.on('dialog', lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
        page.on('pageerror', lambda error: tab.errors.append(str(error)))
        page.on('load', lambda _: setattr(tab, 'loads', tab.loads + 1))
        page.goto(url)
        page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=15_000)
        self.tabs.append(tab)
        return tab



@pytest.fixture
def session(browser: Browser) -> Iterator[Session]:
    context = browser.new_context()
    context.add_init_script(WATCHER)
    result = Session(context)
    context.on('request', lambda request: result.requests.append(request.url))
    context.on('websocket', lambda socket: result.requests.append(socket.url))
    yield result
    context.close()


def test_corpus_is_big_enough() -> None:
    assert len(HOSTILE) >= 30
    assert len(set(HOSTILE)) == len(HOSTILE)


def test_hostile_user_messages_are_shown_as_text_and_never_run(app: AppProcess, fake: FakeAnthropic,
                                                              session: Session) -> None:
    """Each payload starts a message of its own once, then they come in batches; the fake echoes them back.

    The texts are spread over a few rooms so that every message of a room is on its first page.
    """
    short = [p for p in HOSTILE if p is not HUGE]
    batches = [' '.join(short[i:i + 14]) for i in range(0, len(short), 14)]  # inline
    batches += ['\n'.join(short[i:i + 14]) for i in range(7, len(short), 14)]  # lines of one paragraph
    texts = [*HOSTILE, *batches]
    first = second = None
    for number, start in enumerate(range(0, len(texts), ROOM_TEXTS)):
        room, room_texts = f'hostile-users-{number}', texts[start:start + ROOM_TEXTS]
        url = f'{app.url}/room/{room}'
        if first is None or second is None:
            first, second = session.open(url), session.open(url)
        else:
            for tab in (first, second):
                goto(tab, url)
        fake.enqueue_plain([HOSTILE_TITLES[number % len(HOSTILE_TITLES)]])  # the model names the room
        for index, text in enumerate(room_texts):
            send_and_wait(first if index % 2 == 0 else second, text, index + 1)
        count = len(room_texts)
        messages = app.wait_for(room, lambda ms, n=count: sum(m['role'] == 'user' for m in ms) == n and
                                ms[-1]['role'] == 'assistant' and ms[-1]['status'] == 'complete', timeout=60)
        assert [m['content'] for m in messages if m['role'] == 'user'] == [t.strip() for t in room_texts]
        for reload in (False, True):
            for tab in (first, second):
                if reload:
                    loads = tab.loads
                    goto(tab, url, reload=True)
                    assert tab.loads == loads + 1, 'something navigated the tab away'
                wait_rendered(tab, messages)
                assert_harmless(session, tab)
                assert_images_are_links(tab, [t for t in room_texts if t in HOSTILE])
                # raw HTML a person typed is shown as the text they typed
                content = tab.page.locator(f'[data-testid=message][data-message-id="{messages[0]["id"]}"] '
                                           '[data-testid=message-content]')
                if number == 0:
                    assert content.inner_text().strip() == HOSTILE[0]
                if reload:
                    assert tab.page.inner_text('[data-testid=page-title]') == room_title(app, room)
        assert app.messages(room)[-1]['status'] == 'complete'


def test_hostile_model_replies_streamed_in_awkward_chunks_never_run(app: AppProcess, fake: FakeAnthropic,
                                                                    session: Session) -> None:
    """The model streams every payload, cut at random places, while two tabs render each partial state."""
    room = 'hostile-model'
    url = f'{app.url}/room/{room}'
    first, second = session.open(url), session.open(url)
    rng = random.Random(3)
    short = [p for p in HOSTILE if p is not HUGE]
    replies = ['\n\n'.join(HOSTILE), ' '.join(short), ''.join(reversed(short))]
    sampled = 0
    for index, reply in enumerate(replies):
        fake.enqueue_text(awkward_chunks(reply, rng), delay=0.001)
        send_and_wait(first, f'Please repeat part {index}', index + 1)
        deadline = time.monotonic() + 60
        while (last := app.messages(room)[-1])['role'] != 'assistant' or last['status'] != 'complete':
            assert time.monotonic() < deadline, f'reply {index} never completed: {last}'
            for tab in (first, second):  # a look at the partial state; the watcher sees every one of them
                assert tab.page.evaluate('window.__pwned') is None
                sampled += 1
            time.sleep(0.05)
        assert last['content'] == reply
    assert sampled > 0
    messages = app.messages(room)
    for tab in (first, second):
        wait_rendered(tab, messages)
        assert_harmless(session, tab)
        assert_images_are_links(tab, HOSTILE)  # the first reply has each on its own
    for tab in (first, second):
        goto(tab, url, reload=True)
        wait_rendered(tab, messages)
        assert_harmless(session, tab)
        assert_images_are_links(tab, HOSTILE)  # the first reply has each on its own


def test_hostile_room_title_is_text_on_home_page_and_in_header(app: AppProcess, fake: FakeAnthropic,
                                                               session: Session) -> None:
    """The title comes first from the first message, then from the model: both hostile, both shown as text."""
    room = 'hostile-title'
    payload = '<img src=x onerror="window.__pwned=\'first\';alert(\'first\')"> <script>alert("t")</script>'
    suggested = HOSTILE_TITLES[0]
    fake.enqueue_plain([suggested])
    tab = session.open(f'{app.url}/room/{room}')
    send_and_wait(tab, payload, 1)
    deadline = time.monotonic() + 15
    while room_title(app, room) != suggested:
        assert time.monotonic() < deadline, f'the suggested title never came: {room_title(app, room)!r}'
        time.sleep(0.05)
    header = tab.page.locator('[data-testid=page-title]')
    header.filter(has_text=suggested).wait_for()  # live, in the open tab
    assert header.inner_text() == suggested
    tab.page.wait_for_function('t => document.title.includes(t)', arg=suggested, polling=50)
    goto(tab, '', reload=True)
    assert header.inner_text() == suggested
    assert suggested in tab.page.title()
    assert tab.page.locator('header img, header script, title script').count() == 0

    home = session.open(app.url)
    for room_id in (room, 'hostile-users-0'):
        card = home.page.locator(f'[data-testid=room-link][data-room-id={room_id}]')
        if room_id != room and not card.count():
            continue  # the other test's room, when it ran first
        assert room_title(app, room_id) in card.inner_text()
        assert card.locator('img, script, svg, iframe').count() == 0
    assert home.page.evaluate("window.__hostileProblems('[data-testid=room-link]')") == []
    for each in (tab, home):
        assert each.dialogs == [] and each.page.evaluate('window.__pwned') is None
        assert each.loads == (2 if each is tab else 1)
    assert_only_loopback(session)


def test_reference_image_defined_in_a_later_paragraph_is_a_link(app: AppProcess, session: Session) -> None:
    """Reference-style markdown (definitions at the end, as models write it) renders; the image is a link."""
    room = 'hostile-references'
    tab = session.open(f'{app.url}/room/{room}')
    send_and_wait(tab, 'See [the docs][d] and ![chart][c]\n\n[d]: https://docs.invalid/x\n'
                       '[c]: http://tracker.invalid/c.png', 1)
    messages = app.wait_for(room, lambda ms: ms and ms[-1]['role'] == 'assistant' and ms[-1]['status'] == 'complete')
    wait_rendered(tab, messages)
    assert_harmless(session, tab)
    body = tab.page.locator(f'[data-testid=message][data-message-id="{messages[0]["id"]}"] '
                            '[data-testid=message-content]')
    links = body.evaluate("el => [...el.querySelectorAll('a')].map(a => [a.getAttribute('href'), a.innerText])")
    assert ['https://docs.invalid/x', 'the docs'] in links
    assert ['http://tracker.invalid/c.png', '🖼 chart'] in links
    assert 'docs.invalid' not in body.inner_text(), 'a definition shows nothing'


# helpers ------------------------------------------------------------------------------------------------------


def send_and_wait(tab: Tab, text: str, user_messages: int) -> None:
    """Send from the composer and wait until the tab shows the message (so the next fill cannot overtake it)."""
    composer = tab.page.locator('textarea[data-testid=composer]')
    composer.fill(text)
    composer.press('Enter')
    tab.page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=message][data-role=user]').length >= n"
        " && !document.querySelector('textarea[data-testid=composer]').value", arg=user_messages, polling=20,
        timeout=15_000)


def room_title(app: AppProcess, room: str) -> str:
    return next((r['title'] for r in app.get_json('/api/rooms')['rooms'] if r['id'] == room), '')


def goto(tab: Tab, url: str, *, reload: bool = False) -> None:
    if reload:
        tab.page.reload()
    else:
        tab.page.goto(url)
    tab.page.wait_for_selector('[data-testid=connection][data-state=live]', timeout=15_000)


def wait_rendered(tab: Tab, messages: list[dict]) -> None:
    """Wait until the tab has every message and each body holds exactly the stored text; then let renders settle."""
    expected = {m['id']: m['content'] for m in messages}
    tab.page.wait_for_function('''expected => Object.entries(expected).every(([id, text]) => {
        const bodies = window.roomsBodies && window.roomsBodies.get(id);
        return bodies && [...bodies].every(b => b.getText() === text && b.renderTimer == null);
    })''', arg=expected, polling=50, timeout=30_000)
    tab.page.wait_for_timeout(100)  # renders are throttled; none is pending now, this is for good measure


def assert_harmless(session: Session, tab: Tab) -> None:
    page = tab.page
    # poke every element of every message with the events the payloads' handlers wait for
    page.evaluate('''() => { for (const el of document.querySelectorAll('[data-testid=message-content] *')) {
        for (const type of ['mouseover', 'focus', 'toggle', 'load', 'error', 'begin', 'start']) {
            el.dispatchEvent(new Event(type));
        }
    } }''')
    page.wait_for_timeout(100)
    assert tab.dialogs == [], tab.dialogs
    assert page.evaluate('window.__pwned') is None
    assert page.evaluate('window.__hostileProblems()') == []
    assert page.evaluate('window.__hostileSeen()') == [], 'a forbidden node was in a message body for a moment'
    assert tab.errors == []
    assert_only_loopback(session)


def assert_only_loopback(session: Session) -> None:
    remote = [url for url in session.requests if urlparse(url).hostname != '127.0.0.1']
    assert remote == []


def assert_images_are_links(tab: Tab, payloads: list[str]) -> None:
    """Every tracker image of `payloads` (each rendered on its own somewhere) is a link with the image's alt text."""
    expected = {href: label for href, label in TRACKER_IMAGES.items() if any(href in p for p in payloads)}
    links = tab.page.evaluate('''() => [...document.querySelectorAll('[data-testid=message-content] a.rb-img')]
        .map(a => [a.getAttribute('href'), a.innerText, a.rel])''')
    for href, label in expected.items():
        assert [href, label, 'noopener noreferrer nofollow'] in links, (href, links)


def awkward_chunks(text: str, rng: random.Random) -> list[str]:
    """Cut `text` at random places (1 to 24 characters, bigger pieces for the huge line)."""
    chunks, start = [], 0
    while start < len(text):
        size = rng.randint(1, 24) if text[start] not in 'AB' else rng.randint(500, 4000)
        chunks.append(text[start:start + size])
        start += size
    return chunks
