"""Versions of a message: a regenerated reply or an edited text keeps what it replaced, reachable again.

A version is the message's content and status plus the messages that followed it, so flipping back to an
edited message's old text also brings back the conversation that answered it. Pure functions, no I/O.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from .models import VERSION_FIELDS, Message, Status
from .records import message_from_record, message_to_record, usage_from_record


def keep_as_previous(message: Message, tail: Sequence[Message]) -> None:
    """Shelve the shown version with the messages after it; the version about to be written goes last."""
    message.versions.insert(message.version, _snapshot(message, tail))
    message.version = len(message.versions)


def switch_to(message: Message, tail: Sequence[Message], position: int) -> list[Message]:
    """Show version `position` (0-based) instead of the current one; returns the messages that follow it."""
    every = [*message.versions[:message.version], _snapshot(message, tail), *message.versions[message.version:]]
    if not 0 <= position < len(every):
        raise IndexError(position)
    chosen = every.pop(position)
    message.versions, message.version = every, position
    for name in VERSION_FIELDS:
        setattr(message, name, Status(chosen[name]) if name == 'status' else chosen[name])
    message.usage = usage_from_record(chosen.get('usage'))
    return [message_from_record(record) for record in chosen['tail']]


def highest_seq(messages: Sequence[Message]) -> int:
    """The largest seq in use, shelved versions included, so a new message never reuses one."""
    high = 0
    for message in messages:
        high = max(high, message.seq)
        for version in message.versions:
            high = max(high, highest_seq([message_from_record(r) for r in version['tail']]))
    return high


def _snapshot(message: Message, tail: Sequence[Message]) -> dict[str, Any]:
    snapshot: dict[str, Any] = {name: getattr(message, name) for name in VERSION_FIELDS}
    snapshot['status'] = str(message.status)
    snapshot['usage'] = dataclasses.asdict(message.usage) if message.usage else None  # optional: older files lack it
    snapshot['tail'] = [message_to_record(m) for m in tail]
    return snapshot
