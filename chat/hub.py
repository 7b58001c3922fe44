"""RoomHub: one per room. Owns the room's history, queues model turns (TurnRunner runs them), publishes events.

The hub is the only writer of a room. Tabs subscribe to its events and send it intents (post, stop,
retry, continue); they never change a message themselves. No nicegui import here.
"""
from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from .config import Settings
from .errors import MessageRejected
from .events import Publisher, RoomEvent, Subscriber
from .files import FileStore
from .flood import FloodLimit
from .llm import ChatModel
from .models import (
    REACTIONS,
    Attachment,
    Message,
    Person,
    RoomSettings,
    RoomSummary,
    Status,
    Usage,
    addresses_claude,
    checked_text,
    clean_name,
    excerpt,
    summarize,
)
from .store import LoadedRoom, RoomFile
from .turn_runner import Job, JobKind, TurnRunner
from .versions import highest_seq, keep_as_previous, switch_to
from .writer import RoomWriter

SAVE_FAILED = 'Saving this room failed'


ModelFor = Callable[[str], ChatModel]
"""The model of a given name (`demo` or a Claude model id)."""


class RoomHub:
    def __init__(self, room_id: str, room_file: RoomFile, loaded: LoadedRoom, executor: ThreadPoolExecutor,
                 model_for: ModelFor, settings: Settings, *, files: FileStore | None = None) -> None:
        """:param files: where the files people attach are kept (None: this room takes none)"""
        self.room_id = room_id
        self._files = files
        self.settings = settings
        self.messages: list[Message] = loaded.messages
        self.room_settings: RoomSettings = loaded.settings
        self.notice: str | None = loaded.notice
        """A problem with the room's file the page must show, or None."""
        self._model_for = model_for
        self._writer = RoomWriter(room_file, executor, self._on_write_error, self._on_write_ok, enabled=loaded.writable)
        self._by_id = {m.id: m for m in self.messages}
        self.events = Publisher(f'room {room_id}')
        self._jobs: deque[Job] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._turns = TurnRunner(self)
        self.deleted = False
        self.streaming: Message | None = None
        """The reply being generated now, if any."""
        self._high_seq = highest_seq(self.messages)
        self._flood = FloodLimit()
        self._recover_interrupted()

    # intents ---------------------------------------------------------------------------------------------

    async def post(self, text: str, author: str | None = None, sender: str | None = None, *,
                   author_id: str | None = None, reply_to: str | None = None, ask_claude: bool = False,
                   attachments: Sequence[str] = ()) -> Message:
        """Store and publish a user message, then have the model answer it after any running turn (in a room that
        answers only mentions: when it mentions Claude or `ask_claude` is set).

        :param sender: who sends it (a browser's participant id, a script's address), for the flood limit
        :param author_id: the participant who writes it: only they may edit it later
        :param reply_to: the id of an earlier message this one answers (it is quoted)
        :param attachments: ids of files uploaded to this room (POST /api/rooms/{id}/files); the text may then be blank
        """
        files = await self._attached(attachments) if attachments else ()
        text = self._checked_text(text, allow_blank=bool(files))
        quote = self._quote(reply_to) if reply_to else None
        self._flood.check(sender or author or '')
        message = self._append(Message(id=_new_id(), seq=self._next_seq(), role='user', content=text,
                                       author=clean_name(author, 40), author_id=author_id, reply_to=quote,
                                       ask_claude=ask_claude or addresses_claude(text), attachments=files))
        if self._answers(message):
            self._schedule('answer', None)
        return message

    def stop(self, by: Person | None = None) -> bool:
        """Cancel the running reply; its partial text is kept as `stopped`. True if something was stopped."""
        return self._turns.stop(by)

    def react(self, message_id: str, emoji: str, person: Person) -> None:
        """Add the person's reaction to a message, or take it back if they had given it; live in every tab."""
        message = self._by_id.get(message_id)
        if message is None:
            raise MessageRejected('That message no longer exists.')
        if emoji not in REACTIONS:
            raise MessageRejected(f'React with one of {" ".join(REACTIONS)}.')
        if person.id is None:
            raise MessageRejected('Reactions need a browser that keeps cookies.')
        people = message.reactions.setdefault(emoji, {})
        if people.pop(person.id, None) is None:
            people[person.id] = person.label
        if not people:
            del message.reactions[emoji]
        self._changed(message)

    def retry(self, message_id: str) -> None:
        """Run a failed, stopped or interrupted reply again, in place."""
        self._schedule('retry', self._resumable(message_id))

    def resume(self, message_id: str) -> None:
        """Have the model go on from the partial text of a failed, stopped, interrupted or cut-off reply."""
        self._schedule('continue', self._resumable(message_id, continuing=True))

    def regenerate(self, message_id: str, by: Person | None = None) -> None:
        """Write the last reply again; the old one stays as a previous version."""
        message = self._by_id.get(message_id)
        if message is None or message.role != 'assistant' or message is not self.messages[-1]:
            raise MessageRejected('Only the last reply can be regenerated.')
        self._ensure_quiet()
        self._schedule('regenerate', message, by)

    def edit(self, message_id: str, text: str, by: Person | None = None) -> None:
        """Replace a user message's text and answer again from there; the old branch stays a previous version.

        Only the message's author may: the hub refuses everyone else, whatever their page shows.
        """
        message = self._by_id.get(message_id)
        if message is None or message.role != 'user':
            raise MessageRejected('Only your own messages can be edited.')
        if message.author_id is None or by is None or by.id != message.author_id:
            raise MessageRejected('Only the person who wrote a message can edit it.')
        text = self._checked_text(text, allow_blank=bool(message.attachments))  # its files stay with it
        self._ensure_quiet()
        keep_as_previous(message, self._after(message))
        message.content, message.created_at, message.status = text, time.time(), Status.COMPLETE
        message.edited, message.activity = True, None
        self._replace_tail(message, [])
        if self._answers(message):
            self._schedule('answer', None)

    def select_version(self, message_id: str, position: int, by: Person | None = None) -> None:
        """Show another version of a message (and the conversation that followed it) in every tab."""
        message = self._by_id.get(message_id)
        if message is None or not 0 <= position <= len(message.versions):
            raise MessageRejected('That version does not exist.')
        self._ensure_quiet()
        if position != message.version:
            tail = switch_to(message, self._after(message), position)
            if by is not None:
                message.activity = f'version {position + 1} shown by {by.label}'
            self._replace_tail(message, tail)
            if by is not None:
                self._tell(f'{by.label} switched a message to version {position + 1} of {len(message.versions) + 1}')

    # reading ---------------------------------------------------------------------------------------------

    def get(self, message_id: str) -> Message | None:
        return self._by_id.get(message_id)

    @property
    def is_streaming(self) -> bool:
        return self.streaming is not None

    @property
    def is_idle(self) -> bool:
        """Nobody watches, no turn runs and everything is saved: the room may be closed without losing anything."""
        return not self.events.count and self._worker is None and not self._writer.unsaved

    @property
    def usage(self) -> Usage:
        """Tokens of every reply shown in the room."""
        return sum((m.usage for m in self.messages if m.usage), Usage())

    def summary(self) -> RoomSummary:
        return summarize(self.room_id, self.messages, self.room_settings)

    @property
    def system_prompt(self) -> str:
        return self.room_settings.system_prompt or self.settings.system_prompt

    @property
    def max_tokens(self) -> int:
        return self.room_settings.max_tokens or self.settings.max_tokens

    @property
    def model_name(self) -> str:
        return self.room_settings.model or self.settings.model

    def configure(self, by: Person | None = None, **changes: str | int | None) -> RoomSettings:
        """Change the room's settings (title, system_prompt, model, max_tokens, reply_mode), saved and shown in every
        tab; `by` is named to everyone."""
        before = self.room_settings
        self.room_settings = self.room_settings.updated(**changes)
        self._writer.save_settings(self.room_settings)
        self._publish(RoomEvent('settings'))
        if by is not None and self.room_settings != before:
            self._tell(f'{by.label} changed the room settings')
        return self.room_settings

    @property
    def reply_mode(self) -> str:
        return self.room_settings.reply_mode or 'every'

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber` with every event of this room from now on; returns the function that unsubscribes it."""
        return self.events.subscribe(subscriber)

    @property
    def subscriber_count(self) -> int:
        return self.events.count

    @property
    def last_active(self) -> float:
        return self.events.last_active

    async def close(self) -> None:
        """Stop any turn and write everything to disk."""
        self._jobs.clear()
        for task in (self._turns.task, self._worker):
            if task is not None:
                task.cancel()
        for task in (self._turns.task, self._worker):
            if task is not None:
                await asyncio.gather(task, return_exceptions=True)
        await self._writer.close()

    async def flush(self) -> None:
        await self._writer.flush()

    async def close_deleted(self, by: Person | None = None) -> None:
        """Stop everything and tell every tab the room is gone (Rooms moves the file to the trash)."""
        self.deleted = True
        await self.close()
        self._publish(RoomEvent('deleted', text=f'This room was deleted by {by.label}.' if by else ''))

    # turns -----------------------------------------------------------------------------------------------

    def _schedule(self, kind: JobKind, message: Message | None, by: Person | None = None) -> None:
        if self.deleted:
            raise MessageRejected('This room was deleted; start a new one from the home page.')
        if kind == 'answer' and any(job.kind == 'answer' for job in self._jobs):
            return  # the queued turn will see this message too
        if message is not None and any(job.message is message for job in self._jobs):
            return
        self._jobs.append(Job(kind, message, by))
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._work(), name=f'room {self.room_id}')

    async def _work(self) -> None:
        try:
            while self._jobs:
                await asyncio.wait([self._turns.start(self._jobs.popleft())])  # a stopped turn must not stop the worker
        finally:
            self._worker = None
            self.events.last_active = time.monotonic()

    # state -----------------------------------------------------------------------------------------------

    def _append(self, message: Message) -> Message:
        self._high_seq = max(self._high_seq, message.seq)
        self.messages.append(message)
        self._by_id[message.id] = message
        self._writer.save(message)
        self._publish(RoomEvent('added', message))
        return message

    def _add_reply(self, model_name: str) -> Message:
        """Append an empty reply the model now writes."""
        reply = Message(id=_new_id(), seq=self._next_seq(), role='assistant', content='', status=Status.STREAMING,
                        model=model_name)
        self.streaming = reply  # before publishing, so every tab shows the stop button with the reply
        return self._append(reply)

    def _replace_tail(self, message: Message, tail: list[Message]) -> None:
        """Show `message` with new text and `tail` as the messages after it, in the store and every tab."""
        for old in self._after(message):
            self.messages.remove(old)
            del self._by_id[old.id]
            self._writer.delete(old.seq)
            self._publish(RoomEvent('removed', old))
        self._publish(RoomEvent('delta', message, offset=-1, text=message.content))
        self._changed(message)
        for restored in tail:
            self._append(restored)

    def _after(self, message: Message) -> list[Message]:
        return [m for m in self.messages if m.seq > message.seq]

    def _ensure_quiet(self) -> None:
        if self._worker is not None:
            raise MessageRejected('Wait until the reply is finished (or stop it), then try again.')

    def _answers(self, message: Message) -> bool:
        """Whether Claude answers this user message: always, or in a `mention` room only when it is addressed."""
        return self.reply_mode != 'mention' or message.ask_claude

    def _quote(self, message_id: str) -> dict[str, object]:
        quoted = self._by_id.get(message_id)
        if quoted is None:
            raise MessageRejected('The message you reply to is no longer in the room.')
        return {'id': quoted.id, 'author': quoted.author if quoted.role == 'user' else 'Claude',
                'author_id': quoted.author_id, 'excerpt': excerpt(quoted.content)}

    def _tell(self, text: str) -> None:
        """Say to every tab who changed the room for everyone."""
        self._publish(RoomEvent('activity', text=text))

    def _checked_text(self, text: str, *, allow_blank: bool = False) -> str:
        if self.deleted:
            raise MessageRejected('This room was deleted; start a new one from the home page.')
        return checked_text(text, self.settings.max_message_chars, allow_blank=allow_blank)

    async def _attached(self, file_ids: Sequence[str]) -> tuple[Attachment, ...]:
        files = self._files
        if files is None:
            raise MessageRejected('This room does not keep files.')
        return await asyncio.to_thread(files.attachments, self.room_id, file_ids)

    def _changed(self, message: Message) -> None:
        self._writer.save(message)
        self._publish(RoomEvent('updated', message))

    def _resumable(self, message_id: str, *, continuing: bool = False) -> Message:
        message = self._by_id.get(message_id)
        if message is None or not (message.can_continue if continuing else message.can_resume):
            raise MessageRejected('Only a failed, stopped or interrupted reply can be retried or continued '
                                  "(and one cut off at the room's max tokens continued).")
        if message is self.streaming:
            raise MessageRejected('This reply is still being written.')
        return message

    def _recover_interrupted(self) -> None:
        for message in self.messages:
            if message.status == Status.STREAMING:
                message.status = Status.INTERRUPTED
                self._writer.save(message)

    def _next_seq(self) -> int:
        return self._high_seq + 1

    def _publish(self, event: RoomEvent) -> None:
        self.events.publish(event)

    def _on_write_ok(self) -> None:
        if self.notice is not None and self.notice.startswith(SAVE_FAILED):
            self.notice = None
            self._publish(RoomEvent('notice'))

    def _on_write_error(self, error: Exception) -> None:
        reason = getattr(error, 'strerror', None) or error
        self.notice = (f'{SAVE_FAILED} ({reason}). Whoever runs Rooms must fix writing to its data folder (free '
                       'space, permissions) and keep Rooms running meanwhile: everything said here is kept and saved '
                       'as soon as writing works again.')
        self._publish(RoomEvent('notice'))


def _new_id() -> str:
    return uuid.uuid4().hex[:16]
