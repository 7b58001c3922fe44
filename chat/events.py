"""Room events and the publisher that hands them to a room's tabs. No I/O, no UI."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .models import Message

log = logging.getLogger(__name__)

EventKind = Literal['added', 'delta', 'updated', 'removed', 'notice', 'settings', 'deleted', 'activity']


@dataclass(slots=True, frozen=True)
class RoomEvent:
    """What changed in a room. `delta` carries `text` appended at `offset` (-1: replace the whole text) of the message's
    `part`: its `content`, or its `thinking`; `activity` (and `deleted`) carry in `text` who did something that changed
    the room for everyone."""

    kind: EventKind
    message: Message | None = None
    offset: int = 0
    text: str = ''
    part: Literal['content', 'thinking'] = 'content'


Subscriber = Callable[[RoomEvent], None]


class Publisher:
    """Calls every subscriber with every event, in order; one failing subscriber never stops the others."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.relay: Subscriber | None = None
        """Sees every event before the subscribers: the transport that fans text out to all tabs at once."""
        self.last_active = time.monotonic()
        self._subscribers: dict[int, Subscriber] = {}
        self._next_key = 0

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber` with every event from now on; returns the function that unsubscribes it."""
        key = self._next_key
        self._next_key += 1
        self._subscribers[key] = subscriber
        self.last_active = time.monotonic()
        return lambda: self._unsubscribe(key)

    @property
    def count(self) -> int:
        return len(self._subscribers)

    def publish(self, event: RoomEvent) -> None:
        self.last_active = time.monotonic()
        receivers = [self.relay, *self._subscribers.values()] if self.relay else list(self._subscribers.values())
        for subscriber in receivers:
            try:
                subscriber(event)
            except Exception:
                log.exception('a subscriber of %s failed', self.name)

    def _unsubscribe(self, key: int) -> None:
        self._subscribers.pop(key, None)
        self.last_active = time.monotonic()
