"""A room as a JSON export, and the strict check of such a file before it becomes a new room. No I/O here."""
from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ImportRejected, ImportTooLarge
from .models import (
    MAX_COUNT,
    MAX_TIME,
    MAX_VERSION_DEPTH,
    MESSAGE_ID_PATTERN,
    NAME_CHARS,
    REQUIRED_VERSION_FIELDS,
    Message,
    Status,
    clean_name,
    is_count,
    message_from_record,
    message_to_record,
)

EXPORT_FORMAT = 'rooms-export'
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 20 * 1024 * 1024
"""The largest export file an import accepts."""
REQUIRED = ('id', 'seq', 'role', 'content', 'status', 'created_at')
OPTIONAL_TEXT = ('author', 'model', 'error')


def export_document(room_id: str, title: str, messages: Iterable[Message], *, now: float | None = None
                    ) -> dict[str, Any]:
    """Everything of a room that an import needs, with a format marker so the file explains itself."""
    return {
        'format': EXPORT_FORMAT,
        'version': EXPORT_VERSION,
        'room': room_id,
        'title': title,
        'exported_at': time.time() if now is None else now,
        'messages': [message_to_record(message) for message in messages],
    }


def encode_json(document: Any) -> bytes:
    """UTF-8 JSON; text with a lone surrogate (valid in browser JSON, not in UTF-8) is \\u-escaped instead."""
    try:
        return json.dumps(document, ensure_ascii=False).encode('utf-8')
    except UnicodeEncodeError:
        return json.dumps(document, ensure_ascii=True).encode('ascii')


def too_large(size: int) -> ImportTooLarge:
    mb = 1024 * 1024
    return ImportTooLarge(f'The file has {size / mb:.1f} MB; the limit is {MAX_IMPORT_BYTES // mb} MB.')


@dataclass(slots=True, frozen=True)
class ParsedExport:
    """What an accepted export becomes: its messages (checked, seq 1..n) and its room's title, if it has one."""

    messages: list[Message]
    title: str | None


def parse_export(data: bytes | str) -> ParsedExport:
    """The messages and title of an export, checked field by field, numbered 1..n in their order. Blocking: run it
    off the event loop (an export may have 20 MB).

    Raises ImportRejected on anything a room could not hold: nothing is created from a file that fails. Messages kept
    in earlier versions (regenerate, edit) are checked the same way and numbered after the shown ones, so no seq is
    used twice. Every message, at every level, is then converted by the code that reads room files
    (models.message_from_record), so what an import accepts opens like a room that was never exported. A reply still
    `streaming` when it was exported can never finish, so it comes back `interrupted`.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise too_large(len(data))
    try:
        text = data.decode('utf-8-sig') if isinstance(data, bytes) else data
        document = json.loads(text)
    except UnicodeDecodeError:
        raise ImportRejected('The file is not UTF-8 text; choose a .json file exported from Rooms.') from None
    except RecursionError:
        raise ImportRejected('The file is nested too deeply to be a Rooms export.') from None
    except ValueError as e:
        raise ImportRejected(f'The file is not valid JSON ({e}); choose a .json file exported from Rooms.') from None
    if not isinstance(document, dict) or document.get('format') != EXPORT_FORMAT:
        raise ImportRejected(f'This is not a Rooms export: it lacks "format": "{EXPORT_FORMAT}". '
                             'Export a room with /api/rooms/<id>/export.json.')
    version = document.get('version')
    if version != EXPORT_VERSION or isinstance(version, bool):
        raise ImportRejected(f'The export has version {json.dumps(version)}; this Rooms reads version '
                             f'{EXPORT_VERSION}.')
    records = document.get('messages')
    if not isinstance(records, list):
        raise ImportRejected('The export has no "messages" list.')
    if not records:
        raise ImportRejected('The export has no messages; there is nothing to import.')
    _check_list(records, 'Message', set(), depth=0)
    renumbered = _renumbered(records)
    messages = []
    for index, record in enumerate(renumbered, start=1):
        try:
            messages.append(message_from_record(record))
        except (ValueError, TypeError, KeyError) as e:  # a field models.py knows and this check does not
            raise ImportRejected(f'Message {index}: it cannot be read ({e}).') from None
    return ParsedExport(messages, clean_name(document.get('title')))


def _check_list(records: list[Any], where: str, ids: set[str], depth: int) -> None:
    """Check messages in order (ids unique in the whole file, seqs increasing); raise ImportRejected."""
    last_seq: int | None = None
    for index, record in enumerate(records, start=1):
        place = f'{where} {index}'
        problem = _check_record(record)
        if problem is None:
            if record['id'] in ids:
                problem = f'its id {record["id"]!r} is used twice'
            elif last_seq is not None and record['seq'] <= last_seq:
                problem = f'its seq {record["seq"]} does not come after the previous one ({last_seq})'
        if problem is not None:
            raise ImportRejected(f'{place}: {problem}.')
        ids.add(record['id'])
        last_seq = record['seq']
        for number, version in enumerate(record.get('versions') or [], start=1):
            if depth >= MAX_VERSION_DEPTH:
                raise ImportRejected(f'{place}: its versions are nested more than {MAX_VERSION_DEPTH} deep.')
            if (problem := _check_version(version)) is not None:
                raise ImportRejected(f'{place}, version {number}: {problem}.')
            _check_list(version['tail'], f'{place}, version {number}, message', ids, depth + 1)


def _check_record(record: Any) -> str | None:
    """What is wrong with one message record (not counting its versions' messages), or None."""
    if not isinstance(record, dict):
        return 'it is not an object'
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        return f'it lacks {", ".join(missing)}'
    if not isinstance(record['id'], str) or not MESSAGE_ID_PATTERN.fullmatch(record['id']):
        return '"id" must be 1 to 64 letters, digits, - or _'
    if not is_count(record['seq']):
        return f'"seq" must be a whole number from 0 to {MAX_COUNT:,}'
    if record['role'] not in ('user', 'assistant'):
        return '"role" must be "user" or "assistant"'
    if (problem := _check_fields(record)) is not None:
        return problem
    usage = record.get('usage')
    if usage is not None and (not isinstance(usage, dict) or not all(is_count(v) for v in usage.values())):
        return '"usage" must be null or an object of token counts'
    if record.get('left_out') is not None and not is_count(record['left_out']):
        return f'"left_out" must be a whole number from 0 to {MAX_COUNT:,}'
    versions = record.get('versions')
    if versions is not None and not isinstance(versions, list):
        return '"versions" must be a list'
    position = record.get('version', len(versions or []))
    if not is_count(position) or position > len(versions or []):
        return f'"version" must be a whole number from 0 to {len(versions or [])}'
    return None


def _check_version(version: Any) -> str | None:
    if not isinstance(version, dict):
        return 'it is not an object'
    missing = [key for key in (*REQUIRED_VERSION_FIELDS, 'tail') if key not in version]
    if missing:
        return f'it lacks {", ".join(missing)}'
    if not isinstance(version['tail'], list):
        return '"tail" must be a list of messages'
    return _check_fields(version)


def _check_fields(record: dict[str, Any]) -> str | None:
    """The fields a message shares with its versions."""
    if not isinstance(record['content'], str):
        return '"content" must be text'
    if not isinstance(record['status'], str) or record['status'] not in {str(s) for s in Status}:
        return f'"status" must be one of {", ".join(str(s) for s in Status)}'
    created = record['created_at']  # NaN compares false; a 400-digit int compares without overflowing
    if not isinstance(created, int | float) or isinstance(created, bool) or not 0 <= created <= MAX_TIME:
        return '"created_at" must be a time in epoch seconds, before the year 10000'
    for key in OPTIONAL_TEXT:
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            return f'"{key}" must be text or null'
    for key in ('author', 'model'):
        if len(record.get(key) or '') > NAME_CHARS:
            return f'"{key}" is longer than {NAME_CHARS} characters'
    return None


def _renumbered(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies with seqs 1..n for the shown messages, then fresh ones for the messages kept in versions.

    Messages of a version follow the message owning it, so their seqs must be higher than its seq and
    increasing in their order: numbering level by level after all shown messages gives exactly that.
    """
    seqs = itertools.count(1)
    shown = [_fresh(record, next(seqs)) for record in records]
    queue = list(shown)
    for record in queue:  # grows while it is walked: breadth first through nested versions
        versions = []
        for version in record.get('versions') or []:
            tail = [_fresh(message, next(seqs)) for message in version['tail']]
            queue += tail
            versions.append({**version, 'status': _settled(version['status']), 'tail': tail})
        record['versions'] = versions
    return shown


def _fresh(record: dict[str, Any], seq: int) -> dict[str, Any]:
    # no author id: nobody on this server wrote an imported message, so nobody can edit it (its name stays)
    return {**record, 'seq': seq, 'status': _settled(record['status']), 'author_id': None}


def _settled(status: str) -> str:
    return str(Status.INTERRUPTED) if status == Status.STREAMING else status
