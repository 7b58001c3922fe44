"""A room as a JSON export, and the strict check of such a file before it becomes a new room. No I/O here.

Attached files travel inside the export: a top-level `"files"` object maps each file id to its name, media type, size
and bytes (`"data"`, base64); an import checks them like an upload and keeps them for the new room.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import FileRejected, ImportRejected, ImportTooLarge
from .files import check, file_name
from .models import (
    FILE_ID_PATTERN,
    MAX_ATTACHMENTS,
    MAX_COUNT,
    MAX_TIME,
    MAX_VERSION_DEPTH,
    MEDIA_TYPES,
    MESSAGE_ID_PATTERN,
    NAME_CHARS,
    REQUIRED_VERSION_FIELDS,
    Message,
    RoomSettings,
    Status,
    clean_name,
    file_url,
)
from .records import is_count, message_from_record, message_to_record, settings_from_record, settings_to_record
from .titles import imported_title, title_from

EXPORT_FORMAT = 'rooms-export'
EXPORT_VERSION = 1
MAX_IMPORT_BYTES = 100 * 1024 * 1024
"""The largest export file an import accepts: room for a few of the largest attachments (20 MB each, a third more as
base64), still parsed in memory in a second or two."""
REQUIRED = ('id', 'seq', 'role', 'content', 'status', 'created_at')
OPTIONAL_TEXT = ('author', 'model', 'error')
IMPORTED_FROM = 'import'
"""The room an imported message's files seem to be in until Rooms.import_room moves them to the new room."""
EXPORT_AGAIN = 'Export the room again (its "Export as JSON" button on the home page) and import the new file.'
NOT_AN_EXPORT = ('This file is not a Rooms export{why}. Export a room with its "Export as JSON" button on the home '
                 'page and import that file.')


def export_document(room_id: str, title: str, messages: Iterable[Message], *, now: float | None = None,
                    settings: RoomSettings | None = None) -> dict[str, Any]:
    """Everything of a room that an import needs, with a format marker so the file explains itself."""
    document = {
        'format': EXPORT_FORMAT,
        'version': EXPORT_VERSION,
        'room': room_id,
        'title': title,
        'exported_at': time.time() if now is None else now,
        'messages': [message_to_record(message) for message in messages],
    }
    if settings is not None:  # the room's own settings (None: the app's default), its title aside
        document['settings'] = {k: v for k, v in settings_to_record(settings).items() if k != 'title'}
    return document


def with_files(document: dict[str, Any], read: Callable[[str], bytes | None]) -> dict[str, Any]:
    """The export with the bytes of every file its messages (and their versions) carry, read with `read` (file id ->
    bytes, None when gone: that attachment is left out on import). Blocking."""
    attachments: dict[str, dict[str, Any]] = {}
    for record in _every_record(document['messages']):
        for item in record.get('attachments') or []:
            attachments.setdefault(item['id'], item)
    files = {}
    for file_id, item in attachments.items():
        if (data := read(file_id)) is not None:
            files[file_id] = {'name': item['name'], 'media_type': item['media_type'], 'size': len(data),
                              'data': base64.b64encode(data).decode('ascii')}
    return {**document, 'files': files}


def _every_record(records: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for record in records:
        yield record
        for version in record.get('versions') or []:
            yield from _every_record(version['tail'])


def encode_json(document: Any) -> bytes:
    """UTF-8 JSON; text with a lone surrogate (valid in browser JSON, not in UTF-8) is \\u-escaped instead."""
    try:
        return json.dumps(document, ensure_ascii=False).encode('utf-8')
    except UnicodeEncodeError:
        return json.dumps(document, ensure_ascii=True).encode('ascii')


def too_large(size: int) -> ImportTooLarge:
    mb = 1024 * 1024
    return ImportTooLarge(f'This file is too large to import: it has {size / mb:.1f} MB, and the limit is '
                          f'{MAX_IMPORT_BYTES // mb} MB. A room with many or large attached files exports too large: '
                          'import a smaller export.')


@dataclass(slots=True, frozen=True)
class ParsedExport:
    """What an accepted export becomes: its messages (checked, seq 1..n), the new room's title (its source's, marked
    as imported, so the two can be told apart), and the files they carry (id -> name and bytes, checked like uploads;
    their urls name the room IMPORTED_FROM until Rooms.import_room moves them)."""

    messages: list[Message]
    title: str
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    settings: RoomSettings = field(default_factory=RoomSettings)
    """The room's settings the export carries (reply mode, system prompt, ...), cleaned like a room file's."""


def parse_export(data: bytes | str) -> ParsedExport:
    """The messages and title of an export, checked field by field, numbered 1..n in their order. Blocking: run it
    off the event loop (an export may have 100 MB).

    Raises ImportRejected on anything a room could not hold: nothing is created from a file that fails. Messages kept
    in earlier versions (regenerate, edit) are checked the same way and numbered after the shown ones, so no seq is
    used twice. Every message, at every level, is then converted by the code that reads room files
    (records.message_from_record), so what an import accepts opens like a room that was never exported. A reply still
    `streaming` when it was exported can never finish, so it comes back `interrupted`.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise too_large(len(data))
    try:
        text = data.decode('utf-8-sig') if isinstance(data, bytes) else data
        document = json.loads(text)
    except UnicodeDecodeError:
        raise ImportRejected(NOT_AN_EXPORT.format(why=' (it is not UTF-8 text)')) from None
    except RecursionError:
        raise ImportRejected(NOT_AN_EXPORT.format(why=' (its JSON is nested too deeply)')) from None
    except json.JSONDecodeError as e:
        raise ImportRejected(f'This file is not a Rooms export: it is not valid JSON (the first error is at line '
                             f'{e.lineno}, column {e.colno}). If it was an export, it was cut short or changed by '
                             f'hand. {EXPORT_AGAIN}') from None
    except ValueError as e:  # valid JSON Python refuses to read, such as a number of 5,000 digits
        raise ImportRejected(f'This file is not a Rooms export: it cannot be read ({e}). {EXPORT_AGAIN}') from None
    if not isinstance(document, dict) or document.get('format') != EXPORT_FORMAT:
        raise ImportRejected(NOT_AN_EXPORT.format(why=''))
    version = document.get('version')
    if version != EXPORT_VERSION or isinstance(version, bool):
        raise ImportRejected(f'This export was made by another version of Rooms (format version {json.dumps(version)}; '
                             f'this one reads version {EXPORT_VERSION}). Update this Rooms, or import the file into '
                             'the Rooms it came from.')
    records = document.get('messages')
    if not isinstance(records, list):
        raise damaged('there is no "messages" list')
    if not records:
        raise ImportRejected('This export holds no messages, so there is nothing to import. Export a room that has '
                             'messages.')
    _check_list(records, 'Message', set(), depth=0)
    files = _files(document.get('files'), {item['id'] for record in _every_record(records)
                                           for item in record.get('attachments') or []})
    renumbered = _renumbered(records, set(files))
    messages = []
    for index, record in enumerate(renumbered, start=1):
        try:
            messages.append(message_from_record(record))
        except (ValueError, TypeError, KeyError) as e:  # a field models.py knows and this check does not
            raise damaged(f'message {index} cannot be read: {e}') from None
    settings = dataclasses.replace(settings_from_record(document.get('settings')), title=None)
    title = imported_title(clean_name(document.get('title')) or title_from(messages), NAME_CHARS)
    return ParsedExport(messages, title, files, settings)


def damaged(problem: str) -> ImportRejected:
    """A refusal of a file that is a Rooms export but not one Rooms wrote like this: what is wrong, and what to do."""
    return ImportRejected(f'This export is damaged or was changed by hand ({problem}). {EXPORT_AGAIN}')


def _files(value: Any, wanted: set[str]) -> dict[str, tuple[str, bytes]]:
    """The files of the export that its messages carry, each checked: its bytes must be its id's and pass the check of
    an upload (files.check). Raises ImportRejected."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise damaged('"files" must be an object of file ids and files')
    found = {}
    for file_id in sorted(wanted):
        item = value.get(file_id)
        if item is None:
            continue  # a file gone from the exported room: its attachment is left out
        place = f'File {file_id[:12]}…'
        if not isinstance(item, dict) or not isinstance(item.get('data'), str):
            raise damaged(f'{place}: it must be an object with its bytes in "data" (base64)')
        try:
            data = base64.b64decode(item['data'], validate=True)
        except (ValueError, binascii.Error):
            raise damaged(f'{place}: its "data" is not base64') from None
        if hashlib.sha256(data).hexdigest() != file_id:
            raise damaged(f'{place}: its bytes do not match its id')
        name = file_name(item.get('name'))
        try:
            check(data, name)
        except FileRejected as e:
            raise ImportRejected(f'This export carries an attached file that this Rooms cannot keep ({place}: '
                                 f'{str(e).rstrip(".")}). Import it into the Rooms it was exported from, or export '
                                 'the room again without that file.') from None
        found[file_id] = (name, data)
    return found


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
            raise damaged(f'{place}: {problem}')
        ids.add(record['id'])
        last_seq = record['seq']
        for number, version in enumerate(record.get('versions') or [], start=1):
            if depth >= MAX_VERSION_DEPTH:
                raise damaged(f'{place}: its versions are nested more than {MAX_VERSION_DEPTH} deep')
            if (problem := _check_version(version)) is not None:
                raise damaged(f'{place}, version {number}: {problem}')
            _check_list(version['tail'], f'{place}, version {number}, message', ids, depth + 1)


def _check_record(record: Any) -> str | None:
    """What is wrong with one message record (not counting its versions' messages), or None."""
    if not isinstance(record, dict):
        return 'it is not an object'
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        return f'it has no {", ".join(missing)}'
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
    return _check_attachments(record.get('attachments'))


def _check_attachments(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        return f'"attachments" must be a list of at most {MAX_ATTACHMENTS} files'
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get('id'), str) \
                or FILE_ID_PATTERN.fullmatch(item['id']) is None:
            return 'each attachment must have the "id" of a file (64 hex digits)'
        if not isinstance(item.get('name'), str) or item.get('media_type') not in MEDIA_TYPES \
                or not is_count(item.get('size')):
            return 'each attachment must have a "name", a "media_type" Claude reads and a "size"'
    return None


def _check_version(version: Any) -> str | None:
    if not isinstance(version, dict):
        return 'it is not an object'
    missing = [key for key in (*REQUIRED_VERSION_FIELDS, 'tail') if key not in version]
    if missing:
        return f'it has no {", ".join(missing)}'
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


def _renumbered(records: list[dict[str, Any]], files: set[str]) -> list[dict[str, Any]]:
    """Copies with seqs 1..n for the shown messages, then fresh ones for the messages kept in versions.

    Messages of a version follow the message owning it, so their seqs must be higher than its seq and
    increasing in their order: numbering level by level after all shown messages gives exactly that.
    """
    seqs = itertools.count(1)
    shown = [_fresh(record, next(seqs), files) for record in records]
    queue = list(shown)
    for record in queue:  # grows while it is walked: breadth first through nested versions
        versions = []
        for version in record.get('versions') or []:
            tail = [_fresh(message, next(seqs), files) for message in version['tail']]
            queue += tail
            versions.append({**version, 'status': _settled(version['status']), 'tail': tail})
        record['versions'] = versions
    return shown


def _fresh(record: dict[str, Any], seq: int, files: set[str]) -> dict[str, Any]:
    # no author id: nobody on this server wrote an imported message, so nobody can edit it (its name stays)
    attachments = [{**item, 'url': file_url(IMPORTED_FROM, item['id'])} for item in record.get('attachments') or []
                   if item['id'] in files]
    return {**record, 'seq': seq, 'status': _settled(record['status']), 'author_id': None, 'attachments': attachments}


def _settled(status: str) -> str:
    return str(Status.INTERRUPTED) if status == Status.STREAMING else status
