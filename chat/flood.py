"""The flood limit: how many messages one sender may post in a short time. Pure, no I/O."""
from __future__ import annotations

import time
from collections import deque

from .errors import RateLimited

RATE_LIMIT = 20
RATE_WINDOW = 10.0
"""A person may send RATE_LIMIT messages in RATE_WINDOW seconds; a flood past that is refused, with the reason."""
MAX_SENDERS = 1000
"""Senders remembered before those long gone are forgotten."""


class FloodLimit:
    """Counts each sender's recent messages; refuses one past the limit, saying how long to wait."""

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._sent: dict[str, deque[float]] = {}

    def check(self, sender: str) -> None:
        """Count a message of `sender`; raises RateLimited (and counts nothing) past the limit."""
        now = time.monotonic()
        times = self._sent.setdefault(sender, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        if len(times) >= self.limit:
            wait = max(1, round(self.window - (now - times[0])))
            raise RateLimited(f'You are sending messages faster than {self.limit} in {self.window:.0f} seconds. '
                              f'Wait {wait} s and send again; your text is kept.')
        times.append(now)
        if len(self._sent) > MAX_SENDERS:
            self._sent = {key: t for key, t in self._sent.items() if t and now - t[-1] <= self.window}
