"""One way to replace a file so that a crash at any moment leaves the old or the new one, never half of either."""
from __future__ import annotations

import os
import uuid
from pathlib import Path


def atomic_write(path: Path, data: str | list[str] | bytes, *, unique: bool = False) -> None:
    """Replace `path` with `data` (text, text pieces written in order, or bytes): a temp file beside it is written,
    fsynced and renamed over it, then the folder is fsynced.

    :param unique: a temp name of its own for each call, for files that several threads may write at once (the same
        upload twice); otherwise the temp is `.<name>.<pid>.tmp`, which a room's next opening knows to clean up
    """
    temp = path.with_name(f'.{uuid.uuid4().hex}.tmp' if unique else f'.{path.name}.{os.getpid()}.tmp')
    try:
        if isinstance(data, bytes):
            with open(temp, 'wb') as binary:
                binary.write(data)
                binary.flush()
                os.fsync(binary.fileno())
        else:
            with open(temp, 'w', encoding='utf-8') as file:
                file.writelines([data] if isinstance(data, str) else data)
                file.flush()
                os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
