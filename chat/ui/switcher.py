"""Moving between rooms and noticing what is new: the room switcher of a room tab and the live feed behind it.

`ActivityRegistry` (one per `Rooms`) hears every open hub and tells each tab when a room gets a message, a new title
or is deleted. It hears a hub as the link after its text relay (live.py's), not as a subscriber: a room nobody has
open still counts as idle and is closed. Rooms that are closed come from `Rooms.summaries()` when a page is built.

What this browser has read is the browser's business (attention.js keeps it in localStorage): each switcher item
carries the time of its room's newest message (`data-at`, kept live), and the room tab tells attention.js about
every message added to its room, so it can count them in the title of a hidden tab and mark where you left off.
"""
from __future__ import annotations

import json
import logging
import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nicegui import ui
from nicegui.client import Client

from ..access import access_of
from ..events import RoomEvent
from ..hub import RoomHub
from ..models import Message, RoomSummary
from ..participants import participant_of, public_id
from ..rooms import Rooms
from .theme import header_of

log = logging.getLogger(__name__)

MAX_ROOMS = 100
"""Rooms listed in the switcher, most recently active first; the home page lists them all."""
RECENT_MESSAGES = 100
"""Messages of the room a tab opens that attention.js is told about (when each was written, whose it is), to find
where the reader left off; the page shows fewer than this."""
NEWS = frozenset({'added', 'settings', 'deleted'})


@dataclass(slots=True, frozen=True)
class RoomActivity:
    """Something in a room that changes how it is listed."""

    summary: RoomSummary
    message: Message | None = None
    """The message just added, if that is what happened."""
    deleted: bool = False


Listener = Callable[[RoomActivity], None]


class ActivityRegistry:
    """Every open room's news, for every tab that lists rooms or counts new messages."""

    def __init__(self, rooms: Rooms) -> None:
        self._listeners: dict[int, Listener] = {}
        self._next_key = 0
        self._watched: weakref.WeakSet[RoomHub] = weakref.WeakSet()
        rooms.on_open.append(self.watch)

    def watch(self, hub: RoomHub) -> None:
        """Hear the hub's news from now on (once, however often asked)."""
        if hub in self._watched:
            return
        self._watched.add(hub)
        relay, hub_ref = hub.events.relay, weakref.ref(hub)  # a weak reference: a closed hub is freed

        def relay_and_watch(event: RoomEvent) -> None:
            if event.kind in NEWS and (watched := hub_ref()) is not None:
                self._publish(RoomActivity(watched.summary(), event.message if event.kind == 'added' else None,
                                           deleted=event.kind == 'deleted'))
            if relay is not None:
                relay(event)
        hub.events.relay = relay_and_watch

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every room's news from now on; returns the function that stops it."""
        key = self._next_key
        self._next_key += 1
        self._listeners[key] = listener
        return lambda: self._listeners.pop(key, None)

    def _publish(self, activity: RoomActivity) -> None:
        for listener in list(self._listeners.values()):
            try:
                listener(activity)
            except Exception:
                log.exception('a listener of room activity failed')


_REGISTRIES: weakref.WeakKeyDictionary[Rooms, ActivityRegistry] = weakref.WeakKeyDictionary()


def registry_of(rooms: Rooms) -> ActivityRegistry:
    """The registry of these rooms, made on first use (it hears hubs opened later through `rooms.on_open`)."""
    if (registry := _REGISTRIES.get(rooms)) is None:
        registry = _REGISTRIES[rooms] = ActivityRegistry(rooms)
    return registry


async def add_room_switcher(rooms: Rooms, hub: RoomHub, client: Client) -> RoomSwitcher:
    """The switcher and the attention feed of a room tab; called at the page's top level, after the room view.

    A tab that came in with a room link may open only that room: it gets no switcher, only the attention feed.
    """
    registry = registry_of(rooms)
    registry.watch(hub)
    summaries = None
    if access_of(client.request.scope).owner:
        summaries = await rooms.summaries()
        for summary in summaries:  # hubs opened before the registry existed
            if (open_hub := rooms.open_hub(summary.id)) is not None:
                registry.watch(open_hub)
    return RoomSwitcher(registry, hub, client, summaries)


class RoomSwitcher:
    """One tab's list of rooms (a side list on wide screens, a drawer on phones) and its notification toggle."""

    def __init__(self, registry: ActivityRegistry, hub: RoomHub, client: Client,
                 summaries: list[RoomSummary] | None) -> None:
        """:param summaries: the rooms to list, most recent first; None for a tab that may open only its own room"""
        self.room_id = hub.room_id
        self.client = client
        participant = participant_of(client.request)
        self.person_id = public_id(participant) if participant else None
        self.items: dict[str, SwitcherItem] = {}
        self.list: ui.element | None = None
        header = header_of(client)
        with header.tools:
            notify_toggle()
        if summaries is not None:
            if not hub.messages:  # a room is listed from its first message on, but the tab's own room is listed now
                summaries = [RoomSummary(self.room_id, header.title.text, 0.0, 0), *summaries]
            self._build(header.nav, summaries[:MAX_ROOMS])
        if not client.is_deleted:  # (gone while the rooms were listed: nothing would ever stop the listener)
            client.on_delete(registry.listen(self._on_activity))
        ui.run_javascript(f'window.roomsAttention?.open({json.dumps(self._opening(hub))})')

    def _build(self, nav: ui.row, summaries: list[RoomSummary]) -> None:
        self.drawer = SideDrawer().props('width=272 data-testid=room-switcher-drawer').classes('switcher-drawer')
        with self.drawer:
            with ui.row().classes('w-full items-center no-wrap switcher-head'):
                ui.label('Rooms').classes('font-semibold')
                ui.space()
                ui.link('All rooms', '/').classes('text-sm').props('data-testid=switcher-all')
            with ui.element('nav').classes('switcher-nav').props('aria-label=Rooms'), \
                    ui.element('div').classes('switcher-list').props('data-testid=room-switcher') \
                    .mark('room-switcher') as self.list:
                for summary in summaries:
                    self.items[summary.id] = SwitcherItem(summary, current=summary.id == self.room_id)
        with nav:
            ui.button(icon='menu', on_click=self.drawer.toggle) \
                .props('flat round dense color=white data-testid=room-switcher-button aria-label=Rooms') \
                .mark('room-switcher-button').tooltip('Rooms (Alt+K)')

    def _on_activity(self, activity: RoomActivity) -> None:
        summary, message = activity.summary, activity.message
        if summary.id == self.room_id and message is not None:
            self.client.run_javascript(
                f'window.roomsAttention?.added({json.dumps([message.id, message.created_at, self._mine(message)])})')
        if self.list is not None:
            self._relist(self.list, activity)

    def _relist(self, room_list: ui.element, activity: RoomActivity) -> None:
        summary = activity.summary
        item = self.items.get(summary.id)
        if activity.deleted:
            if item is not None and summary.id != self.room_id:
                room_list.remove(self.items.pop(summary.id).link)
            return
        if item is None:
            if not summary.message_count:
                return
            with room_list:
                item = self.items[summary.id] = SwitcherItem(summary, current=False)
        else:
            item.show(summary)
        # most recently active first
        newer = sum(1 for other in self.items.values() if other is not item and other.rank > item.rank)
        if room_list.default_slot.children.index(item.link) != newer:
            item.link.move(target_index=newer)
        if len(self.items) > MAX_ROOMS:
            oldest = min((i for room_id, i in self.items.items() if room_id != self.room_id), key=lambda i: i.rank)
            del self.items[oldest.room_id]
            room_list.remove(oldest.link)

    def _opening(self, hub: RoomHub) -> dict[str, object]:
        """What attention.js needs to know of this room when the tab opens."""
        recent = hub.messages[-RECENT_MESSAGES:]
        return {'room': self.room_id, 'switcher': self.list is not None,
                'messages': [[m.id, m.created_at, self._mine(m)] for m in recent]}

    def _mine(self, message: Message) -> bool:
        return self.person_id is not None and message.author_id == self.person_id


class SideDrawer(ui.left_drawer):
    """Beside the page on wide screens (>= 1024 px), over it on phones: Quasar's `show-if-above`. The browser tells
    the server when it shows or hides the drawer, so the server need not ask it when the tab connects (as NiceGUI's
    `value=None` does, which fails with an error when the tab is closed at once)."""

    def __init__(self) -> None:
        super().__init__(value=False, bottom_corner=True)
        self._props['show-if-above'] = True

    def _handle_value_change(self, value: Any) -> None:
        super()._handle_value_change(value)
        self._props['show-if-above'] = True


class SwitcherItem:
    """One room in the switcher: a link with its title; `data-at` is when its newest message was written."""

    def __init__(self, summary: RoomSummary, *, current: bool) -> None:
        self.room_id = summary.id
        self.rank = summary.updated_at
        with ui.link(target=f'/room/{summary.id}').classes('switcher-room') \
                .props(f'data-testid=switcher-room data-room-id={summary.id}') \
                .mark('switcher-room') as self.link:
            self.title = ui.label(summary.title).classes('switcher-title')
        if current:
            self.link.props('aria-current=page')
        self.show(summary)

    def show(self, summary: RoomSummary) -> None:
        # the list's order; a room without messages (only ever the tab's own) is the newest of all
        self.rank = summary.updated_at if summary.message_count else math.inf
        at = repr(summary.updated_at)
        if self.link.props.get('data-at') != at:  # every tab hears every room: send only what changed
            self.link.props['data-at'] = at
        if self.title.text != summary.title:
            self.title.set_text(summary.title)


def notify_toggle() -> ui.button:
    """The header button that turns desktop notifications of mentions and replies on or off, for this browser (the
    choice and the permission live in the browser: attention.js handles the click within the click itself, as
    browsers require for asking the permission)."""
    with ui.button().classes('notify-toggle') \
            .props('flat round dense color=white data-testid=notify-toggle aria-pressed=false '
                   'aria-label="Notify me when someone mentions me or replies to me"') \
            .on('click', js_handler='() => window.roomsAttention?.toggleNotifications()') as button:
        ui.icon('notifications_active').classes('notify-on')
        ui.icon('notifications_none').classes('notify-off')
        button.tooltip('Desktop notifications when someone mentions you or replies to you')
    return button
