"""How each streamed part changes a reply: text and thinking grow, searches show, cited passages get numbered links, and
the reason it ended (cut off, refused) is kept.

Pure: the hub applies a part to the reply it streams and publishes the events this returns. No I/O.
"""
from __future__ import annotations

from typing import Literal

from .events import RoomEvent
from .models import MAX_CITATIONS, MAX_TOOL_CALLS, Message, clean_name, web_citation, well_formed
from .stream_parts import Citation, Ended, Part, Thinking, ToolCall


def streamed(reply: Message, part: Part) -> list[RoomEvent]:
    """Apply one part the model streamed to `reply`; returns what every tab must be told."""
    if isinstance(part, str):
        return added_text(reply, part)
    if isinstance(part, Thinking):
        if not part.redacted:
            return added_text(reply, part.text, 'thinking')
        reply.thinking_redacted += 1
        return [RoomEvent('updated', reply)]
    if isinstance(part, ToolCall):
        return searched(reply, part)
    if isinstance(part, Ended):
        reply.stop_reason = part.reason  # the last part: every tab is told when the turn ends the reply
        return []
    return cited(reply, part)


def added_text(reply: Message, text: str, part: Literal['content', 'thinking'] = 'content') -> list[RoomEvent]:
    """Streamed text added to the reply's content or thinking: a delta for every tab."""
    if not text:
        return []
    text = well_formed(text)
    before = getattr(reply, part)
    setattr(reply, part, before + text)
    if part == 'thinking' and not before:
        return [RoomEvent('updated', reply)]  # tabs make the thinking block, with this first text in it
    return [RoomEvent('delta', reply, offset=len(before), text=text, part=part)]


def searched(reply: Message, call: ToolCall) -> list[RoomEvent]:
    """A web search started or finished: shown in every tab while it runs, and after."""
    found = {'id': call.id, 'query': clean_name(call.query, 500) or '', 'done': call.done, 'results': call.results,
             'error': clean_name(call.error, 300) or ''}
    known = next((i for i, c in enumerate(reply.tools) if c['id'] == call.id), None)
    if known is not None:
        reply.tools[known] = {**found, 'query': found['query'] or reply.tools[known]['query']}
    elif len(reply.tools) < MAX_TOOL_CALLS:
        reply.tools.append(found)
    else:
        return []
    return [RoomEvent('updated', reply)]


def cited(reply: Message, citation: Citation) -> list[RoomEvent]:
    """Number a source (each address once per reply) and put its numbered link after the passage that cites it."""
    source = web_citation(citation.url, citation.title, citation.cited_text)
    if source is None:
        return []
    events = []
    number = next((i for i, c in enumerate(reply.citations, 1) if c['url'] == source['url']), None)
    if number is None:
        if len(reply.citations) >= MAX_CITATIONS:
            return []
        reply.citations.append(source)
        number = len(reply.citations)
        events.append(RoomEvent('updated', reply))  # the list of sources under the reply grows
    mark = citation_mark(number, source['url'])
    if not reply.content.endswith(mark):  # a passage that cites one source twice shows its number once
        events += added_text(reply, mark)
    return events


def citation_mark(number: int, url: str) -> str:
    """The numbered link after a cited passage, as Markdown (llm.CITATION_MARK finds it again)."""
    return f'[[{number}]](<{url}>)'
