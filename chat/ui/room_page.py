"""The room page: history, live replies, composer. Renders hub events and sends intents to the hub."""
from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException
from nicegui import ui
from nicegui.client import Client

from ..access import access_of
from ..catalog import ModelCatalog
from ..config import Settings
from ..errors import MessageRejected
from ..events import RoomEvent
from ..hub import RoomHub
from ..links import RoomLinks
from ..models import Message, Person, is_valid_room_id
from ..participants import participant_of, public_id
from ..pricing import describe, estimate
from ..rooms import Rooms
from .composer import Composer
from .live import renew_room_link
from .message_body import MessageBody
from .message_view import MessageView
from .people import stored_name
from .room_settings import open_room_settings
from .share_dialog import Sharing
from .switcher import add_room_switcher
from .theme import demo_reason, frame

PAGE_SIZE = 30
"""Messages shown when a room opens (a few screens' worth: fewer opens a long room faster); earlier ones load on
demand."""


def register(rooms: Rooms, settings: Settings, catalog: ModelCatalog, links: RoomLinks) -> None:
    @ui.page('/room/{room_id}')
    async def room_page(room_id: str, client: Client) -> None:
        if not is_valid_room_id(room_id):
            raise HTTPException(status_code=404, detail='No such room: room ids use letters, digits, - and _.')
        hub = await rooms.get(room_id)
        access = access_of(client.request.scope)
        sharing = Sharing(room_id, settings, links, owner=access.owner,
                          renew=lambda: renew_room_link(links, room_id))

        async def delete(by: Person) -> None:
            await rooms.delete(room_id, by)
            await renew_room_link(links, room_id)  # a room made later under the same id must not open to this link
        RoomView(hub, client, catalog, sharing, demo=demo_reason(settings), delete=delete if access.owner else None)
        await add_room_switcher(rooms, hub, client)


class RoomView:
    """One tab's view of a room."""

    def __init__(self, hub: RoomHub, client: Client, catalog: ModelCatalog, sharing: Sharing, *, demo: str | None,
                 delete: Callable[[Person], Awaitable[None]] | None) -> None:
        """:param demo: why the demo model answers and who can change that; None when Claude answers
        :param delete: deletes the room; None when this tab may not (it came in with a room link)"""
        self.hub = hub
        self.sharing = sharing
        self.views: dict[str, MessageView] = {}
        self.client = client
        participant = participant_of(client.request)
        self.sender = participant or client.id
        """Whose messages these are for the flood limit: the browser, else this tab."""
        self.person_id = public_id(participant) if participant else None
        """This browser's participant id as others see it (messages' `author_id`)."""
        with frame(self._title(), demo=demo) as self.header:
            with self.header.tools:
                ui.button(icon='tune', on_click=lambda: open_room_settings(hub, catalog, delete, sharing, self)) \
                    .props('flat round dense color=white data-testid=room-settings aria-label="Room settings"') \
                    .mark('room-settings').tooltip('Room settings')
            # what screen readers hear of new messages (room.js fills it): they need not move to the list to know
            ui.element('div').classes('sr-only').props('role=status aria-live=polite data-testid=announcer')
            with ui.column().classes('messages') as self.column:
                self.notice = ui.label().classes('room-notice w-full p-2').props('data-testid=room-notice')
                self.earlier = ui.button('Show earlier messages', on_click=self._show_earlier) \
                    .props('flat dense data-testid=load-earlier').classes('load-earlier').mark('load-earlier')
                with ui.column().classes('empty-room').props('data-testid=empty-room') as self.empty:
                    ui.icon('forum', size='44px').classes('empty-room-icon')
                    ui.label('Start the conversation').classes('empty-room-title')
                    ui.label('Write the first message below. Everyone who opens this room\'s link sees it, and '
                             'Claude\'s replies stream into every tab live.').classes('empty-room-text')
                # loads the message component with the page: loading it with the first message would delay the
                # composer's reset until after it, wiping what someone typed meanwhile
                MessageBody(room=hub.room_id, msgid='', text='', streaming=False).classes('hidden')
                self.first_shown = max(0, len(hub.messages) - PAGE_SIZE)
                for message in hub.messages[self.first_shown:]:
                    self._add(message)
            self._composer()
        self._refresh_room()
        unsubscribe = hub.subscribe(self._on_event)
        client.on_delete(unsubscribe)  # not on disconnect: a tab that reconnects within the window keeps its client
        ui.run_javascript('window.roomsScrollToEnd && window.roomsScrollToEnd()')

    def _composer(self) -> None:
        self.composer = Composer(self.hub, self.client, self.sharing, tools=self.header.tools, sender=self.sender,
                                 person_id=self.person_id, stop=self._stop)
        self.input, self.people = self.composer.input, self.composer.people
        self.stop_button, self.room_usage = self.composer.stop_button, self.composer.room_usage

    @property
    def replying_to(self) -> Message | None:
        """The message the next one sent from this tab replies to."""
        return self.composer.replying_to

    @property
    def person(self) -> Person:
        """Who this tab is, for the hub: actions that change the room for everyone name them."""
        people = getattr(self, 'people', None)  # the history is built before the composer and its People
        return Person(self.person_id, people.name if people is not None else stored_name(self.client))

    def can_edit(self, message: Message) -> bool:
        return message.role == 'user' and message.author_id is not None and message.author_id == self.person_id

    def _stop(self) -> None:
        self.hub.stop(self.person)

    def retry(self, message: Message) -> None:
        self._intent(lambda: self.hub.retry(message.id))

    def resume(self, message: Message) -> None:
        self._intent(lambda: self.hub.resume(message.id))

    def regenerate(self, message: Message) -> None:
        self._intent(lambda: self.hub.regenerate(message.id, self.person))

    def edit(self, message: Message, text: str) -> None:
        self._intent(lambda: self.hub.edit(message.id, text, self.person))

    def select_version(self, message: Message, position: int) -> None:
        self._intent(lambda: self.hub.select_version(message.id, position, self.person))

    def react(self, message: Message, emoji: str) -> None:
        self._intent(lambda: self.hub.react(message.id, emoji, self.person))

    def reply(self, message: Message) -> None:
        """Quote `message` in the next message this tab sends (the composer shows it until sent or dropped)."""
        self.composer.reply(message)

    def _intent(self, action: Callable[[], None]) -> None:
        try:
            action()
        except MessageRejected as e:
            ui.notify(str(e), type='warning')

    def _on_event(self, event: RoomEvent) -> None:
        if event.kind == 'delta':  # its text reaches the browser through the socket room (live.py)
            if event.text and event.message and (view := self.views.get(event.message.id)) and view.waiting.visible:
                view.show_waiting(False)  # the first word is in
            return
        message = event.message
        if event.kind == 'added' and message is not None:
            with self.column:
                self._add(message)
            self._refresh_view(self._last_but_one())
            if len(self.hub.messages) == 1 and self.hub.room_settings.title is None:
                self._show_title()  # a new room is named by its first words from its first message on
        elif event.kind == 'updated' and message is not None:
            self._refresh_view(message)
            if self.hub.messages and message is self.hub.messages[0] and self.hub.room_settings.title is None:
                self._show_title()  # the room is named by its first message, which was edited
        elif event.kind == 'settings':
            self._show_title()
            self.composer.show_reply_mode()
        elif event.kind == 'activity':
            with self.client:
                ui.notify(event.text, position='top', timeout=4000)
            return
        elif event.kind == 'deleted':
            self.notice.set_text(f'{event.text or "This room was deleted."} Its file is kept in the trash folder of '
                                 'the data dir. Start a new room from the home page.')
            self.notice.set_visibility(True)
            self.input.disable()
            return
        elif event.kind == 'removed' and message is not None:
            if (view := self.views.pop(message.id, None)) is not None:
                self.column.remove(view.frame)
            self._refresh_view(self.hub.messages[-1] if self.hub.messages else None)
        # the room's total goes over every message; a new message without usage (all but imported ones) leaves it be
        self._refresh_room(usage=not (event.kind == 'added' and message is not None and message.usage is None))

    def _add(self, message: Message) -> None:
        is_last = bool(self.hub.messages) and message is self.hub.messages[-1]
        self.views[message.id] = MessageView(message, self.hub.room_id, self, is_last=is_last,
                                             prices=self.hub.settings.prices)

    def _refresh_view(self, message: Message | None) -> None:
        if message is not None and (view := self.views.get(message.id)) is not None:
            view.refresh(message, is_last=message is self.hub.messages[-1])

    def _last_but_one(self) -> Message | None:
        return self.hub.messages[-2] if len(self.hub.messages) > 1 else None

    def _show_earlier(self) -> None:
        start = max(0, self.first_shown - PAGE_SIZE)
        earlier = self.hub.messages[start:self.first_shown]
        self.first_shown = start
        anchor = self.earlier
        for message in earlier:
            with self.column:
                self._add(message)
            self.views[message.id].frame.move(self.column, target_index=anchor.parent_slot.children.index(anchor) + 1
                                              if anchor.parent_slot else None)
            anchor = self.views[message.id].frame
        self._refresh_room()

    def _title(self) -> str:
        return self.hub.summary().title if self.hub.messages or self.hub.room_settings.title else 'New room'

    def _show_title(self) -> None:
        title = self._title()
        self.header.title.set_text(title)
        with self.client:
            ui.page_title(f'{title} · Rooms')

    def _refresh_room(self, *, usage: bool = True) -> None:
        self.stop_button.set_visibility(self.hub.is_streaming)
        self.empty.set_visibility(not self.hub.messages)
        self.earlier.set_visibility(self.first_shown > 0)
        if usage:
            total = self.hub.usage
            cost = sum(filter(None, (estimate(m.model, m.usage, self.hub.settings.prices)
                                     for m in self.hub.messages if m.usage)), 0.0)
            self.room_usage.set_text(f'This room so far: {describe(total, cost)}' if total.output_tokens else '')
        self.notice.set_text(self.hub.notice or '')
        self.notice.set_visibility(bool(self.hub.notice))

