"""What a reply streams besides its text, read from the Messages API's stream events, and the reply's content blocks
rebuilt from them (to send a paused turn back). Pure: no I/O and no anthropic import (llm.py sends the requests)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .models import STOP_REASONS

MAX_SEARCHES = 5
"""Web searches Claude may run for one reply (the server tool's `max_uses`): each is billed."""
SEARCH_ERRORS = {
    'too_many_requests': 'too many searches at once',
    'max_uses_exceeded': f'the limit of {MAX_SEARCHES} searches per reply was reached',
    'query_too_long': 'the query was too long',
    'invalid_input': 'the query was not valid',
    'unavailable': 'web search is unavailable right now',
}


@dataclass(slots=True, frozen=True)
class Thinking:
    """A piece of the model's visible thinking; `redacted`: a block the API sent encrypted, shown as such."""

    text: str = ''
    redacted: bool = False


@dataclass(slots=True, frozen=True)
class ToolCall:
    """A server tool (web search) at work: started with `query`, then `done` with `results` found or an `error`."""

    id: str
    query: str = ''
    done: bool = False
    results: int = 0
    error: str = ''


@dataclass(slots=True, frozen=True)
class Citation:
    """A web source the text just streamed cites."""

    url: str
    title: str
    cited_text: str = ''


@dataclass(slots=True, frozen=True)
class Ended:
    """A reply's last part when people should be told why it ended: one of models.STOP_REASONS (cut off at the
    room's max tokens, or a refusal). A reply that simply finished streams none."""

    reason: str


Part = str | Thinking | ToolCall | Citation | Ended
"""What a model streams: reply text (a str) or one of the other parts of a reply."""


def ended(stop_reason: str | None) -> list[Part]:
    """The part that tells how a reply ended, if people should be told."""
    return [Ended(stop_reason)] if stop_reason in STOP_REASONS else []


class PartReader:
    """Turns the stream events of thinking, redacted thinking, web searches and citations into reply parts.

    A search's query arrives as JSON in pieces and is told once complete; its result names the search by id. The
    sources of a text block arrive before its text and are told after it, where the reply numbers them. One reader
    reads every response of a reply (a paused turn goes on in a new one): a block's state goes when the block stops.
    """

    def __init__(self) -> None:
        self._json: dict[int, list[str]] = {}
        self._tool_ids: dict[int, str] = {}
        self._queries: dict[str, str] = {}
        self._cited: dict[int, list[Citation]] = {}

    def read(self, event: Any) -> list[Part]:
        if event.type == 'content_block_start':
            return self._started(event.index, event.content_block)
        if event.type == 'content_block_delta':
            delta = event.delta
            if delta.type == 'thinking_delta':
                return [Thinking(delta.thinking)] if delta.thinking else []
            if delta.type == 'input_json_delta' and event.index in self._json:
                self._json[event.index].append(delta.partial_json)
            elif delta.type == 'citations_delta' and (cited := _citation(delta.citation)) is not None:
                self._cited.setdefault(event.index, []).append(cited)
            return []
        if event.type == 'content_block_stop':
            if event.index in self._json:
                tool_id = self._tool_ids[event.index]
                query = _query(''.join(self._json.pop(event.index)))
                self._queries[tool_id] = query
                return [ToolCall(tool_id, query)]
            return list(self._cited.pop(event.index, ()))
        return []

    def _started(self, index: int, block: Any) -> list[Part]:
        if block.type == 'redacted_thinking':
            return [Thinking(redacted=True)]
        if block.type == 'server_tool_use' and block.name == 'web_search':
            self._json[index], self._tool_ids[index] = [], block.id
        elif block.type == 'web_search_tool_result':
            query, content = self._queries.get(block.tool_use_id, ''), block.content
            if isinstance(content, list):
                return [ToolCall(block.tool_use_id, query, done=True, results=len(content))]
            code = str(getattr(content, 'error_code', 'unavailable'))
            return [ToolCall(block.tool_use_id, query, done=True, error=SEARCH_ERRORS.get(code, code))]
        return []


class BlockCollector:
    """The content blocks of one response, rebuilt from its raw events (JSON), to be sent back unchanged.

    With server tools the API may pause a long turn (`pause_turn`); it goes on when the response comes back as the
    last assistant turn of a new request, every block as it was: thinking with its signature, the search and its
    encrypted results, text with its citations.
    """

    def __init__(self) -> None:
        self._blocks: dict[int, dict[str, Any]] = {}
        self._json: dict[int, list[str]] = {}

    def add(self, data: dict[str, Any]) -> None:
        """Take one raw stream event into the blocks."""
        kind, index = data.get('type'), data.get('index')
        if not isinstance(index, int):
            return
        if kind == 'content_block_start' and isinstance(data.get('content_block'), dict):
            self._blocks[index] = dict(data['content_block'])
            if self._blocks[index].get('type') == 'server_tool_use':
                self._json[index] = []
        elif kind == 'content_block_delta' and index in self._blocks and isinstance(data.get('delta'), dict):
            _grow(self._blocks[index], data['delta'], self._json.get(index))
        elif kind == 'content_block_stop' and index in self._json:
            text = ''.join(self._json.pop(index)) or '{}'
            try:
                self._blocks[index]['input'] = json.loads(text)
            except ValueError:
                self._blocks[index]['input'] = {}

    def blocks(self) -> list[dict[str, Any]]:
        """The blocks in order, as an assistant turn of a request may carry them.

        Fields the API sent empty (`citations: null`) are left out; so is a text block with no text, which a request
        may not hold, and the trailing blanks of a last text block (the API refuses them at the end of a turn).
        """
        found = [{key: value for key, value in block.items() if value is not None}
                 for _, block in sorted(self._blocks.items())]
        if found and found[-1].get('type') == 'text':
            found[-1]['text'] = str(found[-1].get('text', '')).rstrip()
        return [block for block in found if block.get('type') != 'text' or block.get('text')]


def _grow(block: dict[str, Any], delta: dict[str, Any], json_parts: list[str] | None) -> None:
    """Apply one delta to the block it belongs to."""
    kind = delta.get('type')
    if kind == 'text_delta':
        block['text'] = str(block.get('text') or '') + str(delta.get('text', ''))
    elif kind == 'thinking_delta':
        block['thinking'] = str(block.get('thinking') or '') + str(delta.get('thinking', ''))
    elif kind == 'signature_delta':
        block['signature'] = delta.get('signature')
    elif kind == 'citations_delta' and delta.get('citation') is not None:
        block['citations'] = [*(block.get('citations') or []), delta['citation']]
    elif kind == 'input_json_delta' and json_parts is not None:
        json_parts.append(str(delta.get('partial_json', '')))


def _query(partial_json: str) -> str:
    try:
        query = json.loads(partial_json or '{}').get('query', '')
    except (ValueError, AttributeError):
        return ''
    return query if isinstance(query, str) else ''


def _citation(citation: Any) -> Citation | None:
    """A web source a text block cites (other kinds of citation, of documents, are not links)."""
    if getattr(citation, 'type', None) != 'web_search_result_location':
        return None
    return Citation(url=str(citation.url), title=str(getattr(citation, 'title', None) or ''),
                    cited_text=str(getattr(citation, 'cited_text', '') or ''))
