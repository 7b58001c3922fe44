"""The content blocks of a reply with thinking, redacted thinking, web searches and cited text, streamed the way the
Messages API streams them (see FakeAnthropic.enqueue_blocks)."""
from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

from .fake_checks import encrypted, signature
from .fake_sse import send_event


async def send_blocks(blocks: list[dict[str, Any]], delay: float, writer: asyncio.StreamWriter,
                      eof: asyncio.Future[None], ids: Iterator[int]) -> int:
    """Stream a reply's content blocks, `delay` seconds between deltas; returns how many searches it ran."""
    searches = 0

    async def event(name: str, data: dict[str, Any]) -> None:
        await send_event(writer, eof, name, {'type': name, **data})

    async def deltas(index: int, pieces: list[dict[str, Any]]) -> None:
        for delta in pieces:
            if delay:
                await asyncio.wait([eof], timeout=delay)
            await event('content_block_delta', {'index': index, 'delta': delta})

    index = 0
    for block in blocks:
        if 'thinking' in block:
            start = {'type': 'thinking', 'thinking': '', 'signature': ''}
            await event('content_block_start', {'index': index, 'content_block': start})
            signed = {'type': 'signature_delta', 'signature': signature(''.join(block['thinking']))}
            await deltas(index, [*({'type': 'thinking_delta', 'thinking': chunk} for chunk in block['thinking']),
                                 signed])
        elif 'unknown' in block:  # a block, a delta and an event of kinds a newer API might send
            await event('content_block_start', {'index': index, 'content_block': {'type': block['unknown'], 'x': 1}})
            await deltas(index, [{'type': f"{block['unknown']}_delta", 'x': 2}])
            await event(f"{block['unknown']}_event", {'index': index})
        elif block.get('redacted'):
            await event('content_block_start', {'index': index, 'content_block': {
                'type': 'redacted_thinking', 'data': base64.b64encode(b'encrypted thinking').decode()}})
        elif 'search' in block:
            searches += 1
            tool_id = f'srvtoolu_fake_{next(ids)}'
            await event('content_block_start', {'index': index, 'content_block': {
                'type': 'server_tool_use', 'id': tool_id, 'name': 'web_search', 'input': {}}})
            partial = json.dumps({'query': block['search']})
            await deltas(index, [{'type': 'input_json_delta', 'partial_json': piece}
                                 for piece in (partial[:len(partial) // 2], partial[len(partial) // 2:])])
            await event('content_block_stop', {'index': index})
            index += 1
            if block.get('seconds'):  # the search itself takes a while
                await asyncio.wait([eof], timeout=block['seconds'])
            content: Any = {'type': 'web_search_tool_result_error', 'error_code': block['error']} \
                if 'error' in block else \
                [{'type': 'web_search_result', 'url': r['url'], 'title': r['title'], 'page_age': None,
                  'encrypted_content': encrypted(r['url'])} for r in block['results']]
            await event('content_block_start', {'index': index, 'content_block': {
                'type': 'web_search_tool_result', 'tool_use_id': tool_id, 'content': content}})
        else:
            cited = block.get('citations') or []
            start = {'type': 'text', 'text': '', **({'citations': []} if cited else {})}
            await event('content_block_start', {'index': index, 'content_block': start})
            await deltas(index, [{'type': 'citations_delta', 'citation': {
                'type': 'web_search_result_location', 'url': c['url'], 'title': c['title'],
                'cited_text': c.get('cited_text', ''), 'encrypted_index': encrypted(c['url'])}} for c in cited]
                + [{'type': 'text_delta', 'text': chunk} for chunk in block.get('text', [])])
        await event('content_block_stop', {'index': index})
        index += 1
    return searches
