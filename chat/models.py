"""Plain domain objects: no I/O here."""
from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from .errors import MessageRejected

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
VERSION_FIELDS = ('content', 'status', 'model', 'error', 'created_at', 'author')
"""What a shelved version keeps of its message (see versions.py), besides its usage and the messages after it."""
Role = Literal['user', 'assistant']


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

    def __add__(self, other: Usage) -> Usage:
        return Usage(*(a + b for a, b in zip(self.as_tuple(), other.as_tuple(), strict=True)))

    def as_tuple(self) -> tuple[int, int, int, int]:
        return self.input_tokens, self.output_tokens, self.cache_read_tokens, self.cache_write_tokens


USAGE_FIELDS = tuple(field.name for field in dataclasses.fields(Usage))


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

    @property
    def can_resume(self) -> bool:
        """A failed, stopped or cut-off reply can be retried or continued."""
        return self.role == 'assistant' and self.status in {Status.ERROR, Status.STOPPED, Status.INTERRUPTED}


@dataclass(slots=True, frozen=True)
class RoomSettings:
    """What a room's settings panel changes; None means the app's default."""

    title: str | None = None
    system_prompt: str | None = None
    model: str | None = None
    max_tokens: int | None = None

    def updated(self, **changes: str | int | None) -> RoomSettings:
        """These settings with `changes` applied; blank texts mean the default; raises MessageRejected."""
        if changes.get('max_tokens') is not None:
            max_tokens = int(changes['max_tokens'])  # type: ignore[arg-type]
            if not 1 <= max_tokens <= 128_000:
                raise MessageRejected('Max tokens must be between 1 and 128,000.')
            changes['max_tokens'] = max_tokens
        for name in ('title', 'system_prompt', 'model'):
            if isinstance(changes.get(name), str):
                changes[name] = _setting(name, changes[name])
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


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


def checked_text(text: str, limit: int) -> str:
    """A message's text without surrounding blanks; raises MessageRejected when blank or over `limit` characters."""
    text = clean_text(text).strip()
    if not text:
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


def message_to_record(message: Message) -> dict[str, Any]:
    """The JSON form of a message, as stored and as served by the API."""
    return {
        'id': message.id,
        'seq': message.seq,
        'role': message.role,
        'content': message.content,
        'status': str(message.status),
        'created_at': message.created_at,
        'author': message.author,
        'model': message.model,
        'error': message.error,
        'usage': dataclasses.asdict(message.usage) if message.usage else None,
        'left_out': message.left_out,
        'versions': message.versions,
        'version': message.version,
    }


def message_from_record(record: dict[str, Any], depth: int = 0) -> Message:
    """A message as a room file or an import holds it, every string cleaned (clean_text), counts and times bounded,
    the messages of its versions converted the same way. Raises ValueError, TypeError or KeyError on a record no room
    could hold (no id, seq or known status).
    """
    message_id = record['id']
    if not isinstance(message_id, str) or MESSAGE_ID_PATTERN.fullmatch(message_id) is None:
        raise ValueError(f'{message_id!r} is not a message id')
    versions = [version_from_record(version, depth) for version in record.get('versions') or []]
    version = record.get('version')
    return Message(
        id=message_id,
        seq=_seq(record['seq']),
        role='assistant' if record.get('role') == 'assistant' else 'user',
        content=clean_text(str(record.get('content', ''))),
        status=Status(record.get('status', 'complete')),
        created_at=_time(record.get('created_at', 0.0)),
        author=clean_name(record.get('author')),
        model=clean_name(record.get('model')),
        error=_error(record.get('error')),
        usage=usage_from_record(record.get('usage')),
        left_out=_count(record.get('left_out')),
        versions=versions,
        version=version if is_count(version) and version <= len(versions) else len(versions),
    )


def version_from_record(record: Any, depth: int = 0) -> dict[str, Any]:
    """A shelved version (see versions.py) with its fields cleaned like a message's and the messages after it
    converted by message_from_record; raises like it."""
    if depth >= MAX_VERSION_DEPTH:
        raise ValueError(f'versions are nested more than {MAX_VERSION_DEPTH} deep')
    if not isinstance(record, dict) or not isinstance(record.get('tail'), list):
        raise TypeError('a version must be an object with a "tail" list of messages')
    usage = usage_from_record(record.get('usage'))
    return {
        'content': clean_text(str(record.get('content', ''))),
        'status': str(Status(record.get('status', 'complete'))),
        'model': clean_name(record.get('model')),
        'error': _error(record.get('error')),
        'created_at': _time(record.get('created_at', 0.0)),
        'author': clean_name(record.get('author')),
        'usage': dataclasses.asdict(usage) if usage else None,
        'tail': [message_to_record(message_from_record(message, depth + 1)) for message in record['tail']],
    }


def usage_from_record(value: Any) -> Usage | None:
    """Token counts; anything but a mapping of counts (an odd file) counts as none."""
    if not isinstance(value, dict):
        return None
    counts = [value.get(name, 0) for name in USAGE_FIELDS]
    return Usage(*counts) if all(is_count(count) for count in counts) else None


def _seq(value: Any) -> int:
    try:
        seq = int(value)
    except OverflowError:  # infinity: not an ArithmeticError the callers expect of a bad record
        raise ValueError(f'seq {value} is not a number') from None
    if not 0 <= seq <= MAX_COUNT:
        raise ValueError(f'seq {seq} is out of range')
    return seq


def _time(value: Any) -> float:
    """Epoch seconds; a time no page can show (NaN, negative, past the year 9999) becomes 0."""
    try:
        seconds = float(value)
    except OverflowError:
        return 0.0
    return seconds if 0.0 <= seconds <= MAX_TIME else 0.0


def _count(value: Any) -> int:
    return value if is_count(value) else 0


def is_count(value: Any) -> bool:
    """A whole number (not a bool) from 0 to MAX_COUNT."""
    return type(value) is int and 0 <= value <= MAX_COUNT


def _error(value: Any) -> str | None:
    return (clean_text(value, ERROR_CHARS) or None) if isinstance(value, str) else None


def title_from(messages: list[Message], words: int = 8) -> str:
    """A room's title: the first words of its first message."""
    for message in messages:
        text = ' '.join(message.content.split())
        if text:
            parts = text.split(' ')
            return ' '.join(parts[:words]) + (' …' if len(parts) > words else '')
    return 'Empty room'


def summarize(room_id: str, messages: list[Message], settings: RoomSettings | None = None) -> RoomSummary:
    updated = max((m.created_at for m in messages), default=0.0)
    title = (settings.title if settings else None) or title_from(messages)
    return RoomSummary(id=room_id, title=title, updated_at=updated, message_count=len(messages))


def settings_to_record(settings: RoomSettings) -> dict[str, Any]:
    return dataclasses.asdict(settings)


def settings_from_record(record: Any) -> RoomSettings:
    """A room's settings as its file holds them, cleaned like an edit (RoomSettings.updated); odd values are unset."""
    record = record if isinstance(record, dict) else {}
    max_tokens = record.get('max_tokens')
    return RoomSettings(title=_setting('title', record.get('title')),
                        system_prompt=_setting('system_prompt', record.get('system_prompt')),
                        model=_setting('model', record.get('model')),
                        max_tokens=max_tokens if is_count(max_tokens) and 1 <= max_tokens <= 128_000 else None)


def _setting(name: str, value: Any) -> str | None:
    if name == 'system_prompt':
        return (clean_text(value, PROMPT_CHARS) or None) if isinstance(value, str) else None
    return clean_name(value)
