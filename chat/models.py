"""Plain domain objects: no I/O here."""
from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from .errors import MessageRejected
from .titles import title_from

ROOM_ID_PATTERN = re.compile(r'[A-Za-z0-9_-]{1,64}')
MESSAGE_ID_PATTERN = ROOM_ID_PATTERN
"""Message ids end up in HTML attributes and URL fragments, so they keep to the room id alphabet."""
LONE_SURROGATE = re.compile('[\ud800-\udfff]')
NOT_ONE_LINE = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029]')
"""Control characters, newlines and tabs included: a one-line name shows each as a space."""
NAME_CHARS = 200
"""Longest author, model name or room title a room keeps."""
PROMPT_CHARS = 20_000
ERROR_CHARS = 10_000
MAX_COUNT = 2**53
"""Largest seq or token count a room holds: exact as a browser's number, and in orjson's range."""
MAX_TIME = 253_402_300_799.0
"""The last second of the year 9999: later times cannot be formatted (time.localtime overflows)."""
MAX_VERSION_DEPTH = 50
"""Versions hold messages that hold versions; deeper nesting than this is not a real room."""
VERSION_FIELDS = ('content', 'status', 'model', 'error', 'created_at', 'author', 'edited', 'activity', 'thinking',
                  'thinking_redacted', 'tools', 'citations', 'stop_reason')
"""What a shelved version keeps of its message (see versions.py), besides its usage and the messages after it."""
REQUIRED_VERSION_FIELDS = VERSION_FIELDS[:6]
"""What every version in an export has (files written before `edited`, `activity` and the reply parts lack those)."""
STOP_REASONS = ('max_tokens', 'refusal')
"""Why a complete reply ended, when people are told: it reached the room's max tokens (Continue writes the rest), or
Claude declined to go on. A reply that simply finished has none."""
Role = Literal['user', 'assistant']
REPLY_MODES = ('every', 'mention')
"""Whom Claude answers in a room: every message, or only those that mention it (see `addresses_claude`)."""
REACTIONS = ('👍', '❤️', '😂', '🎉', '🤔', '👀', '🙏', '✅')
"""The emoji people can react with."""
EXCERPT_CHARS = 200
"""How much of a message a reply quotes."""
PERSON_ID = re.compile(r'[0-9a-f]{16}')
CLAUDE_MENTION = re.compile(r'(?<![\w@])@claude\b', re.IGNORECASE)
FILE_ID_PATTERN = re.compile(r'[0-9a-f]{64}')
"""A file's id: the SHA-256 of its bytes, in hex (files are content-addressed, see files.py)."""
FILE_URL = re.compile(r'/api/rooms/([A-Za-z0-9_-]{1,64})/files/([0-9a-f]{64})')
IMAGE_TYPES = ('image/png', 'image/jpeg', 'image/gif', 'image/webp')
PDF_TYPE = 'application/pdf'
TEXT_TYPES = ('text/plain', 'text/markdown', 'text/csv', 'application/json')
MEDIA_TYPES = (*IMAGE_TYPES, PDF_TYPE, *TEXT_TYPES)
"""What a file attached to a message may be: what Claude reads (files.py decides it by the bytes)."""
MAX_ATTACHMENTS = 10
"""Files one message may carry."""
THINKING_BUDGETS = (1024, 32_000)
"""The thinking budgets a room may set, in tokens (the API's minimum is 1,024); 0 turns thinking off."""
MAX_CITATIONS = 100
"""Sources one reply keeps; MAX_SEARCHES searches rarely find more worth citing."""
MAX_TOOL_CALLS = 20
CITED_CHARS = 500
"""How much of the cited text a reply keeps per source."""
WEB_URL = re.compile(r'https?://[^\s<>"\\]{1,2000}')
"""A source's address as a reply may link it: http(s), nothing that could end a Markdown link or an attribute."""


def is_valid_room_id(room_id: str) -> bool:
    """True when the id may name a room (and therefore a file under the data dir)."""
    return ROOM_ID_PATTERN.fullmatch(room_id) is not None


class Status(StrEnum):
    COMPLETE = 'complete'
    STREAMING = 'streaming'
    STOPPED = 'stopped'
    INTERRUPTED = 'interrupted'
    ERROR = 'error'


@dataclass(slots=True, frozen=True)
class Usage:
    """Tokens one reply cost, as the API reported them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    web_searches: int = 0
    """Web searches Claude ran for the reply (they are billed per search)."""

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, ...]:
        return dataclasses.astuple(self)


USAGE_FIELDS = tuple(field.name for field in dataclasses.fields(Usage))


@dataclass(slots=True, frozen=True)
class Attachment:
    """A file sent with a user message; its bytes live in the room's file store (files.py), never in the room file."""

    id: str
    """The SHA-256 of the file's bytes, in hex."""
    name: str
    media_type: str
    size: int
    """Bytes."""
    url: str
    """Where the file is served: `/api/rooms/<room id>/files/<id>`."""

    @property
    def is_image(self) -> bool:
        return self.media_type in IMAGE_TYPES


def file_url(room_id: str, file_id: str) -> str:
    return f'/api/rooms/{room_id}/files/{file_id}'


@dataclass(slots=True)
class Message:
    id: str
    seq: int
    role: Role
    content: str
    status: Status = Status.COMPLETE
    created_at: float = field(default_factory=time.time)
    author: str | None = None
    model: str | None = None
    error: str | None = None
    """Why the reply failed, in plain words (status `error`)."""
    note: str | None = None
    """What a streaming reply is waiting for (e.g. a retry); shown, never stored."""
    usage: Usage | None = None
    """Tokens of this reply (assistant messages written by Claude)."""
    left_out: int = 0
    """Earlier messages not sent with this reply's request, to fit the model's context window."""
    versions: list[dict[str, Any]] = field(default_factory=list)
    """The other versions (regenerated replies, edited texts), each with the messages that followed it."""
    version: int = 0
    """Where the shown version stands among all len(versions) + 1 versions."""
    author_id: str | None = None
    """The participant who wrote a user message (None for Claude's replies, imported and some scripts' messages)."""
    edited: bool = False
    """The author changed the text after sending it."""
    reactions: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per emoji, who reacted with it: participant id -> display name, in the order they did."""
    reply_to: dict[str, Any] | None = None
    """The earlier message this one answers: {"id", "author", "excerpt"}."""
    ask_claude: bool = False
    """A user message that asks Claude to answer (in a room that answers only mentions)."""
    activity: str | None = None
    """Who last changed this message for everyone, in words ("stopped by Bob", "regenerated by Ann")."""
    attachments: tuple[Attachment, ...] = ()
    """Files sent with a user message; an edit keeps them, and its versions share them."""
    thinking: str = ''
    """What Claude thought before it answered (rooms with a thinking budget); streams like the text."""
    thinking_redacted: int = 0
    """Blocks of thinking the API sent encrypted: shown as such, never their content."""
    tools: list[dict[str, Any]] = field(default_factory=list)
    """The web searches of a reply, in order: {"id", "query", "done", "results", "error"}."""
    citations: list[dict[str, str]] = field(default_factory=list)
    """The web sources the reply cites, numbered in order: {"url", "title", "cited_text"}."""
    stop_reason: str | None = None
    """Why a complete reply ended, when people are told (one of STOP_REASONS); None when it simply finished."""

    @property
    def can_resume(self) -> bool:
        """A failed, stopped or interrupted reply can be retried or continued."""
        return self.role == 'assistant' and self.status in {Status.ERROR, Status.STOPPED, Status.INTERRUPTED}

    @property
    def cut_off(self) -> bool:
        """A complete reply that reached the room's max tokens: it can be continued (not retried: it did not fail)."""
        return self.role == 'assistant' and self.status == Status.COMPLETE and self.stop_reason == 'max_tokens'

    @property
    def can_continue(self) -> bool:
        return self.can_resume or self.cut_off


@dataclass(slots=True, frozen=True)
class RoomSettings:
    """What a room's settings panel changes; None means the app's default."""

    title: str | None = None
    system_prompt: str | None = None
    model: str | None = None
    max_tokens: int | None = None
    reply_mode: str | None = None
    """`every` (the default) or `mention`."""
    thinking_budget: int = 0
    """Tokens Claude may think before it answers, shown live; 0: no thinking."""
    web_search: bool = False
    """Claude may search the web (a few searches per reply) and cite its sources."""

    def updated(self, **changes: str | int | bool | None) -> RoomSettings:
        """These settings with `changes` applied; blank texts mean the default; raises MessageRejected."""
        if changes.get('reply_mode') is not None and changes['reply_mode'] not in REPLY_MODES:
            raise MessageRejected(f'The reply mode must be one of {", ".join(REPLY_MODES)}.')
        if 'thinking_budget' in changes:
            changes['thinking_budget'] = checked_budget(changes['thinking_budget'])
        if 'web_search' in changes:
            if not isinstance(changes['web_search'], bool | None):
                raise MessageRejected('web_search must be true or false.')
            changes['web_search'] = bool(changes['web_search'])
        if changes.get('max_tokens') is not None:
            max_tokens = int(changes['max_tokens'])  # type: ignore[arg-type]
            if not 1 <= max_tokens <= 128_000:
                raise MessageRejected('Max tokens must be between 1 and 128,000.')
            changes['max_tokens'] = max_tokens
        for name in ('title', 'system_prompt', 'model'):
            if isinstance(changes.get(name), str):
                changes[name] = clean_setting(name, changes[name])
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def checked_budget(value: object) -> int:
    """A thinking budget as a room keeps it (None: off); raises MessageRejected for one the API would refuse."""
    if value is None or value == 0:
        return 0
    low, high = THINKING_BUDGETS
    if type(value) is not int or not low <= value <= high:
        raise MessageRejected(f'The thinking budget is 0 (off) or a whole number of tokens from {low:,} to {high:,}.')
    return value


def clean_text(text: str, limit: int | None = None, *, one_line: bool = False) -> str:
    """Text from outside (a browser, a model, a file, an import) as a room may hold it: the one boundary cleaner.

    Lone UTF-16 surrogates become U+FFFD. With `limit` (names, titles, prompts) the text is stripped and cut to
    `limit` characters; `one_line` (names, titles) also turns control characters, newlines included, into spaces.
    """
    text = well_formed(text)
    if one_line and NOT_ONE_LINE.search(text) is not None:
        text = NOT_ONE_LINE.sub(' ', text)
    if limit is not None:
        text = text.strip()[:limit].rstrip()
    return text


def clean_name(value: object, limit: int = NAME_CHARS) -> str | None:
    """An author, model name or title from outside: one cleaned line, or None when blank or not text."""
    return (clean_text(value, limit, one_line=True) or None) if isinstance(value, str) else None


def well_formed(text: str) -> str:
    """`text` with any lone UTF-16 surrogate (valid in JSON, not in UTF-8) replaced by U+FFFD.

    A broken model server or browser can send one; left in, it cannot be encoded for pages or files.
    """
    if LONE_SURROGATE.search(text) is None:
        return text
    return text.encode('utf-16', 'surrogatepass').decode('utf-16', 'replace')


def checked_text(text: str, limit: int, *, allow_blank: bool = False) -> str:
    """A message's text without surrounding blanks; raises MessageRejected when blank (unless `allow_blank`: a message
    of attachments alone) or over `limit` characters."""
    text = clean_text(text).strip()
    if not text and not allow_blank:
        raise MessageRejected('The message is empty; type something first.')
    if len(text) > limit:
        raise MessageRejected(f'The message has {len(text):,} characters; the limit is {limit:,}. '
                              'Shorten it or send it in parts.')
    return text


@dataclass(slots=True, frozen=True)
class RoomSummary:
    id: str
    title: str
    updated_at: float
    message_count: int


def web_citation(url: object, title: object, cited_text: object = '') -> dict[str, str] | None:
    """A source as a reply keeps it, from the API or a file: {"url", "title", "cited_text"}; None for an address that
    is not a plain http(s) link."""
    if not isinstance(url, str) or WEB_URL.fullmatch(url) is None:
        return None
    return {'url': url, 'title': clean_name(title) or url,
            'cited_text': clean_text(cited_text if isinstance(cited_text, str) else '', CITED_CHARS)}


def describe_size(size: int) -> str:
    """`512 KB`, `1.2 MB`: a size as people read it."""
    if size < 1024:
        return f'{size} B'
    if size < 1024 * 1024:
        return f'{size / 1024:.0f} KB'
    return f'{size / (1024 * 1024):.1f} MB'.replace('.0 MB', ' MB')


def excerpt(text: str) -> str:
    """The start of a message as a reply quotes it: one line, at most EXCERPT_CHARS characters."""
    line = ' '.join(clean_text(text).split())
    return line if len(line) <= EXCERPT_CHARS else line[:EXCERPT_CHARS - 1].rstrip() + '…'


def addresses_claude(text: str) -> bool:
    """True when a message mentions Claude: `@claude` as a word, in any case."""
    return CLAUDE_MENTION.search(text) is not None


@dataclass(slots=True, frozen=True)
class Person:
    """Who does something in a room: a participant id (public, derived from the browser's secret cookie) and a
    display name."""

    id: str | None
    name: str | None

    @property
    def label(self) -> str:
        return self.name or 'Someone'


def summarize(room_id: str, messages: list[Message], settings: RoomSettings | None = None) -> RoomSummary:
    updated = max((m.created_at for m in messages), default=0.0)
    title = (settings.title if settings else None) or title_from(messages)
    return RoomSummary(id=room_id, title=title, updated_at=updated, message_count=len(messages))


def clean_setting(name: str, value: Any) -> str | None:
    """A text setting (title, system prompt, model) as a room keeps it: cleaned, None when blank or not text."""
    if name == 'system_prompt':
        return (clean_text(value, PROMPT_CHARS) or None) if isinstance(value, str) else None
    return clean_name(value)
