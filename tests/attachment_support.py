"""Shared by the attachment tests (test_attachments*.py): files to upload (images of any size and format, a small
PDF), a person, and the files API called in-process."""
from __future__ import annotations

import io
from pathlib import Path

import httpx
from PIL import Image

from chat.models import Person

ANN = Person('a1b2c3d4e5f60718', 'Ann')
PDF = (b'%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj '
       b'3 0 obj<</Type/Page/MediaBox[0 0 200 200]/Parent 2 0 R>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n')


def image(width: int, height: int, image_format: str = 'PNG', color: tuple[int, int, int] = (200, 60, 40)) -> bytes:
    out = io.BytesIO()
    Image.new('RGB', (width, height), color).save(out, image_format)
    return out.getvalue()


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as picture:
        return picture.size


async def upload(http: httpx.AsyncClient, room: str, name: str, data: bytes) -> httpx.Response:
    return await http.post(f'/api/rooms/{room}/files', files={'file': (name, data, 'application/octet-stream')})


def stored_names(data_dir: Path, room: str) -> list[str]:
    folder = data_dir / 'files' / room
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []
