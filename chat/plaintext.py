"""Markdown as the plain words a person reads, for titles and search snippets. Pure functions, no I/O.

Not a Markdown parser: line-by-line rules that drop the syntax a title or a one-line snippet should not show (tables,
headings, emphasis, code fences and backticks, links and images, quotes, list markers) and keep every word. HTML is
left as text: the message view shows it as text too.
"""
from __future__ import annotations

import re
from collections.abc import Callable

FENCE = re.compile(r'^ {0,3}(`{3,}|~{3,})')
RULE = re.compile(r'^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,}|=+[ \t]*)$')
"""A thematic break, or the underline of a setext heading."""
QUOTE = re.compile(r'^ {0,3}>[ \t]?')
LIST_MARKER = re.compile(r'^[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?')
HEADING = re.compile(r'^ {0,3}#{1,6}(?:[ \t]+|$)')
CLOSING_HASHES = re.compile(r'[ \t]+#+[ \t]*$')
TABLE_DELIMITER = re.compile(r'^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$')
REFERENCE_DEFINITION = re.compile(r'^ {0,3}\[[^\]]+\]:[ \t]*\S+.*$')
ESCAPED = re.compile(r'\\([!-/:-@\[-`{-~])')
CODE_SPAN = re.compile(r'(`+)(.+?)(?<!`)\1(?!`)')
ESCAPE_BASE = 0xE000
"""Escaped punctuation is parked on private-use characters while the rules run, so `\\*` never becomes emphasis."""
CODE_BASE = 0xE100
"""Code spans are parked too: their text is kept as it is, and emphasis around them still goes."""

INLINE: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r'!\[([^\]]*)\]\([^)]*\)'), r'\1'),  # an image: its alt text
    (re.compile(r'!\[([^\]]*)\]\[[^\]]*\]'), r'\1'),
    (re.compile(r'\[([^\]]+)\]\([^)]*\)'), r'\1'),  # a link: its text
    (re.compile(r'\[([^\]]+)\]\[[^\]]*\]'), r'\1'),
    (re.compile(r'<((?:https?|mailto|ftp):[^>\s]+)>'), r'\1'),  # an autolink
    (re.compile(r'(\*\*|__)(?=\S)(.+?)(?<=\S)\1'), r'\2'),
    (re.compile(r'~~(?=\S)(.+?)(?<=\S)~~'), r'\1'),
    (re.compile(r'(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])'), r'\1'),
    (re.compile(r'(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])'), r'\1'),
]


def plain_text(markdown: str) -> str:
    """The words of a Markdown text without its syntax, line by line (blank lines and table rules dropped)."""
    lines = [_unquoted(line) for line in markdown.splitlines()]  # a quote holds tables and code like the rest
    table_rows = _table_rows(lines)
    out: list[str] = []
    fence: str | None = None
    for index, line in enumerate(lines):
        if fence is not None:  # inside a code block: the code is the words
            if line.strip().startswith(fence):
                fence = None
            elif line.strip():
                out.append(line.strip())
            continue
        if (opened := FENCE.match(line)) is not None:
            fence = opened.group(1)
            continue
        text = _plain_line(line, index in table_rows)
        if text:
            out.append(text)
    return '\n'.join(out)


def _plain_line(line: str, in_table: bool) -> str:
    line = ESCAPED.sub(lambda m: chr(ESCAPE_BASE + ord(m.group(1))), line)
    if RULE.match(line) or REFERENCE_DEFINITION.match(line) or (in_table and TABLE_DELIMITER.match(line)):
        return ''
    if (heading := HEADING.match(line)) is not None:
        line = CLOSING_HASHES.sub('', line[heading.end():])
    line = LIST_MARKER.sub('', line)
    if in_table:
        line = ' '.join(cell.strip() for cell in line.strip().strip('|').split('|'))
    spans: list[str] = []

    def parked(span: re.Match[str]) -> str:  # code keeps its text as it is, backslashes included
        spans.append(_restored(span.group(2).strip(), escaped=True))
        return chr(CODE_BASE + len(spans) - 1)
    line = _inline(CODE_SPAN.sub(parked, line)).translate({CODE_BASE + n: span for n, span in enumerate(spans)})
    return ' '.join(line.split())


def _unquoted(line: str) -> str:
    while (quote := QUOTE.match(line)) is not None:
        line = line[quote.end():]
    return line


def _inline(text: str) -> str:
    for _ in range(3):  # emphasis inside a link inside emphasis: a few rounds peel every layer
        before = text
        for pattern, replacement in INLINE:
            text = pattern.sub(replacement, text)
        if text == before:
            break
    return _restored(text, escaped=False)


def _restored(text: str, *, escaped: bool) -> str:
    return re.sub(r'[\ue021-\ue07e]', lambda m: ('\\' if escaped else '') + chr(ord(m.group()) - ESCAPE_BASE), text)


def _table_rows(lines: list[str]) -> set[int]:
    """Indexes of the lines that are rows of a table (its header, delimiter and body rows)."""
    rows: set[int] = set()
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith('|') and stripped.endswith('|') and len(stripped) > 1:
            rows.add(index)
        elif '|' in line and TABLE_DELIMITER.match(line) and index > 0 and '|' in lines[index - 1]:
            rows.update((index - 1, index))
            after = index + 1
            while after < len(lines) and '|' in lines[after] and lines[after].strip():
                rows.add(after)
                after += 1
    return rows
