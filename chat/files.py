"""Files attached to messages: the one check of what a file is (decided by its bytes, never its name), and the store
that keeps them beside the rooms, one copy per content.

`<data>/files/<room id>/<sha256 hex>` holds a file's bytes, `<sha256 hex>.json` its name, media type and size, and for
an image larger than Claude takes as it is, `<sha256 hex>.api` the scaled-down copy sent instead (and shown as the
thumbnail). Nothing of a file is in a room's TinyDB file. Everything here blocks: callers run it off the event loop.
The only Pillow import.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from PIL import Image, ImageOps

from .atomic import atomic_write
from .errors import FileRejected, MessageRejected
from .models import (
    FILE_ID_PATTERN,
    IMAGE_TYPES,
    MAX_ATTACHMENTS,
    MEDIA_TYPES,
    PDF_TYPE,
    Attachment,
    clean_name,
    describe_size,
    file_url,
    is_valid_room_id,
)
from .records import is_count

MB = 1024 * 1024
MAX_FILE_BYTES = 20 * MB
"""The largest image or PDF. A PDF goes to Claude as base64 (a third larger) inside the API's 32 MB request limit."""
MAX_TEXT_BYTES = 512 * 1024
"""The largest text file: some 150,000 tokens, most of Claude's context window."""
MAX_PIXELS = 50_000_000
"""The largest image in pixels: decoding a bigger one takes more memory than a chat app should spend on it."""
API_EDGE = 1568
"""The longest side of an image Claude gets: the API recommends it (it scales larger ones down itself, more slowly)."""
API_IMAGE_BYTES = 3_750_000
"""The largest image Claude gets as it is: its base64 must stay under the API's 5 MB per image."""
FILE_NAME_CHARS = 120
TYPES_TEXT = 'images (PNG, JPEG, GIF, WebP), PDFs and text files (UTF-8: code, Markdown, CSV, JSON, ...)'
LIMITS_TEXT = (f'Images (PNG, JPEG, GIF, WebP) and PDFs up to {MAX_FILE_BYTES // MB} MB, text files (code, Markdown, '
               f'CSV, JSON, ...) up to {MAX_TEXT_BYTES // 1024} KB; up to {MAX_ATTACHMENTS} files per message.')
"""The limits in words, as the composer and the 413 answers state them."""
MAGIC = ((b'\x89PNG\r\n\x1a\n', 'image/png'), (b'\xff\xd8\xff', 'image/jpeg'), (b'GIF87a', 'image/gif'),
         (b'GIF89a', 'image/gif'), (b'%PDF-', PDF_TYPE))
TEXT_BY_EXTENSION = {'.md': 'text/markdown', '.markdown': 'text/markdown', '.csv': 'text/csv',
                     '.json': 'application/json'}
"""A text file's media type is guessed from its name (only once its bytes show it is text); text/plain otherwise."""
PILLOW_FORMATS = {'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/gif': 'GIF', 'image/webp': 'WEBP'}
EXIF_ORIENTATION = 0x0112
STALE_TEMP_SECONDS = 3600.0


PAGE_OBJECT = re.compile(rb'/Type\s*/Page(?![A-Za-z])')
OBJECT_STREAM = re.compile(rb'/Type\s*/ObjStm\b.{0,400}?stream\r?\n', re.DOTALL)
OBJECT_STREAM_BYTES = 16 * MB
"""Most of a PDF's object streams read to count its pages (a page object takes some 100 bytes)."""


def pdf_pages(data: bytes) -> int:
    """About how many pages a PDF has, counted without parsing it: its page objects (`/Type /Page`), in the file and in
    its compressed object streams (PDF 1.5); at least 1. The API takes 100 pages a request (turns.fit_turns)."""
    count = len(PAGE_OBJECT.findall(data))
    budget = OBJECT_STREAM_BYTES
    for match in OBJECT_STREAM.finditer(data):
        if budget <= 0:
            break
        with contextlib.suppress(zlib.error):
            objects = zlib.decompressobj().decompress(memoryview(data)[match.end():], budget)
            budget -= len(objects)
            count += len(PAGE_OBJECT.findall(objects))
    return max(1, count)


def media_type_of(data: bytes, name: str) -> str:
    """What the file is, by its bytes: an image or PDF by its magic number, text when it is UTF-8 without NUL bytes.
    Raises FileRejected (415) for anything else."""
    for magic, media_type in MAGIC:
        if data.startswith(magic):
            return media_type
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'image/webp'
    if b'\0' not in data:
        with contextlib.suppress(UnicodeDecodeError):
            data.decode('utf-8')
            return TEXT_BY_EXTENSION.get(PurePosixPath(name).suffix.lower(), 'text/plain')
    raise FileRejected(f'{name} is not a file Claude can read. Attach {TYPES_TEXT}.', status=415)


@dataclass(slots=True, frozen=True)
class Checked:
    """An accepted file: its media type and, for an image too large to send as it is, the copy Claude gets."""

    media_type: str
    api_copy: tuple[str, bytes] | None = None


def check(data: bytes, name: str) -> Checked:
    """The one check of an uploaded or imported file; raises FileRejected with the reason and the HTTP status."""
    if not data:
        raise FileRejected(f'{name} is empty; there is nothing to attach.', status=400)
    media_type = media_type_of(data, name)
    limit = MAX_TEXT_BYTES if media_type not in (*IMAGE_TYPES, PDF_TYPE) else MAX_FILE_BYTES
    if len(data) > limit:
        other = f'images and PDFs: {describe_size(MAX_FILE_BYTES)}' if limit == MAX_TEXT_BYTES else \
            f'text files: {describe_size(MAX_TEXT_BYTES)}'
        raise FileRejected(f'{name} has {describe_size(len(data))}; the limit is {describe_size(limit)} for '
                           f'{"a text file" if limit == MAX_TEXT_BYTES else "an image or a PDF"} ({other}).',
                           status=413)
    if media_type in IMAGE_TYPES:
        return Checked(media_type, _api_copy(data, media_type, name))
    return Checked(media_type)


def _api_copy(data: bytes, media_type: str, name: str) -> tuple[str, bytes] | None:
    """The image as Claude should get it (upright, at most API_EDGE a side and API_IMAGE_BYTES), or None when the file
    is that already. Raises FileRejected when it is damaged or has too many pixels."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise FileRejected(f'{name} has {image.width}x{image.height} pixels; the limit is '
                                   f'{MAX_PIXELS // 1_000_000} megapixels.', status=413)
            if image.format != PILLOW_FORMATS[media_type]:
                raise ValueError(f'a {image.format} image')
            image.load()  # a truncated or damaged file fails here, not at the API
            turned = image.getexif().get(EXIF_ORIENTATION, 1) not in (0, 1)
            if max(image.size) <= API_EDGE and len(data) <= API_IMAGE_BYTES and not turned:
                return None
            return _scaled(image, media_type)
    except FileRejected:
        raise
    except Image.DecompressionBombError:
        raise FileRejected(f'{name} has too many pixels; the limit is {MAX_PIXELS // 1_000_000} megapixels.',
                           status=413) from None
    except Exception:  # Pillow raises OSError, SyntaxError, ValueError, EOFError... for a damaged image
        raise FileRejected(f'{name} looks like a {PILLOW_FORMATS[media_type]} image but cannot be read (it is damaged '
                           'or cut off). Attach it again, or another one.', status=415) from None


def _scaled(image: Image.Image, media_type: str) -> tuple[str, bytes]:
    frame = ImageOps.exif_transpose(image)  # Claude does not read EXIF: send what a browser shows
    alpha = frame.mode in ('RGBA', 'LA', 'PA') or 'transparency' in frame.info
    frame = frame.convert('RGBA' if alpha else 'RGB')
    frame.thumbnail((API_EDGE, API_EDGE), Image.Resampling.LANCZOS)
    if media_type != 'image/jpeg':
        encoded = _encoded(frame, 'PNG')
        if len(encoded) <= API_IMAGE_BYTES:
            return 'image/png', encoded
    if alpha:  # JPEG has no transparency: flatten on white, as the image shows on a light page
        flat = Image.new('RGB', frame.size, 'white')
        flat.paste(frame, mask=frame.getchannel('A'))
        frame = flat
    return 'image/jpeg', _encoded(frame, 'JPEG')


def _encoded(image: Image.Image, image_format: str) -> bytes:
    out = io.BytesIO()
    image.save(out, image_format, **({'quality': 85, 'optimize': True} if image_format == 'JPEG' else {}))
    return out.getvalue()


def file_name(value: object) -> str:
    """An uploaded file's name as a room keeps it: the last part of any path, one cleaned line, bounded."""
    name = clean_name(value.replace('\\', '/').rsplit('/', 1)[-1] if isinstance(value, str) else None,
                      FILE_NAME_CHARS)
    return name or 'file'


@dataclass(slots=True, frozen=True)
class Stored:
    """Where a stored file's bytes are: a path on disk, or the bytes themselves (in memory)."""

    attachment: Attachment
    media_type: str
    """What is served: the file's own type, or the type of its scaled-down copy (a preview)."""
    path: Path | None = None
    data: bytes | None = None


class FileStore:
    """The files of every room under one folder; `root=None` keeps them in memory (tests, throwaway rooms)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._memory: dict[tuple[str, str], tuple[dict[str, Any], bytes, bytes | None]] = {}

    def put(self, room_id: str, data: bytes, name: object) -> Attachment:
        """Check and keep a file for a room; the same bytes are kept once. Raises FileRejected."""
        name = file_name(name)
        checked = check(data, name)
        file_id = hashlib.sha256(data).hexdigest()
        api = checked.api_copy
        meta = {'name': name, 'media_type': checked.media_type, 'size': len(data),
                'api': {'media_type': api[0], 'size': len(api[1])} if api else None}
        if self.root is None:
            self._memory[(room_id, file_id)] = (meta, data, api[1] if api else None)
        else:
            folder = self.folder(room_id)
            folder.mkdir(parents=True, exist_ok=True)
            _remove_stale_temps(folder)
            if not (folder / file_id).exists():
                atomic_write(folder / file_id, data, unique=True)
            if api is not None:
                atomic_write(folder / f'{file_id}.api', api[1], unique=True)
            # last: now the file exists
            atomic_write(folder / f'{file_id}.json', json.dumps(meta).encode(), unique=True)
        return Attachment(file_id, name, checked.media_type, len(data), file_url(room_id, file_id))

    def attachment(self, room_id: str, file_id: str) -> Attachment | None:
        """The file of this id in the room, None when there is none."""
        meta = self._meta(room_id, file_id)
        if meta is None:
            return None
        return Attachment(file_id, meta['name'], meta['media_type'], meta['size'], file_url(room_id, file_id))

    def attachments(self, room_id: str, file_ids: Sequence[str]) -> tuple[Attachment, ...]:
        """The room's files of these ids for a message, in order, each once; raises MessageRejected naming an unknown
        one, or when there are too many. Blocking."""
        ids = list(dict.fromkeys(file_ids))
        if len(ids) > MAX_ATTACHMENTS:
            raise MessageRejected(f'A message can carry {MAX_ATTACHMENTS} files; this one has {len(ids)}. '
                                  'Send the others in another message.')
        found = []
        for file_id in ids:
            attachment = self.attachment(room_id, file_id)
            if attachment is None:
                raise MessageRejected(f'There is no file {clean_name(str(file_id), 80)!r} in this room: upload it '
                                      f'first (POST /api/rooms/{room_id}/files), then send its id.')
            found.append(attachment)
        return tuple(found)

    def stored(self, room_id: str, file_id: str, *, preview: bool = False) -> Stored | None:
        """Where the file's bytes are (with `preview`, those of its scaled-down copy if it has one), or None."""
        meta = self._meta(room_id, file_id)
        if meta is None:
            return None
        attachment = self.attachment(room_id, file_id)
        assert attachment is not None
        copy = preview and meta['api'] is not None
        media_type = meta['api']['media_type'] if copy else meta['media_type']
        if self.root is None:
            _, data, api = self._memory[(room_id, file_id)]
            return Stored(attachment, media_type, data=api if copy else data)
        path = self.folder(room_id) / (f'{file_id}.api' if copy else file_id)
        return Stored(attachment, media_type, path=path) if path.is_file() else None

    def for_model(self, room_id: str, file_id: str) -> tuple[str, bytes] | None:
        """The media type and bytes Claude gets for a file (an image's scaled-down copy if it has one), or None when
        the file is gone."""
        stored = self.stored(room_id, file_id, preview=True)
        data = None if stored is None else _bytes_of(stored)
        return None if stored is None or data is None else (stored.media_type, data)

    def read(self, room_id: str, file_id: str) -> bytes | None:
        """A file's own bytes (an export carries them), or None."""
        stored = self.stored(room_id, file_id)
        return None if stored is None else _bytes_of(stored)

    def folder(self, room_id: str) -> Path:
        """`<root>/<room id>`; the room id is checked first, so no other folder can be named."""
        if not is_valid_room_id(room_id) or self.root is None:
            raise ValueError(f'no folder for room {room_id!r}')
        return self.root / room_id

    def trash(self, room_id: str, target: Path | None) -> None:
        """Move a room's files to `target` (into the data dir's trash with the room's file); in memory, drop them."""
        if self.root is None or target is None:
            for key in [key for key in self._memory if key[0] == room_id]:
                del self._memory[key]
            return
        folder = self.folder(room_id)
        if folder.is_dir():
            os.replace(folder, target)

    def _meta(self, room_id: str, file_id: str) -> dict[str, Any] | None:
        if not is_valid_room_id(room_id) or FILE_ID_PATTERN.fullmatch(file_id) is None:
            return None
        if self.root is None:
            found = self._memory.get((room_id, file_id))
            return found[0] if found else None
        try:
            return _meta_of(json.loads((self.folder(room_id) / f'{file_id}.json').read_bytes()))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (ValueError, RecursionError):  # a damaged note: the file is as good as gone
            return None


def _bytes_of(stored: Stored) -> bytes | None:
    if stored.data is not None or stored.path is None:
        return stored.data
    try:
        return stored.path.read_bytes()
    except FileNotFoundError:  # removed by hand since its note was read
        return None


def _meta_of(meta: Any) -> dict[str, Any] | None:
    """A file's note as read back, cleaned; None when it is not one this store writes."""
    if not isinstance(meta, dict) or meta.get('media_type') not in MEDIA_TYPES or not is_count(meta.get('size')):
        return None
    api = meta.get('api')
    return {'name': file_name(meta.get('name')), 'media_type': meta['media_type'], 'size': meta['size'],
            'api': api if isinstance(api, dict) and api.get('media_type') in IMAGE_TYPES else None}


def _remove_stale_temps(folder: Path) -> None:
    """Temp files of uploads a crash interrupted (an upload in progress is younger than STALE_TEMP_SECONDS)."""
    now = time.time()
    for temp in folder.glob('.*.tmp'):
        with contextlib.suppress(OSError):
            if now - temp.stat().st_mtime > STALE_TEMP_SECONDS:
                temp.unlink()
