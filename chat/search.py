"""Search across rooms: messages whose text holds every word of a query, newest first.

Blocking; Rooms.search runs it off the event loop over a snapshot of the open rooms' messages and the
closed rooms' files. Closed rooms are kept parsed in a small cache keyed by their file's mtime and size.
"""
from __future__ import annotations

import heapq
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .models import Message
from .plaintext import plain_text
from .records import message_from_record
from .store import MESSAGES, RoomStore, read_json_file

log = logging.getLogger(__name__)

SEARCH_LIMIT = 50
"""Results shown for one query; more means the query should be narrower."""
MAX_WORDS = 10
MAX_QUERY_CHARS = 500
SNIPPET_BEFORE = 60
SNIPPET_AFTER = 160
CACHE_CHARS = 32_000_000
"""Text of closed rooms kept parsed between searches; beyond it the least recently searched rooms are dropped."""


@dataclass(slots=True, frozen=True)
class SearchHit:
    room_id: str
    title: str
    message_id: str
    seq: int
    role: str
    author: str | None
    created_at: float
    snippet: str
    """Plain text around the first match, Markdown syntax dropped (never HTML: the UI shows it as text)."""
    marks: tuple[tuple[int, int], ...]
    """[start, end) spans of `snippet` that match a word of the query."""

    @property
    def url(self) -> str:
        return f'/room/{self.room_id}#m-{self.message_id}'

    def segments(self) -> list[tuple[str, bool]]:
        """The snippet cut into (text, is_match) pieces, for highlighting without building HTML."""
        pieces, at = [], 0
        for start, end in self.marks:
            if start > at:
                pieces.append((self.snippet[at:start], False))
            pieces.append((self.snippet[start:end], True))
            at = end
        if at < len(self.snippet):
            pieces.append((self.snippet[at:], False))
        return pieces

    def to_json(self) -> dict[str, Any]:
        return {'room': self.room_id, 'title': self.title, 'message': self.message_id, 'seq': self.seq,
                'role': self.role, 'author': self.author, 'created_at': self.created_at, 'snippet': self.snippet,
                'highlights': [list(mark) for mark in self.marks], 'url': self.url}


@dataclass(slots=True, frozen=True)
class SearchResult:
    query: str
    hits: list[SearchHit]
    truncated: bool
    """More messages matched than `hits` holds."""


def search_terms(query: str) -> list[str]:
    """The distinct words of a query (case-insensitively), at most MAX_WORDS of them."""
    words: dict[str, str] = {}
    for word in query[:MAX_QUERY_CHARS].split():
        words.setdefault(word.casefold(), word)
    return list(words.values())[:MAX_WORDS]


class SearchIndex:
    """Finds messages in rooms; thread-safe, so searches may run in parallel worker threads."""

    def __init__(self, store: RoomStore) -> None:
        self.store = store
        self._cache: OrderedDict[str, tuple[tuple[int, int], list[Message], int]] = OrderedDict()
        self._cached_chars = 0
        self._lock = threading.Lock()

    def search(self, words: list[str], titles: dict[str, str], opened: dict[str, list[Message]],
               limit: int = SEARCH_LIMIT) -> SearchResult:
        """Search the open rooms' messages and the files of every other room in `titles`.

        :param titles: the title of every room with messages (open or closed)
        :param opened: a snapshot of the messages of every open room
        """
        patterns = [re.compile(re.escape(word), re.IGNORECASE) for word in words]
        if not patterns:
            return SearchResult(' '.join(words), [], False)
        found: list[tuple[float, int, str, Message]] = []
        for room_id in titles:
            messages = opened[room_id] if room_id in opened else self._closed_room(room_id)
            found += [(m.created_at, m.seq, room_id, m) for m in messages if _matches(m.content, patterns)]
        newest = heapq.nlargest(limit + 1, found, key=lambda item: (item[0], item[1]))
        hits = [_hit(room_id, titles[room_id], message, patterns) for _, _, room_id, message in newest[:limit]]
        return SearchResult(' '.join(words), hits, len(newest) > limit)

    def _closed_room(self, room_id: str) -> list[Message]:
        if self.store.data_dir is None:
            return []
        path = self.store.path_of(room_id)
        try:
            stat = path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            with self._lock:
                cached = self._cache.get(room_id)
                if cached is not None and cached[0] == stamp:
                    self._cache.move_to_end(room_id)
                    return cached[1]
            data = read_json_file(path) or {}
            messages = sorted((message_from_record(r) for r in data.get(MESSAGES, {}).values()), key=lambda m: m.seq)
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning('cannot search room %s: %s', room_id, e)
            return []
        self._remember(room_id, stamp, messages)
        return messages

    def _remember(self, room_id: str, stamp: tuple[int, int], messages: list[Message]) -> None:
        size = sum(len(m.content) for m in messages)
        with self._lock:
            if (old := self._cache.pop(room_id, None)) is not None:
                self._cached_chars -= old[2]
            if size > CACHE_CHARS:
                return
            self._cache[room_id] = (stamp, messages, size)
            self._cached_chars += size
            while self._cached_chars > CACHE_CHARS:
                _, (_, _, dropped) = self._cache.popitem(last=False)
                self._cached_chars -= dropped


def _matches(text: str, patterns: Iterable[re.Pattern[str]]) -> bool:
    return all(pattern.search(text) for pattern in patterns)


def _hit(room_id: str, title: str, message: Message, patterns: list[re.Pattern[str]]) -> SearchHit:
    snippet = _snippet(plain_text(message.content), patterns)  # what a person reads: no `**`, `>` or backticks
    return SearchHit(room_id=room_id, title=title, message_id=message.id, seq=message.seq, role=message.role,
                     author=message.author, created_at=message.created_at, snippet=snippet,
                     marks=_marks(snippet, patterns))


def _snippet(text: str, patterns: list[re.Pattern[str]]) -> str:
    """One line of text around the earliest match, cut at word boundaries."""
    first = min((m.start() for p in patterns if (m := p.search(text))), default=0)
    start = max(0, first - SNIPPET_BEFORE)
    end = min(len(text), first + SNIPPET_AFTER)
    if start > 0 and (space := text.find(' ', start, first)) != -1:
        start = space + 1
    if end < len(text) and (space := text.rfind(' ', first, end)) > first:
        end = space
    body = ' '.join(text[start:end].split())
    return ('… ' if start > 0 else '') + body + (' …' if end < len(text) else '')


def _marks(snippet: str, patterns: list[re.Pattern[str]]) -> tuple[tuple[int, int], ...]:
    """The matching spans of the snippet, merged where they touch or overlap."""
    spans = sorted((m.start(), m.end()) for p in patterns for m in p.finditer(snippet))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)
