"""The words a room is known by: titles made from its messages. Pure functions, no I/O."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Message


def title_from(messages: Sequence[Message], words: int = 8) -> str:
    """A room's title: the first words of its first message."""
    for message in messages:
        text = ' '.join(message.content.split()) or ' '.join(a.name for a in message.attachments)
        if text:
            parts = text.split(' ')
            return ' '.join(parts[:words]) + (' …' if len(parts) > words else '')
    return 'Empty room'
