"""What the fake Anthropic API refuses, in the API's own words: content blocks (images, PDFs, text documents, and the
blocks of its own replies sent back: thinking, searches, cited text), `thinking` and `tools`. Pure functions of a
request body; the fake answers 400 with what they return."""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Collection
from typing import Any

IMAGE_MEDIA_TYPES = ('image/jpeg', 'image/png', 'image/gif', 'image/webp')
MAX_IMAGE_BASE64 = 5 * 1024 * 1024
MAX_IMAGE_EDGE = 8000
MANY_IMAGES, MANY_IMAGES_EDGE = 20, 2000
MAX_IMAGES, MAX_PDF_PAGES = 100, 100
"""Images, and PDF pages, one request may carry."""
PAGE_COUNT = re.compile(rb'/Count\s+(\d+)')
"""A page tree's count of its pages: the root's, the largest, is the PDF's (read unlike the app, which counts pages)."""
PAGE_OBJECT = re.compile(rb'/Type\s*/Page(?![A-Za-z])')
BLOCK_TAGS = ('text', 'image', 'document', 'search_result', 'thinking', 'redacted_thinking', 'tool_use',
              'tool_result', 'server_tool_use', 'web_search_tool_result')
REPLY_TAGS = ('thinking', 'redacted_thinking', 'server_tool_use', 'web_search_tool_result')
"""Blocks only the API writes: a request may carry them in an assistant turn, as they came."""


def signature(thinking: str) -> str:
    """The signature the fake gives a thinking block: a request must send the block back with it, text unchanged."""
    return base64.b64encode(b'fake signature ' + hashlib.sha256(thinking.encode()).digest()[:12]).decode()


def encrypted(url: str) -> str:
    """The `encrypted_content` of a search result (or `encrypted_index` of a citation) the fake sends for `url`."""
    return base64.b64encode(url.encode()).decode()


def request_problem(body: dict[str, Any]) -> str | None:
    """What the API would refuse in the content blocks of a request (its 400 message), or None."""
    images: list[tuple[str, tuple[int, int]]] = []
    pages = 0
    for i, message in enumerate(body.get('messages', [])):
        content = message.get('content')
        if isinstance(content, str):
            continue
        if not isinstance(content, list):
            return f'messages.{i}.content: Input should be a valid list'
        for j, block in enumerate(content):
            where, kind = f'messages.{i}.content.{j}', block.get('type') if isinstance(block, dict) else None
            if kind not in BLOCK_TAGS:
                tags = ', '.join(f"'{tag}'" for tag in BLOCK_TAGS)
                return f"{where}: Input tag '{kind}' found using 'type' does not match any of the expected tags: {tags}"
            if kind == 'text':
                if not isinstance(block.get('text'), str):
                    return f'{where}.text.text: Field required'
                if not block['text']:
                    return 'messages: text content blocks must be non-empty'
            elif kind == 'image':
                found = image_problem(block.get('source'), f'{where}.image.source')
                if isinstance(found, str):
                    return found
                images.append((f'{where}.image.source.base64.data', found))
            elif kind == 'document':
                found_pages = document_problem(block.get('source'), f'{where}.document.source')
                if isinstance(found_pages, str):
                    return found_pages
                pages += found_pages
    if len(images) > MAX_IMAGES:
        return f'messages: Too many images in the request: {len(images)} > {MAX_IMAGES}'
    if pages > MAX_PDF_PAGES:
        return f'messages: A maximum of {MAX_PDF_PAGES} PDF pages may be provided ({pages} in the request).'
    if len(images) > MANY_IMAGES:
        for where, size in images:
            if max(size) > MANY_IMAGES_EDGE:
                return (f'{where}: At least one of the image dimensions exceed max allowed size for many-image '
                        f'requests: {MANY_IMAGES_EDGE} pixels')
    return sent_back_problem(body)


def sent_back_problem(body: dict[str, Any]) -> str | None:
    """What the API would refuse in blocks of its own replies sent back (as a paused turn goes on): each only in an
    assistant turn and unchanged (thinking with the signature it got, search results with their encrypted content,
    citations with their encrypted index), a search's result after the search."""
    for i, message in enumerate(body.get('messages', [])):
        content, searches = message.get('content'), set()
        for j, block in enumerate(content if isinstance(content, list) else []):
            where, kind = f'messages.{i}.content.{j}', block['type']
            if kind in REPLY_TAGS and message.get('role') != 'assistant':
                return f'{where}: `{kind}` blocks are only allowed in `assistant` messages'
            if kind == 'thinking' and (not isinstance(block.get('thinking'), str)
                                       or block.get('signature') != signature(block['thinking'])):
                return f'{where}: Invalid `signature` in `thinking` block'
            if kind == 'redacted_thinking' and not isinstance(block.get('data'), str):
                return f'{where}.redacted_thinking.data: Field required'
            if kind == 'server_tool_use':
                if not isinstance(block.get('id'), str) or not isinstance(block.get('input'), dict):
                    return f'{where}.server_tool_use: `id` and an `input` object are required'
                searches.add(block['id'])
            if kind == 'web_search_tool_result' and (problem := _result_problem(block, searches, where)):
                return problem
            for k, cited in enumerate((block.get('citations') or []) if kind == 'text' else []):
                if isinstance(cited, dict) and cited.get('type') == 'web_search_result_location' and \
                        cited.get('encrypted_index') != encrypted(str(cited.get('url'))):
                    return f'{where}.text.citations.{k}: Invalid `encrypted_index` in web search citation'
    return None


def _result_problem(block: dict[str, Any], searches: set[str], where: str) -> str | None:
    if block.get('tool_use_id') not in searches:
        return (f'{where}: `web_search_tool_result` block(s) provided when previous message does not contain a '
                'corresponding `server_tool_use` block')
    results = block.get('content')
    if isinstance(results, dict):  # a failed search
        return None if isinstance(results.get('error_code'), str) else f'{where}.content.error_code: Field required'
    for k, result in enumerate(results if isinstance(results, list) else [None]):
        if not isinstance(result, dict) or result.get('encrypted_content') != encrypted(str(result.get('url'))):
            return f'{where}.content.{k}: Invalid `encrypted_content` in web search result'
    return None


def image_problem(source: Any, where: str) -> str | tuple[int, int]:
    """The API's complaint about an image source, or the image's size."""
    if not isinstance(source, dict) or source.get('type') != 'base64':
        return f"{where}: Input tag '{source.get('type') if isinstance(source, dict) else None}' found using 'type' " \
               "does not match any of the expected tags: 'base64', 'url', 'file'"
    declared, data = source.get('media_type'), source.get('data')
    if declared not in IMAGE_MEDIA_TYPES:
        return f"{where}.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
    if not isinstance(data, str):
        return f'{where}.base64.data: Field required'
    if len(data) > MAX_IMAGE_BASE64:
        return f'{where}.base64: image exceeds 5 MB maximum: {len(data)} bytes > {MAX_IMAGE_BASE64} bytes'
    try:
        raw = base64.b64decode(data, validate=True)
    except (ValueError, binascii.Error):
        return f'{where}.base64.data: Invalid base64 data'
    actual = image_type(raw)
    if actual is None:
        return f'{where}.base64.data: Could not process image'
    if actual != declared:
        return (f'{where}.base64.data: The image was specified using the {declared} media type, but the image '
                f'appears to be a {actual} image')
    size = image_size(raw, actual)
    if size is None:
        return f'{where}.base64.data: Could not process image'
    if max(size) > MAX_IMAGE_EDGE:
        return f'{where}.base64.data: At least one of the image dimensions exceed max allowed size: 8000 pixels'
    return size


def document_problem(source: Any, where: str) -> str | int:
    """The API's complaint about a document source, or its pages (a PDF's page objects, at least 1; 0 for text)."""
    if not isinstance(source, dict):
        return f'{where}: Field required'
    if source.get('type') == 'text':
        if source.get('media_type') != 'text/plain':
            return f"{where}.text.media_type: Input should be 'text/plain'"
        return 0 if isinstance(source.get('data'), str) else f'{where}.text.data: Field required'
    if source.get('type') != 'base64':
        return f"{where}: Input tag '{source.get('type')}' found using 'type' does not match any of the expected " \
               "tags: 'base64', 'text', 'content', 'url', 'file'"
    if source.get('media_type') != 'application/pdf':
        return f"{where}.base64.media_type: Input should be 'application/pdf'"
    try:
        raw = base64.b64decode(source.get('data') or '', validate=True)
    except (ValueError, binascii.Error):
        return f'{where}.base64.data: Invalid base64 data'
    if not raw.startswith(b'%PDF-'):
        return f'{where}.base64.data: The PDF specified was not valid.'
    return max(1, *(int(count) for count in PAGE_COUNT.findall(raw)), len(PAGE_OBJECT.findall(raw)))


def image_type(data: bytes) -> str | None:
    if data.startswith(b'\x89PNG\r\n\x1a\n'):
        return 'image/png'
    if data.startswith(b'\xff\xd8\xff'):
        return 'image/jpeg'
    if data[:6] in (b'GIF87a', b'GIF89a'):
        return 'image/gif'
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'image/webp'
    return None


def image_size(data: bytes, media_type: str) -> tuple[int, int] | None:
    """Width and height from an image's header (no decoding), None when the header is damaged."""
    try:
        if media_type == 'image/png':
            return struct.unpack('>II', data[16:24])
        if media_type == 'image/gif':
            return struct.unpack('<HH', data[6:10])
        if media_type == 'image/webp':
            chunk = data[12:16]
            if chunk == b'VP8X':
                return 1 + int.from_bytes(data[24:27], 'little'), 1 + int.from_bytes(data[27:30], 'little')
            if chunk == b'VP8L':
                bits = int.from_bytes(data[21:25], 'little')
                return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
            width, height = struct.unpack('<HH', data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        position = 2  # JPEG: walk the segments to the frame header
        while position + 9 < len(data):
            if data[position] != 0xFF:
                return None
            marker, length = data[position + 1], struct.unpack('>H', data[position + 2:position + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack('>HH', data[position + 5:position + 9])
                return width, height
            position += 2 + length
    except struct.error:
        return None
    return None


def option_problem(body: dict[str, Any], cannot_think: set[str], adaptive_only: Collection[str] = ()) -> str | None:
    """What the API would refuse in a request's `thinking` and `tools`, or None. A model in `adaptive_only` takes
    `{"type": "adaptive"}` and no budget; the others take `enabled` with a budget."""
    thinking = body.get('thinking')
    model = body.get('model')
    if thinking is not None and thinking.get('type') == 'adaptive':
        if model in cannot_think or model not in adaptive_only:
            return f'thinking.type: adaptive thinking is not supported on model {model}'
    elif thinking is not None and thinking.get('type') != 'disabled':
        if model in adaptive_only and thinking.get('type') == 'enabled':
            return f'thinking.type.enabled is not supported on model {model}; use thinking.type.adaptive'
        budget = thinking.get('budget_tokens')
        if thinking.get('type') != 'enabled' or type(budget) is not int:
            return 'thinking.enabled.budget_tokens: Field required'
        if budget < 1024:
            return 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024'
        if body.get('max_tokens', 0) <= budget:
            return '`max_tokens` must be greater than `thinking.budget_tokens`.'
        if model in cannot_think:
            return f'thinking is not supported on model {model}'
    if thinking is not None and thinking.get('type') in ('enabled', 'adaptive'):
        messages = body.get('messages') or [{}]
        last = messages[-1].get('content')
        first = 'text' if isinstance(last, str) or not last else last[0].get('type')
        if messages[-1].get('role') == 'assistant' and first not in ('thinking', 'redacted_thinking'):
            return (f'messages.{len(messages) - 1}.content.0.type: Expected `thinking` or `redacted_thinking`, '
                    f'but found `{first}`. When `thinking` is enabled, a final `assistant` message must start '
                    'with a thinking block.')
    for i, tool in enumerate(body.get('tools') or []):
        if tool.get('type') != 'web_search_20250305' or tool.get('name') != 'web_search':
            return f'tools.{i}: this fake knows only the web_search_20250305 server tool named web_search'
        if 'max_uses' in tool and (type(tool['max_uses']) is not int or tool['max_uses'] < 1):
            return f'tools.{i}.max_uses: Input should be greater than or equal to 1'
    return None
