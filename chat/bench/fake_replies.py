"""What the fake Anthropic API answers with: the scripted replies (``Script``, the timestamped words of
``enqueue_words`` and ``parse_words`` to read them back, the default echo reply) and the JSON bodies it sends
(messages, errors, token counts, model info). Pure functions and data; the server is in fake_anthropic.py."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

DEFAULT_MODELS = ('claude-sonnet-5-5', 'claude-haiku-5-5', 'claude-opus-5-5')
WORD_RE = re.compile(r'w(\d+)@(\d+\.\d+)')


def parse_word_timestamp(word: str) -> tuple[int, float]:
    """``'w17@1732412345.123456 '`` -> ``(17, 1732412345.123456)``: index and time.time() when it was sent."""
    match = WORD_RE.fullmatch(word.strip())
    if match is None:
        raise ValueError(f'not a timestamped word: {word!r}')
    return int(match[1]), float(match[2])


def parse_words(text: str) -> list[tuple[int, float]]:
    return [(int(index), float(sent_at)) for index, sent_at in WORD_RE.findall(text)]


def error_body(error_type: str, message: str | None = None) -> dict[str, Any]:
    return {'type': 'error', 'error': {'type': error_type, 'message': message or error_type.replace('_', ' ')}}


@dataclass
class Script:
    """One scripted reply; kind is text | words | status | error_event | drop | hang."""

    kind: str
    chunks: list[str] = field(default_factory=list)
    delay: float = 0.0
    n_words: int = 0
    status: int = 200
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    paragraph: int = 0
    """words: end a paragraph (a blank line) after every this many words; 0: one paragraph."""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    """blocks: the reply's content blocks (see enqueue_blocks)."""
    stop_reason: str = 'end_turn'
    """How a reply that streams to its end ends: `end_turn`, `max_tokens`, `refusal` or `pause_turn`."""

    @property
    def count(self) -> int:
        return self.n_words if self.kind == 'words' else len(self.chunks)

    @property
    def output_tokens(self) -> int:
        """What the fake bills as output tokens: one per text or thinking delta it streams (a word of `words`), one per
        search query and per redacted thinking block; so a reply that thinks more costs more."""
        if self.kind != 'blocks':
            return self.count
        return sum(len(block.get('thinking', ())) + len(block.get('text', ())) + ('search' in block)
                   + bool(block.get('redacted')) for block in self.blocks)

    def chunk(self, index: int) -> str:
        if self.kind != 'words':
            return self.chunks[index]
        end = '\n\n' if self.paragraph and (index + 1) % self.paragraph == 0 else ''
        return f'w{index}@{time.time():.6f} {end}'


def message_text(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return ' '.join(block.get('text', '') for block in content if block.get('type') == 'text')


def estimate_tokens(body: dict[str, Any]) -> int:
    texts = [message_text(body.get('system') or '')] + [message_text(m['content']) for m in body.get('messages', [])]
    files = sum(len(file_blocks(m['content'])) for m in body.get('messages', []))
    return max(1, sum(len(text) for text in texts) // 4 + 1600 * files)


def file_blocks(content: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [] if isinstance(content, str) else [b for b in content if b.get('type') in ('image', 'document')]


def echo_script(body: dict[str, Any]) -> Script:
    """``Echo: <last user text>``, naming the files it carries: ``(+ image image/png, document notes.md)``."""
    user = [m for m in body.get('messages', []) if m.get('role') == 'user']
    text = f'Echo: {message_text(user[-1]["content"]) if user else ""}'
    files = file_blocks(user[-1]['content']) if user else []
    if files:
        named = [f'image {b["source"]["media_type"]}' if b['type'] == 'image' else f'document {b.get("title", "")}'
                 for b in files]
        text += f' (+ {", ".join(named)})'
    return Script('text', re.findall(r'\S+\s*', text))


def new_message(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    usage = {
        'input_tokens': estimate_tokens(body),
        'output_tokens': 1,
        'cache_creation_input_tokens': 0,
        'cache_read_input_tokens': 0,
    }
    return {
        'id': f'msg_fake_{time.time_ns()}',
        'type': 'message',
        'role': 'assistant',
        'content': [],
        'model': body.get('model', DEFAULT_MODELS[0]),
        'stop_reason': None,
        'stop_sequence': None,
        'usage': usage,
        **fields,
    }


def model_info(model: str, thinks: bool = True, adaptive_only: bool = False) -> dict[str, Any]:
    """The API's info on a model: it thinks with a budget (`enabled`), only as it decides (`adaptive_only`), or not."""
    family, _, version = model.removeprefix('claude-').partition('-')
    yes, no = {'supported': True}, {'supported': False}
    return {
        'capabilities': {
            'batch': yes, 'citations': yes, 'code_execution': no, 'image_input': yes, 'pdf_input': yes,
            'structured_outputs': yes, 'server_tools': yes,
            'thinking': {'supported': thinks, 'types': {'enabled': yes if thinks and not adaptive_only else no,
                                                        'adaptive': yes if thinks and adaptive_only else no,
                                                        'disabled': yes, 'between_tools': no}},
        },
        'type': 'model',
        'id': model,
        'display_name': f'Claude {family.title()} {version.replace("-", ".")}',
        'created_at': '2025-01-01T00:00:00Z',
        'lifecycle': 'active',
    }
