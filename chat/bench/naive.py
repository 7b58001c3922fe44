"""The benchmark's naive baseline (`python -m chat.bench.serve --naive`): what a straightforward NiceGUI chat does.

Every tab shows a message body as a `ui.markdown` and, while a reply streams, calls `set_content(full_text)` on it
at most every 50 ms: the server re-renders the whole markdown and resends it (content and HTML) to each tab, and no
`rooms_delta` text deltas are sent. Sanitised all the same (NiceGUI 3 runs DOMPurify on `ui.markdown` by default).
It exists only so that `python -m chat.bench` can measure the real path against it side by side.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from nicegui import ui

from ..events import RoomEvent
from ..hub import RoomHub
from ..models import Message, Status
from ..rooms import Rooms
from ..ui.message_view import MessageView

UPDATE_INTERVAL = 0.05
"""Seconds between two re-sends of a growing reply to one tab (about 20 a second)."""


class _State:
    rooms: Rooms | None = None


def install(rooms: Rooms) -> None:
    """Switch every room page of this process to the naive bodies (installed instead of the delta relay)."""
    _State.rooms = rooms
    MessageView.body_factory = NaiveBody


class NaiveBody(ui.markdown):
    """A message body that follows its reply by re-sending the whole text, throttled per tab."""

    def __init__(self, room_id: str, message: Message) -> None:
        super().__init__(message.content)
        self._room_id = room_id
        self._msgid = message.id
        self._unsubscribe: Callable[[], None] | None = None
        self._last_push = 0.0
        self._pending: asyncio.TimerHandle | None = None
        self._follow(message)

    def set_text_silently(self, text: str) -> None:
        """Called by MessageView on every status change: show the text now and follow the reply while it streams."""
        self._cancel_pending()
        self.set_content(text)
        if (hub := self._hub()) is not None and (message := hub.get(self._msgid)) is not None:
            self._follow(message)

    def _follow(self, message: Message) -> None:
        hub = self._hub()
        streaming = message.status == Status.STREAMING
        if streaming and self._unsubscribe is None and hub is not None:
            self._unsubscribe = hub.subscribe(self._on_event)
        elif not streaming and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: RoomEvent) -> None:
        if event.kind != 'delta' or event.message is None or event.message.id != self._msgid or self._pending:
            return
        wait = self._last_push + UPDATE_INTERVAL - time.monotonic()
        if wait <= 0:
            self._push()
        else:
            self._pending = asyncio.get_running_loop().call_later(wait, self._push)

    def _push(self) -> None:
        self._pending = None
        if self.is_deleted or (hub := self._hub()) is None or (message := hub.get(self._msgid)) is None:
            return
        self._last_push = time.monotonic()
        self.set_content(message.content)

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def _hub(self) -> RoomHub | None:
        return _State.rooms.open_hub(self._room_id) if _State.rooms is not None else None

    def _handle_delete(self) -> None:
        self._cancel_pending()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        super()._handle_delete()
