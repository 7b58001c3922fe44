"""Words a person reads: a room's title and a search snippet are plain words, never raw Markdown or a random id."""
from __future__ import annotations

import pytest

from chat.models import Attachment, Message, summarize
from chat.plaintext import plain_text
from chat.titles import UNTITLED, first_words, imported_title, title_from


def message(content: str, *files: Attachment) -> Message:
    return Message(id='m1', seq=1, role='user', content=content, attachments=files)


@pytest.mark.parametrize(('markdown', 'plain'), [
    ('| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |', 'a b c\n1 2 3'),
    ('name | size\n--- | ---\nx | 1', 'name size\nx 1'),
    ('# Hello *world* #', 'Hello world'),
    ('Title\n=====\nSub\n---', 'Title\nSub'),
    ('> **quoted** and `code` here\n> > deeper', 'quoted and code here\ndeeper'),
    ('- [ ] task\n1. first\n2) second\n* star _em_ snake_case_word + more',
     'task\nfirst\nsecond\nstar em snake_case_word + more'),
    ('```python\nprint("x")\n```\nafter', 'print("x")\nafter'),
    ('~~~\ncode ~~kept~~\n~~~', 'code ~~kept~~'),
    ('![a diagram](x.png) and [the docs](https://x.y/z "t") <https://a.b>', 'a diagram and the docs https://a.b'),
    ('[![badge](b.svg)](https://ci) [ref link][1]\n\n[1]: https://example.com', 'badge ref link'),
    (r'\*not em\* and `a\*b`', r'*not em* and a\*b'),
    ('***both*** ~~gone~~ __strong__ **a `b` c**', 'both gone strong a b c'),
    ('``code with `tick` inside``', 'code with `tick` inside'),
    ('2 * 3 = 6 and 4*5, a_b_c, 5 > 3', '2 * 3 = 6 and 4*5, a_b_c, 5 > 3'),
    ('my apple <b>pie</b> burned', 'my apple <b>pie</b> burned'),
    ('---\n***\n', ''),
    ('> | a | b |\n> |---|---|\n> | 1 | 2 |\n>\n> ```\n> code\n> ```', 'a b\n1 2\ncode'),
])
def test_plain_text_keeps_the_words_and_drops_the_markdown(markdown: str, plain: str) -> None:
    assert plain_text(markdown) == plain


def test_a_title_is_the_first_plain_words_cut_between_words() -> None:
    assert title_from([message('| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |')]) == 'a b c 1 2 3'
    assert title_from([message('## **Plan** for the `trip` to [Rome](https://rome.it)')]) == 'Plan for the trip to Rome'
    assert title_from([message('one two three four five six seven eight nine ten')]) == \
        'one two three four five six seven eight …'
    long_words = title_from([message('extraordinarily ' * 8)])
    assert long_words.endswith(' …') and len(long_words) <= 62 and 'extraordinarily extraordinarily' in long_words
    url = title_from([message('https://example.com/' + 'x' * 200)])
    assert url.endswith('…') and len(url) == 60


def test_a_title_falls_back_to_file_names_then_the_next_message_then_new_room() -> None:
    photo = Attachment('a' * 64, 'holiday photo.png', 'image/png', 10, '/api/rooms/r/files/' + 'a' * 64)
    assert title_from([message('![](x.png)', photo)]) == 'holiday photo.png'
    assert title_from([message('---'), message('**second** one')]) == 'second one'
    assert title_from([]) == UNTITLED == 'New room'
    assert summarize('JVXwyZXc72g', []).title == 'New room', 'never "Room JVXwyZXc72g"'


def test_a_title_reads_only_the_start_of_a_huge_first_message() -> None:
    assert title_from([message('word ' * 1_000_000)]) == 'word word word word word word word word …'


def test_first_words_keeps_short_text_whole() -> None:
    assert first_words('one two', 8, 60) == 'one two'


def test_an_imported_title_is_marked_once_and_stays_within_the_limit() -> None:
    assert imported_title('Book club', 200) == 'Book club (imported)'
    assert imported_title('Book club (imported)', 200) == 'Book club (imported)'
    long = imported_title('x' * 200, 200)
    assert len(long) == 200 and long.endswith('x (imported)')
