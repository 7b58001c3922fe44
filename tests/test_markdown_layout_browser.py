"""Wide Markdown in a reply, in real Chromium at phone and desktop size, light and dark (issue 12): code blocks with a
header (language, Copy) that never covers the code and scroll inside the message, tables in a box that scrolls
with words never broken mid-letter, long words and URLs wrapped, math at the size of the text, no page-level
horizontal scroll, message text at 15-16 px. Screenshots of each go to the test's temporary directory
(ROOMS_SCREENSHOTS=dir keeps them)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from browser_support import AppProcess, open_room, send
from playwright.sync_api import Browser

from chat.bench.fake_anthropic import FakeAnthropic

pytestmark = pytest.mark.browser

LONG_LINE = 'print("' + 'a very long line of code that never wraps, ' * 7 + '")'
WIDE = f'''A table, a long code line, a long URL, a long word and math:

| Language | Internationalization | What it is known for | Year |
|---|---|---|---|
| Python | Internationalization | Readable code and a batteries-included standard library used everywhere | 1991 |
| Rust | Localization | Memory safety without a garbage collector, and a helpful compiler | 2015 |

```python
{LONG_LINE}
def short():
    return 1
```

See https://example.com/{'very-long-path-segment-' * 8}end for more, or
Pneumonoultramicroscopicsilicovolcanoconiosis{'Supercalifragilistic' * 4}.

Euler: $e^{{i\\pi}} + 1 = 0$ in a sentence, and a block:

$$
\\int_0^1 x^2 \\, dx = \\frac{{1}}{{3}}
$$
'''

CHECK_JS = '''() => {
  const replies = document.querySelectorAll('[data-testid=message][data-role=assistant] [data-testid=message-content]');
  const content = replies[replies.length - 1];
  const box = content.getBoundingClientRect();
  const inside = (r) => r.left >= box.left - 1 && r.right <= box.right + 1;
  const code = content.querySelector('.rb-code');
  const pre = code.querySelector('pre'), copy = code.querySelector('[data-testid=code-copy]');
  const [p, c] = [pre.getBoundingClientRect(), copy.getBoundingClientRect()];
  const table = content.querySelector('.rb-table');
  const cells = [...table.querySelectorAll('td, th')];
  const lines = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
  };
  const size = (el) => parseFloat(getComputedStyle(el).fontSize);
  const oneWordCells = cells.filter((cell) => !/\\s/.test(cell.textContent.trim()));
  const math = content.querySelector('.rb-math:not(.rb-math-block) math');
  return {
    pageScroll: document.documentElement.scrollWidth - window.innerWidth,
    contentInside: box.right <= window.innerWidth + 1 && box.left >= -1,
    codeInside: inside(code.getBoundingClientRect()),
    preScrolls: pre.scrollWidth > pre.clientWidth,
    copyOverCode: !(c.bottom <= p.top || c.top >= p.bottom || c.right <= p.left || c.left >= p.right),
    language: code.querySelector('.rb-code-lang').textContent,
    tableInside: inside(table.getBoundingClientRect()),
    brokenWords: oneWordCells.filter((cell) => lines(cell) > 1).map((cell) => cell.textContent),
    paragraphsInside: [...content.querySelectorAll('p')].every((el) => inside(el.getBoundingClientRect())),
    mathRatio: math ? size(math) / size(math.closest('p')) : null,
    textSizes: [content, document.querySelector('[data-testid=message][data-role=user] [data-testid=message-content]')]
      .map((el) => size(el.querySelector('p') || el)),
  };
}'''


@pytest.mark.parametrize('scheme', ['light', 'dark'])
@pytest.mark.parametrize('size', [(390, 844), (1280, 800)], ids=['phone', 'desktop'])
def test_wide_markdown_stays_inside_the_message(app: AppProcess, fake: FakeAnthropic, browser: Browser,
                                                 size: tuple[int, int], scheme: str, tmp_path: Path) -> None:
    width, height = size
    context = browser.new_context(viewport={'width': width, 'height': height}, color_scheme=scheme)  # type: ignore[arg-type]
    try:
        room = f'wide-{width}-{scheme}'
        page = open_room(context, f'{app.url}/room/{room}')
        fake.enqueue_text([WIDE[:200], WIDE[200:]])
        send(page, 'Show me wide things')
        page.wait_for_selector('[data-testid=message][data-role=assistant][data-status=complete]')
        page.wait_for_function('''() => document.querySelectorAll('[data-testid=message-content] math').length >= 2
            && document.querySelector('[data-testid=message-content] pre code.hljs') !== null''', timeout=15_000)
        page.wait_for_timeout(300)  # the last throttled render and the scroll that follows it
        found = page.evaluate(CHECK_JS)
        shots = Path(os.environ.get('ROOMS_SCREENSHOTS', tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f'markdown-{width}-{scheme}.png'))
        page.locator('[data-testid=message][data-role=assistant]').last.screenshot(
            path=str(shots / f'markdown-{width}-{scheme}-message.png'))
        assert found['pageScroll'] <= 0, found
        assert all(found[key] for key in ('contentInside', 'codeInside', 'tableInside', 'paragraphsInside')), found
        assert found['preScrolls'], 'the long code line scrolls inside its block'
        assert not found['copyOverCode'], found
        assert found['language'] == 'python'
        assert found['brokenWords'] == [], found
        assert 0.95 <= found['mathRatio'] <= 1.3, found
        assert len(found['textSizes']) == 2 and all(15 <= px <= 16 for px in found['textSizes']), \
            f"a message's text is 15-16 px (was 14): {found['textSizes']}"
        assert page.page_errors == []  # type: ignore[attr-defined]
    finally:
        context.close()
