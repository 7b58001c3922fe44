"""Search across all rooms on the home page: a search field and the matching messages, newest first."""
from __future__ import annotations

import asyncio
import time

from nicegui import background_tasks, ui
from nicegui.elements.mixins.text_element import TextElement

from ..rooms import Rooms
from ..search import SearchHit, SearchResult

DEBOUNCE_SECONDS = 0.3
"""Typing pauses this long before the search runs; Enter runs it at once."""


class SearchPanel:
    """One tab's search field and results; results are plain text elements, never HTML from a message."""

    def __init__(self, rooms: Rooms) -> None:
        self.rooms = rooms
        self._pending: asyncio.Task[None] | None = None
        self._shown = ''
        self.input = ui.input(placeholder='Search all rooms: words in messages') \
            .props('outlined dense clearable type=search data-testid=search aria-label="Search all rooms"') \
            .classes('w-full').mark('search')
        with self.input.add_slot('prepend'):
            ui.icon('search')
        self.input.on('keydown.enter', self.search_now)
        self.input.on_value_change(self._typed)
        self.results = ui.column().classes('w-full gap-2').props('data-testid=search-results')
        self.results.set_visibility(False)

    async def search_now(self) -> None:
        """Run the search for the field's text now (Enter), dropping a pending debounced one."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        await self._run(self.input.value or '')

    def _typed(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        self._pending = background_tasks.create(self._after_pause(), name='search as you type', context=self.results)

    async def _after_pause(self) -> None:
        await asyncio.sleep(DEBOUNCE_SECONDS)
        self._pending = None
        await self._run(self.input.value or '')

    async def _run(self, query: str) -> None:
        result = await self.rooms.search(query)
        if (self.input.value or '') != query or self.results.is_deleted:
            return  # the field changed while searching: a newer search shows its own results
        self._show(result)

    def _show(self, result: SearchResult) -> None:
        self.results.clear()
        self.results.set_visibility(bool(result.query))
        if not result.query:
            return
        with self.results:
            if not result.hits:
                ui.label(f'No message contains all of: {result.query}') \
                    .classes('text-gray-500').props('data-testid=search-empty')
            for hit in result.hits:
                search_result(hit)
            if result.truncated:
                ui.label(f'Showing the newest {len(result.hits)} matches; add words to narrow the search.') \
                    .classes('text-sm text-gray-500').props('data-testid=search-more')


def search_result(hit: SearchHit) -> None:
    with ui.link(target=hit.url).classes('w-full no-underline text-inherit') \
            .props(f'data-testid=search-result data-room-id={hit.room_id} data-message-id={hit.message_id}'):
        with ui.card().tight().classes('w-full p-3 hover:shadow-md gap-1'):
            who = (hit.author or 'Someone') if hit.role == 'user' else 'Claude'
            with ui.row().classes('w-full items-baseline gap-2 no-wrap'):
                ui.label(hit.title).classes('font-semibold truncate')
                ui.label(f'{who} · {time.strftime("%Y-%m-%d %H:%M", time.localtime(hit.created_at))}') \
                    .classes('text-xs text-gray-500 whitespace-nowrap')
            with ui.element('div').classes('text-sm text-gray-700 break-words') \
                    .props('data-testid=search-snippet'):
                for text, is_match in hit.segments():
                    if is_match:
                        TextElement(tag='mark', text=text).classes('search-mark bg-yellow-200 rounded-sm px-px')
                    else:
                        TextElement(tag='span', text=text)
