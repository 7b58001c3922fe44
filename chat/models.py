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
LONE_SURROGATE = re.compile('[\ud800-\udfff]')
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
                changes[name] = str(changes[name]).strip()[:20_000] or None
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def well_formed(text: str) -> str:
    """`text` with any lone UTF-16 surrogate (valid in JSON, not in UTF-8) replaced by U+FFFD.

    A broken model server or browser can send one; left in, it cannot be encoded for pages or files.
    """
    if LONE_SURROGATE.search(text) is None:
        return text
    return text.encode('utf-16', 'surrogatepass').decode('utf-16', 'replace')


def checked_text(text: str, limit: int) -> str:
    """A message's text without surrounding blanks; raises MessageRejected when blank or over `limit` characters."""
    text = well_formed(text).strip()
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


def message_from_record(record: dict[str, Any]) -> Message:
    return Message(
        id=str(record['id']),
        seq=int(record['seq']),
        role='assistant' if record.get('role') == 'assistant' else 'user',
        content=well_formed(str(record.get('content', ''))),
        status=Status(record.get('status', 'complete')),
        created_at=float(record.get('created_at', 0.0)),
        author=record.get('author'),
        model=record.get('model'),
        error=record.get('error'),
        usage=Usage(**record['usage']) if isinstance(record.get('usage'), dict) else None,
        left_out=int(record.get('left_out') or 0),
        versions=list(record.get('versions') or []),
        version=int(record.get('version', len(record.get('versions') or []))),
    )


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


def settings_from_record(record: dict[str, Any] | None) -> RoomSettings:
    record = record or {}
    max_tokens = record.get('max_tokens')
    return RoomSettings(title=record.get('title') or None, system_prompt=record.get('system_prompt') or None,
                        model=record.get('model') or None, max_tokens=int(max_tokens) if max_tokens else None)
