"""Room links: a key per room that opens that room only, derived from a secret kept in the data dir.

A room's key is an HMAC of its id and its link generation, so keys survive restarts without being stored, and
"new link" (the generation goes up by one) makes the old key worthless at once. The secret and the generations
live in one small file, `.room-links.json` in the data dir, replaced atomically; this class is its only writer.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
from pathlib import Path

from .atomic import atomic_write
from .models import is_valid_room_id

log = logging.getLogger(__name__)

LINKS_FILE = '.room-links.json'
KEY_CHARS = 24
"""Characters of a room key: 144 bits of the HMAC, as many as the owner token has."""


class RoomLinks:
    """The keys of room links. Without a data dir (tests) the secret lives in memory only."""

    def __init__(self, data_dir: Path | None) -> None:
        self.path = data_dir / LINKS_FILE if data_dir is not None else None
        self._lock = threading.Lock()
        self._secret, self._generations = self._load()

    def key(self, room_id: str) -> str:
        """The key that opens `room_id` (and nothing else) until the room's link is renewed: `<room id>.<MAC>`.

        The room id in it lets a key name its room wherever it is given (a link to another page, a script's header).
        """
        generation = self._generations.get(room_id, 0)
        digest = hmac.new(self._secret, f'room\0{room_id}\0{generation}'.encode(), hashlib.sha256).digest()
        return f'{room_id}.{base64.urlsafe_b64encode(digest).decode()[:KEY_CHARS]}'

    @staticmethod
    def room_of(key: str) -> str | None:
        """The room a key claims to open (check it with `opens`), or None when it is not shaped like a room key."""
        room_id, dot, mac = key.rpartition('.')
        return room_id if dot and len(mac) == KEY_CHARS and is_valid_room_id(room_id) else None

    def opens(self, room_id: str, key: str) -> bool:
        """True when `key` is the current key of `room_id`; constant time."""
        return hmac.compare_digest(key.encode(), self.key(room_id).encode())

    def renew(self, room_id: str) -> str:
        """Make a new key for the room; the old one stops working at once. Blocking (writes the file)."""
        with self._lock:
            self._generations[room_id] = self._generations.get(room_id, 0) + 1
            self._save()
        return self.key(room_id)

    def _load(self) -> tuple[bytes, dict[str, int]]:
        if self.path is None:
            return secrets.token_bytes(32), {}
        try:
            data = json.loads(self.path.read_text(encoding='utf-8'))
            secret = bytes.fromhex(data['secret'])
            generations = {str(k): int(v) for k, v in data.get('generations', {}).items()}
            if len(secret) < 32:
                raise ValueError('the secret is too short')
            return secret, generations
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            # a damaged file: keep it for whoever wants to look, start over (every room link changes)
            aside = self.path.with_name(f'{LINKS_FILE}.damaged')
            log.error('%s is damaged (%s); moved to %s, every room gets a new link', self.path, e, aside.name)
            os.replace(self.path, aside)
        self._secret, self._generations = secrets.token_bytes(32), {}
        self._save()
        return self._secret, self._generations

    def _save(self) -> None:
        if self.path is None:
            return
        text = json.dumps({'secret': self._secret.hex(), 'generations': self._generations})
        atomic_write(self.path, text)
        os.chmod(self.path, 0o600)  # the secret makes every room's link: only the owner's account may read it
