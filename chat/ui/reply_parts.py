"""What a reply holds besides its text: Claude's thinking, the web searches it ran and the sources it cites.

Each part is built when it first appears (most replies have none) and rebuilt only when it changes; the thinking
streams into a body of its own (see live.py, THINKING), collapsed unless a person opens it.
"""
from __future__ import annotations

from typing import Any

from nicegui import ui

from ..models import Message, Status
from .live import THINKING
from .message_body import MessageBody

REDACTED = ('Part of the thinking was encrypted by the safety systems of Anthropic and is not shown; '
            'the answer is not affected.')


class ReplyParts:
    """The thinking block and tool activity above a reply's text, its numbered sources below it."""

    def __init__(self, room_id: str, message: Message) -> None:
        self.room_id = room_id
        self.message = message
        self.above = ui.element('div').classes('reply-parts')
        self.below: ui.element | None = None
        self.thinking: MessageBody | None = None
        self._thinking_box: ui.element | None = None
        self._summary: ui.label | None = None
        self._redacted: ui.label | None = None
        self._tools: ui.element | None = None
        self._shown: dict[str, Any] = {}

    def add_sources(self) -> None:
        """Place the list of sources here (below the reply's text)."""
        self.below = ui.element('div').classes('reply-sources')

    def refresh(self, message: Message) -> None:
        self.message = message
        self._show_thinking(message)
        self._show_tools(message)
        self._show_sources(message)

    def _show_thinking(self, message: Message) -> None:
        if not message.thinking and not message.thinking_redacted:
            if self._thinking_box is not None:  # a retry or a new version starts without it
                self._thinking_box.delete()
                self._thinking_box = self.thinking = self._summary = self._redacted = None
            return
        if self._thinking_box is None:
            with self.above:
                self._thinking_box = ui.element('details').classes('reply-thinking').props('data-testid=thinking') \
                    .mark('thinking')
                with self._thinking_box:
                    with ui.element('summary').classes('reply-thinking-summary'):
                        self._summary = ui.label()
                    self.thinking = MessageBody(room=self.room_id, msgid=message.id + THINKING,
                                                text=message.thinking, streaming=message.status == Status.STREAMING)
                    self.thinking.classes('reply-thinking-text') \
                        .props('data-testid=thinking-text')
                    self._redacted = ui.label(REDACTED).classes('reply-thinking-redacted italic text-sm') \
                        .props('data-testid=thinking-redacted')
            self._thinking_box.move(self.above, target_index=0)  # above the searches it led to
        assert self.thinking is not None and self._summary is not None and self._redacted is not None
        self.thinking.set_text_silently(message.thinking)
        thinking_now = message.status == Status.STREAMING and not message.content
        self._summary.set_text('Thinking…' if thinking_now else 'Thought process')
        self._redacted.set_visibility(message.thinking_redacted > 0)

    def _show_tools(self, message: Message) -> None:
        shown = [(c['query'], c['done'], c['results'], c['error']) for c in message.tools]
        if shown == self._shown.get('tools', []):
            return
        self._shown['tools'] = shown
        if self._tools is None:
            with self.above:
                self._tools = ui.element('div').classes('reply-tools')
        self._tools.clear()
        with self._tools:
            for call in message.tools:
                with ui.row().classes('reply-tool items-center no-wrap gap-1'):
                    ui.icon('error_outline' if call['error'] else 'travel_explore' if not call['done'] else 'search',
                            size='1rem').props('aria-hidden=true')
                    ui.label(describe_search(call, stopped=message.status != Status.STREAMING)) \
                        .props('data-testid=tool-activity')

    def _show_sources(self, message: Message) -> None:
        shown = [c['url'] for c in message.citations]
        if self.below is None or shown == self._shown.get('sources', []):
            return
        self._shown['sources'] = shown
        self.below.clear()
        if not message.citations:
            return
        with self.below:
            ui.label('Sources').classes('reply-sources-title font-semibold')
            with ui.element('ol').classes('reply-sources-list'):
                for number, source in enumerate(message.citations, 1):
                    with ui.element('li'):
                        link = ui.link(f'[{number}] {source["title"]}', source['url'], new_tab=True) \
                            .classes('reply-source') \
                            .props('data-testid=citation rel="noopener noreferrer nofollow"')
                        if source['cited_text']:
                            link.props['title'] = source['cited_text']


def describe_search(call: dict[str, Any], *, stopped: bool) -> str:
    """What a web search does or did, in words."""
    query = call['query'] or '…'
    if call['error']:
        return f'Web search failed: {query} ({call["error"]})'
    if call['done']:
        return f'Searched the web: {query} · {call["results"]} result{"" if call["results"] == 1 else "s"}'
    return f'Search not finished: {query}' if stopped else f'Searching the web: {query}'
