"""The built-in offline demo model: answers at a human pace without sending anything anywhere.

It shows what a room does with a reply, so its answers behave like Claude's where a person can see it: a new version
(Regenerate) reads differently, Continue goes on from where a reply stopped, thinking streams before the answer when
the room asks for it, and each reply reports its tokens (estimated: nothing was counted by a real tokenizer).
"""
from __future__ import annotations

import asyncio
import hashlib
import random
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence

from .llm import NO_OPTIONS, Options, Part, RetryListener, Thinking, UsageListener
from .models import PDF_TYPE, Attachment, Usage, describe_size
from .plaintext import plain_text
from .titles import first_words
from .turns import ATTACHED_LINE, IMAGE_TOKENS, Turn

REMEMBERED = 512
"""Conversations whose last answer the demo remembers, so the next version of it differs."""
CHARS_PER_TOKEN = 4
"""About how many characters of English make a token: the demo's usage is an estimate of that kind."""
PIECE = re.compile(r'\s*\S+')
"""A streamed piece: a word with the space before it, so a stopped reply never ends in a space Continue loses."""

OPENINGS = ('You wrote:', 'Here is what you asked:', 'Your message, as it reached me:', 'I read this:')
BODIES = (
    'This answer comes from the built-in demo model, so nothing left this machine. Everyone who opens this room sees '
    'it stream in live, and it is saved in the room.',
    'I am the offline stand-in for Claude: I cannot understand your message, but I can show how a room works. Every '
    'tab in this room watched this reply arrive word by word, and the room keeps it.',
    'No model read this: the demo answers on this machine alone. Try Regenerate for another version of this reply, '
    'Stop to cut a reply short and Continue to let it go on.',
    'This is a canned reply of the demo model, written without any network. Share the room link, and everyone who '
    'opens it sees the replies stream in at the same time as you.',
)
TIPS = (
    'To talk to Claude, stop the app and start it with an API key:\n\n'
    '```bash\nexport ANTHROPIC_API_KEY=sk-ant-...\npython main.py\n```\n\n'
    'Any Anthropic-compatible server works too: set `ANTHROPIC_BASE_URL` as well.',
    'For real answers, give the app an API key and start it again:\n\n'
    '```bash\nANTHROPIC_API_KEY=sk-ant-... python main.py\n```',
    'Claude answers here once the app is started with `ANTHROPIC_API_KEY` set. To use another Anthropic-compatible '
    'server, set `ANTHROPIC_BASE_URL` too.',
    'Tip: start the app with `ANTHROPIC_API_KEY` in the environment and this same room talks to Claude, with '
    'thinking and web search when you turn them on in the room settings.',
)
VARIANTS = len(OPENINGS)
WEB_SEARCH = ('Web search is on in this room, but the demo model cannot search the web. Claude can, once the app '
              'runs with an API key.\n\n')
CLOSING = ('\n\n*(The offline demo model cannot go on with this text: it only knows its own answers. With an API '
           'key, Claude continues it.)*')


class Demo:
    """The built-in offline model: Markdown answers at a human pace, nothing sent anywhere.

    Which of its answers comes next is remembered per conversation: a new version of a reply is always another
    answer than the last one. A first answer is picked at random (`seed` makes that repeatable).
    """

    name = 'demo'

    def __init__(self, delay: float = 0.03, seed: int | None = None) -> None:
        self.delay = delay
        self._random = random.Random(seed)
        self._last: OrderedDict[str, int] = OrderedDict()
        """Per conversation (a digest of its turns), the variant of its last answer."""

    async def stream(self, turns: Sequence[Turn], system: str, *, max_tokens: int | None = None,
                     on_retry: RetryListener | None = None,
                     on_usage: UsageListener | None = None, options: Options = NO_OPTIONS) -> AsyncIterator[Part]:
        last = next((t for t in reversed(turns) if t.role == 'user'), None)
        question = ATTACHED_LINE.sub('', last.text) if last else ''  # the reply lists the files itself
        files = last.files if last else ()
        thinking = ''
        if turns and turns[-1].role == 'assistant':  # Continue: the partial reply is a prefill to go on from
            reply = continuation(turns[-1].text, question, files, options, self._last.get(_digest(turns[:-1])))
        else:
            # the reply a Regenerate replaces: the demo's memory of what it wrote last is gone after a restart, the
            # stored reply is not
            variant = self._next_variant(turns, written_as(options.replacing, question, files))
            if options.thinking_budget > 0:
                thinking = demo_thinking(question, files, variant)
            reply = demo_reply(question, files, variant=variant, web_search=options.web_search)
        for piece in PIECE.findall(thinking):
            await asyncio.sleep(self.delay)
            yield Thinking(piece)
        for piece in PIECE.findall(reply):
            await asyncio.sleep(self.delay)
            yield piece
        if on_usage is not None:
            on_usage(Usage(input_tokens=_tokens(system) + sum(_turn_tokens(turn) for turn in turns),
                           output_tokens=_tokens(thinking) + _tokens(reply)))

    def _next_variant(self, turns: Sequence[Turn], replaced: set[int]) -> int:
        """:param replaced: the variants the reply being replaced could be (none for a first answer): never again"""
        key = _digest(turns)
        previous = self._last.pop(key, None)
        if previous is None:
            allowed = [v for v in range(VARIANTS) if v not in replaced] or list(range(VARIANTS))
            variant = self._random.randrange(VARIANTS) if len(allowed) == VARIANTS else self._random.choice(allowed)
        else:
            variant = next(v for v in ((previous + n) % VARIANTS for n in range(1, VARIANTS + 1))
                           if v not in replaced or len(replaced) == VARIANTS)
        self._last[key] = variant
        while len(self._last) > REMEMBERED:
            self._last.popitem(last=False)
        return variant


def demo_reply(question: str, files: Sequence[Attachment] = (), *, variant: int = 0, web_search: bool = False) -> str:
    """One of the demo's answers (`variant` picks which), quoting the question and naming the attached files."""
    variant %= VARIANTS
    quoted = '\n'.join(f'> {line}' for line in question.strip().splitlines()[:6]) or '> (nothing)'
    received = ''
    if files:
        listed = '\n'.join(f'- {_escaped(a.name)} ({a.media_type}, {describe_size(a.size)})' for a in files)
        received = (f'You attached {len(files)} file{"s" if len(files) > 1 else ""}:\n\n{listed}\n\n'
                    'The demo model cannot look inside them; Claude reads images, PDFs and text files.\n\n')
    searched = WEB_SEARCH if web_search else ''
    return (f'**Demo model** (offline). {OPENINGS[variant]}\n\n{quoted}\n\n{received}{searched}'
            f'{BODIES[variant]}\n\n{TIPS[variant]}')


def written_as(text: str, question: str, files: Sequence[Attachment]) -> set[int]:
    """The variants of the demo's answer to `question` that `text` is, or is the start of (a stopped reply)."""
    if not text.strip():
        return set()
    return {variant for variant in range(VARIANTS) for web_search in (False, True)
            if demo_reply(question, files, variant=variant, web_search=web_search).startswith(text.rstrip())}


def demo_thinking(question: str, files: Sequence[Attachment], variant: int) -> str:
    """A short visible thinking before an answer: what the demo is about to do, in its own words."""
    words = first_words(' '.join(plain_text(question).split()), 8, 60)
    about = f'The message says “{words}”.' if words else 'The message has no text.'
    named = f' It comes with {len(files)} attached file{"s" if len(files) > 1 else ""}, which I will name.' \
        if files else ''
    plan = ('I am the offline demo model, so I cannot really think about it. I will quote it back and explain how '
            'to reach Claude.') if variant % 2 == 0 else \
        ('As the demo model I have no real answer: I will show the message as I got it and say how to talk to '
         'Claude instead.')
    return f'{about}{named} {plan}'


def continuation(partial: str, question: str, files: Sequence[Attachment], options: Options,
                 written: int | None = None) -> str:
    """The rest of the answer a partial reply was writing (the `written` variant, if known, when the partial text could
    start several); a short closing when it is not one of the demo's."""
    order = [*([written] if written is not None else []), *range(VARIANTS)]
    for web_search in (options.web_search, not options.web_search):  # the setting may have changed since
        for variant in order:
            answer = demo_reply(question, files, variant=variant, web_search=web_search)
            if answer.startswith(partial):
                return answer[len(partial):]
    fence = '\n```' if sum(1 for line in partial.splitlines() if line.lstrip().startswith('```')) % 2 else ''
    return fence + CLOSING


def _digest(turns: Sequence[Turn]) -> str:
    """A conversation's key: its turns' roles, texts and files."""
    return hashlib.sha256(repr([(t.role, t.text, [a.id for a in t.files]) for t in turns]).encode()).hexdigest()


def _tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def _turn_tokens(turn: Turn) -> int:
    """About what a turn would cost Claude: its text, and its files the way the API counts them."""
    cost = 4 + _tokens(turn.text)
    for attachment in turn.files:
        if attachment.is_image:
            cost += IMAGE_TOKENS
        elif attachment.media_type == PDF_TYPE:
            cost += max(IMAGE_TOKENS, attachment.size // 12)
        else:
            cost += (attachment.size + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN  # a text file
    return cost


def _escaped(text: str) -> str:
    """A file name as literal Markdown text."""
    return ''.join(f'\\{char}' if char in '\\`*_[]()<>#!|~' else char for char in text)
