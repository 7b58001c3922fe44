"""What a reply holds besides its text: Claude's thinking, the tools it used and the sources it cites."""
from __future__ import annotations

from ..models import Message


class ReplyParts:
    """The thinking block and tool activity above a reply's text, its sources below it; built as they appear."""

    def __init__(self, room_id: str, message: Message) -> None:
        self.room_id = room_id
        self.message = message

    def add_sources(self) -> None:
        """Place the list of sources here (below the reply's text)."""

    def refresh(self, message: Message) -> None:
        self.message = message
