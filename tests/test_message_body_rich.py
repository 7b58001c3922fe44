"""Rich Markdown in MessageBody, in real Chromium: highlighted code and math, always harmless."""
from __future__ import annotations

import pytest
from test_message_body_browser import Server, Tab, open_room, server, tab, wait_for

pytestmark = pytest.mark.browser
__all__ = ['server', 'tab']


def test_highlighted_code_stays_text(tab: Tab, server: Server) -> None:
    """Highlighting writes escaped spans only: markup inside a fenced block is shown, never built."""
    text = ('```html\n<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>\n```\n\n'
            '```nosuchlang\nplain\n```')
    server.setup({'msgid': 'h1', 'room': 'r1', 'text': text, 'streaming': False})
    open_room(tab, server, 'r1')
    body = tab.page.locator(tab.body('h1'))
    wait_for(lambda: body.locator('code.language-html span').count() > 0, 5, 'html highlighted')
    assert '<script>window.__pwned=1</script>' in body.locator('code.language-html').inner_text()
    assert body.locator('img, script').count() == 0
    assert body.locator('code.language-nosuchlang').inner_text().strip() == 'plain'
    assert tab.page.evaluate('window.__pwned') is None


def test_math_renders_as_mathml_and_money_stays_text(tab: Tab, server: Server) -> None:
    """$...$ and $$...$$ become MathML (KaTeX, loaded on demand); prices and hostile TeX stay harmless."""
    text = ('Euler: $e^{i\\pi} + 1 = 0$ costs $5 and $10.\n\n$$\n\\sum_{k=1}^{n} k = \\frac{n(n+1)}{2}\n$$\n\n'
            'Bad: $\\href{javascript:window.__pwned=1}{click}$ and `$code$`')
    server.setup({'msgid': 'm1', 'room': 'r1', 'text': text, 'streaming': False})
    open_room(tab, server, 'r1')
    body = tab.page.locator(tab.body('m1'))
    wait_for(lambda: body.locator('math').count() == 3, 10, 'three formulas typeset')
    assert body.locator('.rb-math-block math[display=block]').count() == 1
    assert 'costs $5 and $10.' in body.inner_text()
    assert body.locator('code').inner_text() == '$code$'
    assert body.locator('a[href^="javascript"], [href*="javascript"]').count() == 0
    assert tab.page.evaluate('window.__pwned') is None


def test_a_math_block_with_blank_lines_is_one_formula(tab: Tab, server: Server) -> None:
    """Blocks are split at blank lines, but not inside $$ ... $$ (models put blank lines in aligned equations)."""
    text = 'Before.\n\n$$\na = b\n\nc = d\n$$\n\nAfter, with $$x$$ inline-style and a lone price $$5.'
    server.setup({'msgid': 'm2', 'room': 'r2', 'text': text, 'streaming': False})
    open_room(tab, server, 'r2')
    body = tab.page.locator(tab.body('m2'))
    wait_for(lambda: body.locator('.rb-math-block.rb-math-done').count() == 1, 10, 'the block typeset')
    paragraphs = body.locator('p').all_inner_texts()
    assert paragraphs[0] == 'Before.' and 'After, with' in paragraphs[-1]
    assert not [p for p in paragraphs if 'b' in p.split() or 'd' in p.split()], 'no half of the formula as text'
