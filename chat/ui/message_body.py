"""A chat message's text as sanitised markdown, rendered in the browser and fed by streamed text deltas.

The browser side is two modules: markdown.js, pure Markdown (marked's lexer and renderer, NiceGUI's DOMPurify with
our allow-list, code and math), and message_body.js, the component with its socket transport: it applies
`rooms_text` frames (`[body, offset, text, ...]`, offsets in code points like Python's `len`) that the server sends
straight over socket.io, outside NiceGUI's element updates; see chat/ui/live.py for the server side.
"""
from __future__ import annotations

from nicegui import ui


class MessageBody(ui.element, component='message_body.js',
                  dependencies=['markdown.js', 'lib/marked.esm.js', 'lib/hljs.js', 'lib/katex.js']):
    """The body of one message; its `text` prop is the full text at render time, deltas stream in on their own.

    How the modules are served: each of `dependencies` is registered as a NiceGUI library, served under
    `/_nicegui/<version>/libraries/<hash>/<file>` and listed in every page's import map under its file-name stem
    (`markdown`, `marked`, `hljs`, `katex`); so the component imports `import { renderMarkdown } from "markdown"` and
    markdown.js imports `import { Marked } from "marked"`, with bare specifiers. A relative import cannot work: each
    file is served under a hashed prefix of its own. Keep the stems unique: another library called `marked.*.js`
    would take over the import-map entry. The vendored files, their versions and licences: lib/README.md.
    """

    def __init__(self, *, room: str, msgid: str, text: str, streaming: bool) -> None:
        super().__init__()
        with self._props.suspend_updates():  # not sent yet anyway: no need for an update per prop
            self._props['room'] = room
            self._props['msgid'] = msgid
            self._props['text'] = text
            self._props['streaming'] = streaming

    @property
    def text(self) -> str:
        """The text as the server last recorded it (the browser may be ahead while deltas stream)."""
        return self._props['text']

    def set_text_silently(self, text: str) -> None:
        """Record the text without sending it: the browser gets it from deltas, this keeps re-renders correct.

        Any later update of this element (for whatever reason) sends the recorded text along, and the browser then
        takes it as the truth.
        """
        # NiceGUI's props are observable and would call update() on assignment
        with self._props.suspend_updates():
            self._props['text'] = text
