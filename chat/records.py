"""Records: messages, versions and settings to and from the JSON a room file, an export and the API hold.

Every string from a file is cleaned (models.clean_text), counts and times bounded, odd entries left out: what a file or
an import holds can never become a message no room could hold. Pure functions, no I/O.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .errors import MessageRejected
from .models import (
    ERROR_CHARS,
    FILE_ID_PATTERN,
    FILE_URL,
    MAX_ATTACHMENTS,
    MAX_CITATIONS,
    MAX_COUNT,
    MAX_TIME,
    MAX_TOOL_CALLS,
    MAX_VERSION_DEPTH,
    MEDIA_TYPES,
    MESSAGE_ID_PATTERN,
    PERSON_ID,
    REACTIONS,
    REPLY_MODES,
    STOP_REASONS,
    USAGE_FIELDS,
    Attachment,
    Message,
    RoomSettings,
    Status,
    Usage,
    checked_budget,
    clean_name,
    clean_setting,
    clean_text,
    excerpt,
    file_url,
    web_citation,
)


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
        'author_id': message.author_id,
        'edited': message.edited,
        'reactions': {emoji: list(people.values()) for emoji, people in message.reactions.items()},
        'reactors': {emoji: list(people) for emoji, people in message.reactions.items()},
        'reply_to': message.reply_to,
        'ask_claude': message.ask_claude,
        'activity': message.activity,
        'attachments': [attachment_to_record(attachment) for attachment in message.attachments],
        'thinking': message.thinking,
        'thinking_redacted': message.thinking_redacted,
        'tools': message.tools,
        'citations': message.citations,
        'stop_reason': message.stop_reason,
    }


def attachment_to_record(attachment: Attachment) -> dict[str, Any]:
    return {'id': attachment.id, 'name': attachment.name, 'media_type': attachment.media_type,
            'size': attachment.size, 'url': attachment.url}


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
        author_id=_person_id(record.get('author_id')),
        edited=record.get('edited') is True,
        reactions=_reactions(record.get('reactions'), record.get('reactors')),
        reply_to=_reply_to(record.get('reply_to')),
        ask_claude=record.get('ask_claude') is True,
        activity=clean_name(record.get('activity')),
        attachments=attachments_from_record(record.get('attachments')),
        thinking=clean_text(_text(record.get('thinking'))),
        thinking_redacted=_count(record.get('thinking_redacted')),
        tools=tools_from_record(record.get('tools')),
        citations=citations_from_record(record.get('citations')),
        stop_reason=_stop_reason(record.get('stop_reason')),
    )


def tools_from_record(value: Any) -> list[dict[str, Any]]:
    """A reply's web searches as a file holds them; odd entries are left out."""
    if not isinstance(value, list):
        return []
    return [{'id': clean_name(item.get('id'), 100) or '', 'query': clean_name(item.get('query'), 500) or '',
             'done': item.get('done') is True, 'results': _count(item.get('results')),
             'error': clean_name(item.get('error'), 300) or ''}
            for item in value[:MAX_TOOL_CALLS] if isinstance(item, dict)]


def citations_from_record(value: Any) -> list[dict[str, str]]:
    """A reply's sources as a file holds them: only http(s) addresses, each once."""
    found: dict[str, dict[str, str]] = {}
    for item in value[:MAX_CITATIONS] if isinstance(value, list) else []:
        if isinstance(item, dict) and (citation := web_citation(item.get('url'), item.get('title'),
                                                                item.get('cited_text'))):
            found.setdefault(citation['url'], citation)
    return list(found.values())


def _stop_reason(value: Any) -> str | None:
    """Why a reply ended, as a file holds it: a reason people are told (models.STOP_REASONS), else none."""
    return value if value in STOP_REASONS else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ''


def attachments_from_record(value: Any) -> tuple[Attachment, ...]:
    """The attachments of a message record; an entry no store could have written (odd id, type, size or url) is
    left out, and so is a second mention of one file."""
    if not isinstance(value, list):
        return ()
    found: dict[str, Attachment] = {}
    for item in value[:MAX_ATTACHMENTS]:
        attachment = attachment_from_record(item)
        if attachment is not None:
            found.setdefault(attachment.id, attachment)
    return tuple(found.values())


def attachment_from_record(item: Any) -> Attachment | None:
    if not isinstance(item, dict):
        return None
    file_id, url, size = item.get('id'), item.get('url'), item.get('size')
    if not isinstance(file_id, str) or FILE_ID_PATTERN.fullmatch(file_id) is None or not is_count(size) \
            or item.get('media_type') not in MEDIA_TYPES:
        return None
    match = FILE_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None or match[2] != file_id:
        return None
    return Attachment(id=file_id, name=clean_name(item.get('name')) or 'file', media_type=item['media_type'],
                      size=size, url=url)


def moved_to_room(messages: list[Message], room_id: str) -> list[Message]:
    """`messages` with every attachment (in their versions' messages too) served from `room_id`: an import brings
    its files to the new room."""
    return [message_from_record(_record_moved(message_to_record(message), room_id)) for message in messages]


def _record_moved(record: dict[str, Any], room_id: str) -> dict[str, Any]:
    attachments = [{**item, 'url': file_url(room_id, item['id'])} for item in record.get('attachments') or []]
    versions = [{**version, 'tail': [_record_moved(tail, room_id) for tail in version['tail']]}
                for version in record.get('versions') or []]
    return {**record, 'attachments': attachments, 'versions': versions}


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
        'edited': record.get('edited') is True,
        'activity': clean_name(record.get('activity')),
        'thinking': clean_text(_text(record.get('thinking'))),
        'thinking_redacted': _count(record.get('thinking_redacted')),
        'tools': tools_from_record(record.get('tools')),
        'citations': citations_from_record(record.get('citations')),
        'stop_reason': _stop_reason(record.get('stop_reason')),
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


def _person_id(value: Any) -> str | None:
    return value if isinstance(value, str) and PERSON_ID.fullmatch(value) else None


def _reactions(names: Any, ids: Any) -> dict[str, dict[str, str]]:
    """Reactions as a file holds them: names and participant ids per emoji, in step; unknown emoji are dropped."""
    if not isinstance(names, dict):
        return {}
    ids = ids if isinstance(ids, dict) else {}
    found: dict[str, dict[str, str]] = {}
    for emoji, people in names.items():
        if emoji not in REACTIONS or not isinstance(people, list):
            continue
        keys = ids.get(emoji) if isinstance(ids.get(emoji), list) else []
        for index, name in enumerate(people[:1000]):
            key = keys[index] if index < len(keys) else None
            # an imported reaction keeps its name; without a participant id nobody can take it back but by name
            key = _person_id(key) or f'name:{clean_name(name) or "Someone"}'
            found.setdefault(emoji, {})[key] = clean_name(name) or 'Someone'
    return found


def _reply_to(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict) or not isinstance(value.get('id'), str) \
            or MESSAGE_ID_PATTERN.fullmatch(value['id']) is None:
        return None
    return {'id': value['id'], 'author': clean_name(value.get('author')),
            'author_id': _person_id(value.get('author_id')),
            'excerpt': excerpt(value['excerpt']) if isinstance(value.get('excerpt'), str) else ''}


def _error(value: Any) -> str | None:
    return (clean_text(value, ERROR_CHARS) or None) if isinstance(value, str) else None


def settings_to_record(settings: RoomSettings) -> dict[str, Any]:
    return dataclasses.asdict(settings)


def settings_from_record(record: Any) -> RoomSettings:
    """A room's settings as its file holds them, cleaned like an edit (RoomSettings.updated); odd values are unset."""
    record = record if isinstance(record, dict) else {}
    max_tokens = record.get('max_tokens')
    return RoomSettings(title=clean_setting('title', record.get('title')),
                        system_prompt=clean_setting('system_prompt', record.get('system_prompt')),
                        model=clean_setting('model', record.get('model')),
                        max_tokens=max_tokens if is_count(max_tokens) and 1 <= max_tokens <= 128_000 else None,
                        reply_mode=record.get('reply_mode') if record.get('reply_mode') in REPLY_MODES else None,
                        thinking_budget=_budget(record.get('thinking_budget')),
                        web_search=record.get('web_search') is True)


def _budget(value: Any) -> int:
    try:
        return checked_budget(value)
    except MessageRejected:
        return 0
