"""Who is in a room now and who is typing: per room, keyed by NiceGUI client id (one per tab). No I/O.

Typing is cheap on the wire: a tab reports it at most once per TYPING_THROTTLE seconds, and the other tabs
are only told when someone starts or stops typing (after TYPING_EXPIRY seconds without a report).
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

TYPING_THROTTLE = 2.0
"""Seconds between two typing reports of one tab."""
TYPING_EXPIRY = 4.0
"""Seconds after its last report that a tab no longer counts as typing."""
NO_NAME = 'Someone'

Listener = Callable[[], None]


@dataclass(slots=True)
class Member:
    name: str
    typing_until: float = 0.0
    last_report: float = field(default=-TYPING_THROTTLE)


class RoomPresence:
    """The tabs showing one room, their names and who of them is typing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.members: dict[str, Member] = {}
        self._listeners: dict[str, Listener] = {}
        self._clock = clock
        self._expiry: asyncio.TimerHandle | None = None

    def join(self, client_id: str, name: str | None, listener: Listener) -> None:
        self.members[client_id] = Member(name or NO_NAME)
        self._listeners[client_id] = listener
        self._changed()

    def leave(self, client_id: str) -> None:
        self._listeners.pop(client_id, None)
        if self.members.pop(client_id, None) is not None:
            self._changed()

    def rename(self, client_id: str, name: str) -> None:
        if (member := self.members.get(client_id)) is not None and member.name != name:
            member.name = name
            self._changed()

    def typing(self, client_id: str) -> bool:
        """Note a keystroke of a tab; True if it counted (at most one per TYPING_THROTTLE seconds)."""
        member = self.members.get(client_id)
        now = self._clock()
        if member is None or now - member.last_report < TYPING_THROTTLE:
            return False
        was_typing = member.typing_until > now
        member.last_report = now
        member.typing_until = now + TYPING_EXPIRY
        if not was_typing:
            self._changed()  # only a start is news; a report that extends the window changes nothing on screen
        self._schedule_expiry()
        return True

    def stopped_typing(self, client_id: str) -> None:
        """The tab sent its message or cleared the box: it is not typing any more."""
        member = self.members.get(client_id)
        if member is not None and member.typing_until > self._clock():
            member.typing_until = 0.0
            member.last_report = -TYPING_THROTTLE
            self._changed()

    def names(self) -> list[str]:
        """Everyone here, in the order they came."""
        return [member.name for member in self.members.values()]

    def typing_names(self, except_client: str | None = None) -> list[str]:
        now = self._clock()
        return [m.name for client_id, m in self.members.items() if m.typing_until > now and client_id != except_client]

    @property
    def is_empty(self) -> bool:
        return not self.members

    def expire(self) -> None:
        """Forget typing that was not reported for TYPING_EXPIRY seconds (called by a timer, or by tests)."""
        self._expiry = None
        now = self._clock()
        expired = [m for m in self.members.values() if 0 < m.typing_until <= now]
        for member in expired:
            member.typing_until = 0.0
        if expired:
            self._changed()
        self._schedule_expiry()

    def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def _schedule_expiry(self) -> None:
        pending = [m.typing_until for m in self.members.values() if m.typing_until > 0]
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if pending:
            delay = max(0.0, min(pending) - self._clock()) + 0.05
            self._expiry = asyncio.get_running_loop().call_later(delay, self.expire)

    def _changed(self) -> None:
        for listener in list(self._listeners.values()):
            listener()


class Presence:
    """Every room's presence; a room's entry lives while someone is in it."""

    def __init__(self) -> None:
        self._rooms: dict[str, RoomPresence] = {}

    def room(self, room_id: str) -> RoomPresence:
        return self._rooms.setdefault(room_id, RoomPresence())

    def leave(self, room_id: str, client_id: str) -> None:
        room = self._rooms.get(room_id)
        if room is None:
            return
        room.leave(client_id)
        if room.is_empty:
            room.close()
            del self._rooms[room_id]


def describe_typing(names: list[str]) -> str:
    """'Ann is typing…', 'Ann and Bob are typing…', 'Ann, Bob and 2 others are typing…'."""
    if not names:
        return ''
    if len(names) == 1:
        return f'{names[0]} is typing…'
    if len(names) == 2:
        return f'{names[0]} and {names[1]} are typing…'
    return f'{names[0]}, {names[1]} and {len(names) - 2} others are typing…'


PRESENCE = Presence()
"""The app's one registry (an empty dict until the first tab joins a room)."""
