"""The built-in offline demo model: answers at a human pace without sending anything anywhere."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

from .llm import ATTACHED_LINE, NO_OPTIONS, Options, Part, RetryListener, Turn, UsageListener
from .models import Attachment, describe_size


class Demo:
    """The built-in offline model: a deterministic Markdown answer at a human pace, nothing sent anywhere."""

    name = 'demo'

    def __init__(self, delay: float = 0.03) -> None:
        self.delay = delay

    async def stream(self, turns: Sequence[Turn], system: str, *, max_tokens: int | None = None,
                     on_retry: RetryListener | None = None,
                     on_usage: UsageListener | None = None, options: Options = NO_OPTIONS) -> AsyncIterator[Part]:
        last = next((t for t in reversed(turns) if t.role == 'user'), None)
        question = ATTACHED_LINE.sub('', last.text) if last else ''  # the reply lists the files itself
        reply = demo_reply(question, last.files if last else ())
        for word in reply.split(' '):
            await asyncio.sleep(self.delay)
            yield word + ' '


def demo_reply(question: str, files: Sequence[Attachment] = ()) -> str:
    quoted = '\n'.join(f'> {line}' for line in question.strip().splitlines()[:6]) or '> (nothing)'
    received = ''
    if files:
        listed = '\n'.join(f'- {_escaped(a.name)} ({a.media_type}, {describe_size(a.size)})' for a in files)
        received = (f'You attached {len(files)} file{"s" if len(files) > 1 else ""}:\n\n{listed}\n\n'
                    'The demo model cannot look inside them; Claude reads images, PDFs and text files.\n\n')
    return (
        f'**Demo model** (offline). You wrote:\n\n{quoted}\n\n{received}'
        'This answer comes from the built-in demo model, so nothing left this machine. '
        'Everyone who opens this room sees it stream in live, and it is saved in the room.\n\n'
        'To talk to Claude, stop the app and start it with an API key:\n\n'
        '```bash\nexport ANTHROPIC_API_KEY=sk-ant-...\npython main.py\n```\n\n'
        'Any Anthropic-compatible server works too: set `ANTHROPIC_BASE_URL` as well.'
    )


def _escaped(text: str) -> str:
    """A file name as literal Markdown text."""
    return ''.join(f'\\{char}' if char in '\\`*_[]()<>#!|~' else char for char in text)
