"""The words a room is known by: titles made from its messages. Pure functions, no I/O."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .plaintext import plain_text

if TYPE_CHECKING:
    from .models import Message

UNTITLED = 'New room'
"""What a room is called until a message or a person names it (never its random id)."""
TITLE_WORDS = 8
TITLE_CHARS = 60
SOURCE_CHARS = 2_000
"""The start of the first message a title is made from: a 100 KB paste need not be read to name a room."""
IMPORTED = ' (imported)'


def title_from(messages: Sequence[Message], words: int = TITLE_WORDS, limit: int = TITLE_CHARS) -> str:
    """A room's title: the first plain words of its first message (Markdown syntax dropped), else its files' names."""
    for message in messages:
        text = ' '.join(plain_text(message.content[:SOURCE_CHARS]).split()) \
            or ' '.join(' '.join(a.name for a in message.attachments).split())
        if text:
            return first_words(text, words, limit)
    return UNTITLED


def first_words(text: str, words: int, limit: int) -> str:
    """At most `words` words and about `limit` characters of a one-line text, cut between words, `…` when cut."""
    parts = text.split(' ')
    cut, more = ' '.join(parts[:words]), len(parts) > words
    if len(cut) <= limit:
        return f'{cut} …' if more else cut
    space = cut.rfind(' ', 0, limit + 1)
    if space > 0:
        return f'{cut[:space]} …'
    return f'{cut[:limit - 1]}…'  # one long word (a URL): cut inside it

def imported_title(title: str, limit: int) -> str:
    """The title of a room made by an import: its source's, marked, so the two can be told apart in the list."""
    base = title.removesuffix(IMPORTED)  # an import of an import is not "(imported) (imported)"
    return base[:limit - len(IMPORTED)].rstrip() + IMPORTED
