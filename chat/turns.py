"""The conversation as the Messages API wants it: turns that alternate, carry their authors' names and their files,
and fit the model's context window. Pure, no I/O but the file reader it is given."""
from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .files import pdf_pages
from .models import IMAGE_TYPES, PDF_TYPE, Attachment, Message, describe_size

Block = dict[str, Any]
"""A content block of the Messages API (text, image, document)."""
FileReader = Callable[[Attachment], 'tuple[str, bytes] | None']
"""The media type and bytes Claude gets for an attached file, None when the file is gone (files.FileStore.for_model)."""
REQUEST_BYTES = 30 * 1024 * 1024
"""Most a request may carry (the API takes 32 MB): older files, then older turns, are left out past it."""
MAX_IMAGES = 100
"""Images the API takes in one request: older ones are left out past it."""
MAX_PDF_PAGES = 100
"""PDF pages the API takes in one request: older PDFs are left out past it."""
ATTACHED_LINE = re.compile(r'\[attached: .*\]$', re.MULTILINE)
"""The line naming a message's files in the text Claude gets (build_turns)."""
IMAGE_TOKENS = 1600
"""What an image of at most 1568 px a side costs, about (width x height / 750)."""
CITATION_MARK = re.compile(r'\[\[\d+\]\]\(<[^>\n]*>\)')
"""The numbered link a reply's text carries after a cited passage (see RoomHub): left out of what Claude gets back."""


@dataclass(slots=True, frozen=True)
class SentFile:
    """A file a turn carries as an image or document block: its name (for the note that replaces a file left out) and
    its pages if it is a PDF."""

    name: str
    pages: int = 0


@dataclass(slots=True, frozen=True)
class Turn:
    role: str
    content: str | list[Block]
    """Plain text, or content blocks when the turn carries files (a user turn with attachments)."""
    files: tuple[Attachment, ...] = ()
    """The files whose blocks `content` holds: the demo model names them."""
    sent: tuple[SentFile, ...] = ()
    """One per image or document block of `content`, in order: what fit_turns weighs it by."""

    @property
    def text(self) -> str:
        """The turn's text without its files."""
        if isinstance(self.content, str):
            return self.content
        return '\n\n'.join(block['text'] for block in self.content if block.get('type') == 'text')


def fit_turns(turns: list[Turn], context_window: int | None, max_tokens: int) -> tuple[list[Turn], int]:
    """The newest turns whose estimated size fits the context window, and how many turns were left out.

    The estimate (a token per 3 characters) errs on the safe side for prose and code alike; the
    reply's own `max_tokens` and some slack for the system prompt are kept free.
    """
    if context_window is None:
        return turns, 0
    turns = files_within_limits(turns)
    budget, payload = context_window - max_tokens - 2_000, REQUEST_BYTES
    kept: list[Turn] = []
    for turn in reversed(turns):
        tokens, size = _estimate(turn)
        budget, payload = budget - tokens, payload - size
        if (budget < 0 or payload < 0) and kept:
            break
        kept.append(turn)
    kept.reverse()
    while len(kept) > 1 and kept[0].role != 'user':
        kept.pop(0)  # the API wants a user turn first
    return kept, len(turns) - len(kept)


def files_within_limits(turns: list[Turn]) -> list[Turn]:
    """The turns with their oldest files left out past what one request may carry (MAX_IMAGES images, MAX_PDF_PAGES
    PDF pages, REQUEST_BYTES with the text), newest first; each file left out becomes a short note naming it, so Claude
    knows a file was there (the text of its message names it too)."""
    payload = REQUEST_BYTES - sum(_size(block) for turn in turns for block in _blocks(turn.content)
                                  if block['type'] == 'text')
    images, pages = MAX_IMAGES, MAX_PDF_PAGES
    fitted: list[Turn] = []
    for turn in reversed(turns):
        if not turn.sent or isinstance(turn.content, str):
            fitted.append(turn)
            continue
        blocks = list(turn.content)
        positions = [index for index, block in enumerate(blocks) if block['type'] in ('image', 'document')]
        kept: list[SentFile] = []
        for position, file in reversed(list(zip(positions, turn.sent, strict=True))):
            image, size = blocks[position]['type'] == 'image', _size(blocks[position])
            reason = (f'one request to Claude carries at most {MAX_IMAGES} images' if image and not images else
                      f'one request to Claude carries at most {MAX_PDF_PAGES} PDF pages' if file.pages > pages else
                      f'one request to Claude carries at most {REQUEST_BYTES // 2**20} MB' if size > payload else None)
            if reason is None:
                payload, images, pages = payload - size, images - image, pages - file.pages
                kept.insert(0, file)
            else:
                note = f'[{file.name} was attached here but is left out: {reason}, and newer files came first]'
                blocks[position] = {'type': 'text', 'text': note}
        fitted.append(turn if len(kept) == len(turn.sent) else Turn(turn.role, blocks, turn.files, tuple(kept)))
    fitted.reverse()
    return fitted


def _size(block: Block) -> int:
    """About how many bytes a block adds to a request."""
    return len(block['text']) if block['type'] == 'text' else len(block.get('source', {}).get('data', ''))


def _estimate(turn: Turn) -> tuple[int, int]:
    """About how many tokens and request bytes a turn costs."""
    if isinstance(turn.content, str):
        return len(turn.content) // 3 + 8, len(turn.content)
    tokens, size = 8, 0
    for block in turn.content:
        source = block.get('source', {})
        if block['type'] == 'text':
            tokens, size = tokens + len(block['text']) // 3, size + len(block['text'])
        elif block['type'] == 'image':
            tokens, size = tokens + IMAGE_TOKENS, size + len(source['data'])
        elif source.get('type') == 'text':  # a text file
            tokens, size = tokens + len(source['data']) // 3, size + len(source['data'])
        else:  # a PDF: each page's text and an image of it, roughly one token per 15 bytes of base64
            tokens, size = tokens + max(IMAGE_TOKENS, len(source['data']) // 15), size + len(source['data'])
    return tokens, size


def build_turns(history: Sequence[Message], read_file: FileReader | None = None) -> list[Turn]:
    """The conversation as the Messages API wants it: user first, roles alternating, no empty turns.

    Consecutive messages of one role (several people typing during a reply) become one turn; user
    messages carry their author's name so the model knows who said what, and the start of the message they reply to,
    if any. A trailing assistant turn
    (Continue) is sent as a prefill the model goes on from.

    A user message with attachments becomes content blocks: its files (images as `image` blocks, PDFs and text files
    as `document` blocks, read with `read_file`; blocking), then its text naming them. Turns without files stay plain
    strings.
    """
    turns: list[Turn] = []
    for message in history:
        text = CITATION_MARK.sub('', message.content) if message.citations else message.content
        files = message.attachments if message.role == 'user' else ()
        if files:
            listed = ', '.join(f'{a.name} ({a.media_type}, {describe_size(a.size)})' for a in files)
            text = f'{text}\n[attached: {listed}]' if text.strip() else f'[attached: {listed}]'
        if message.role == 'user' and message.reply_to:
            quoted = message.reply_to
            text = f'(replying to {quoted.get("author") or "Someone"}: "{quoted.get("excerpt", "")}")\n{text}'
        if message.role == 'user' and message.author:
            text = f'{message.author}: {text}'
        if not text.strip():
            continue
        content: str | list[Block] = text
        sent: tuple[SentFile, ...] = ()
        if files and read_file is not None:
            found = [(attachment, read_file(attachment)) for attachment in files]
            content = [*(file_block(a, data) for a, data in found), {'type': 'text', 'text': text}]
            sent = tuple(SentFile(a.name, pdf_pages(data[1]) if data[0] == PDF_TYPE else 0)
                         for a, data in found if data is not None)
        if turns and turns[-1].role == message.role:
            turns[-1] = _joined(turns[-1], Turn(message.role, content, files, sent))
        elif turns or message.role == 'user':
            turns.append(Turn(message.role, content, files, sent))
    if turns and turns[-1].role == 'assistant':
        turns[-1] = Turn('assistant', turns[-1].text.rstrip())  # the API refuses trailing whitespace here
    return turns


def _joined(first: Turn, second: Turn) -> Turn:
    """Two turns of one role as one: text joined by a blank line, blocks one after the other."""
    if isinstance(first.content, str) and isinstance(second.content, str):
        return Turn(first.role, f'{first.content}\n\n{second.content}')
    blocks = _blocks(first.content)
    for block in _blocks(second.content):
        if block['type'] == 'text' and blocks and blocks[-1]['type'] == 'text':
            blocks[-1] = {'type': 'text', 'text': f'{blocks[-1]["text"]}\n\n{block["text"]}'}
        else:
            blocks.append(block)
    return Turn(first.role, blocks, first.files + second.files, first.sent + second.sent)


def _blocks(content: str | list[Block]) -> list[Block]:
    return [{'type': 'text', 'text': content}] if isinstance(content, str) else list(content)


def file_block(attachment: Attachment, found: tuple[str, bytes] | None) -> Block:
    """The content block that gives Claude a file: an image, a PDF document or a text document (with its name)."""
    if found is None:
        return {'type': 'text', 'text': f'[{attachment.name}: this file is no longer available]'}
    media_type, data = found
    if media_type in IMAGE_TYPES:
        return {'type': 'image', 'source': {'type': 'base64', 'media_type': media_type,
                                            'data': base64.b64encode(data).decode('ascii')}}
    if media_type == PDF_TYPE:
        return {'type': 'document', 'title': attachment.name,
                'source': {'type': 'base64', 'media_type': PDF_TYPE, 'data': base64.b64encode(data).decode('ascii')}}
    return {'type': 'document', 'title': attachment.name,
            'source': {'type': 'text', 'media_type': 'text/plain', 'data': data.decode('utf-8', 'replace')}}


def cached_messages(turns: Sequence[Turn]) -> list[Any]:
    """The turns as API messages, the newest user turn marked as the end of a cacheable prefix.

    Each turn of a room repeats the whole conversation; with the prefix cached, the next turn reads it
    from the cache (cheaper, faster) and only pays for what is new.
    """
    # Plain strings but for the marked turn: the SDK deep-copies the request, and a long room sends thousands of turns.
    messages: list[Any] = [{'role': t.role, 'content': t.content} for t in turns]
    for message in reversed(messages):
        if message['role'] == 'user':
            blocks = _blocks(message['content'])  # a copy: the turn's own blocks stay unmarked
            blocks[-1] = {**blocks[-1], 'cache_control': {'type': 'ephemeral'}}
            message['content'] = blocks
            break
    return messages
