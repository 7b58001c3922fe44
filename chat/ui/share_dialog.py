"""The room's Share button: its link as others on the network open it (with the token), a QR code and a copy button."""
from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nicegui import ui

from .. import share
from ..config import Settings
from ..links import RoomLinks
from .theme import dialog_card

COPY_JS = '''
(async (text) => {
  try { await navigator.clipboard.writeText(text); return true; } catch (e) {}
  // plain http on a LAN address is not a secure context: no Clipboard API there, so copy through a selection
  const box = document.querySelector('[data-testid=share-dialog]') || document.body;
  const area = document.createElement('textarea');
  area.value = text; area.setAttribute('readonly', ''); area.style.position = 'fixed'; area.style.opacity = '0';
  box.appendChild(area); area.select();
  let copied = false;
  try { copied = document.execCommand('copy'); } catch (e) {}
  area.remove();
  return copied;
})'''


@dataclass(slots=True, frozen=True)
class Sharing:
    """What one tab may do about a room's links."""

    room_id: str
    settings: Settings
    links: RoomLinks
    owner: bool
    """The tab came in with the owner's token (or no token is needed): it sees the owner link and may renew."""
    renew: Callable[[], Awaitable[None]]
    """Makes a new room link; the old one stops working at once, in open tabs too."""

    @property
    def can_renew(self) -> bool:
        return self.owner and self.settings.token_required

    def room_link(self) -> str:
        return share.room_link(self.settings, self.room_id, self.links)


def share_button(sharing: Sharing) -> ui.button:
    """The header button; the dialog (and the keys in it) is only built when someone asks for it."""
    return ui.button(icon='share', on_click=lambda: open_share_dialog(sharing)) \
        .props('flat round dense color=white data-testid=share aria-label="Share this room"') \
        .mark('share').tooltip('Share this room')


def open_share_dialog(sharing: Sharing) -> ui.dialog:
    settings = sharing.settings
    with dialog_card('Share this room') as (dialog, card):
        card.classes('items-center gap-3 w-full max-w-xl').props('data-testid=share-dialog')
        ui.label(_who_can_open(settings)).classes('text-sm text-gray-600 self-start')
        qr = ui.image(share.qr_svg_data_uri(sharing.room_link())).classes('w-56 h-56') \
            .props('data-testid=share-qr alt="QR code of the room link"')
        link = _link_row(sharing.room_link(), 'share-link', 'share-copy', 'Room link')

        async def renew() -> None:
            await sharing.renew()
            link.value = sharing.room_link()
            qr.set_source(share.qr_svg_data_uri(sharing.room_link()))
            ui.notify('New link made: the old one no longer opens this room', type='positive')
        if sharing.can_renew:
            with ui.row().classes('w-full items-center no-wrap gap-2'):
                ui.label('Gave the link to the wrong person? A new link shuts out everyone who came in with the old '
                         'one.').classes('text-sm text-gray-600')
                ui.button('New link', icon='autorenew', on_click=renew) \
                    .props('outline no-caps no-wrap data-testid=share-renew').style('flex-shrink: 0') \
                    .mark('share-renew')
        if sharing.owner and settings.token_required:
            ui.separator()
            ui.label('Your owner link opens every room and the room list: keep it to yourself.') \
                .classes('text-sm text-gray-600 self-start')
            _link_row(share.owner_link(settings), 'share-owner-link', 'share-owner-copy', 'Owner link')
        ui.button('Close', on_click=dialog.close).props('flat').classes('self-end')
    dialog.on('hide', dialog.delete)  # rebuilt on every open: nothing of it stays in the page
    dialog.open()
    return dialog


def _link_row(url: str, test_id: str, copy_id: str, label: str) -> ui.input:
    with ui.row().classes('w-full items-center no-wrap gap-2'):
        field = ui.input(label, value=url).props(f'readonly outlined dense data-testid={test_id}') \
            .classes('flex-grow min-w-0').mark(test_id)
        ui.button('Copy', icon='content_copy', on_click=lambda: _copy(field.value)) \
            .props(f'unelevated data-testid={copy_id}').mark(copy_id)
    return field


async def _copy(link: str) -> None:
    copied = await ui.run_javascript(f'{COPY_JS}({json.dumps(link)})')
    if copied:
        ui.notify('Link copied', type='positive')
    else:
        ui.notify('Could not copy: select the link and copy it by hand', type='warning')


def _who_can_open(settings: Settings) -> str:
    if share.lan_host(settings) is None:
        where = ('Rooms listens only on this machine now: start it with --share to let others on your network in. '
                 'Until then this link works on this computer only.')
    else:
        where = 'Anyone on your network who opens this link (or scans the code) joins the room.'
    if settings.token_required:
        where += (' The link opens this room only: not the room list, not other rooms. Whoever has it can read and '
                  'write here.')
    return where
