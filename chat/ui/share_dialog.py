"""The room's Share button: its link as others on the network open it (with the token), a QR code and a copy button."""
from __future__ import annotations

import json

from nicegui import ui

from .. import share
from ..config import Settings

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


def share_button(room_id: str, settings: Settings) -> ui.button:
    """The header button; the dialog (and the token in it) is only built when someone asks for it."""
    return ui.button(icon='share', on_click=lambda: open_share_dialog(room_id, settings)) \
        .props('flat round dense color=white data-testid=share aria-label="Share this room"') \
        .mark('share').tooltip('Share this room')


def open_share_dialog(room_id: str, settings: Settings) -> ui.dialog:
    link = share.room_link(settings, room_id)
    with ui.dialog() as dialog, ui.card().classes('items-center gap-3').props('data-testid=share-dialog'):
        ui.label('Share this room').classes('text-lg font-semibold self-start')
        ui.label(_who_can_open(settings)).classes('text-sm text-gray-600 self-start max-w-md')
        ui.image(share.qr_svg_data_uri(link)).classes('w-56 h-56') \
            .props('data-testid=share-qr alt="QR code of the link"')
        with ui.row().classes('w-full items-center no-wrap gap-2'):
            ui.input(value=link).props('readonly outlined dense data-testid=share-link').classes('flex-grow min-w-72') \
                .mark('share-link')
            ui.button('Copy', icon='content_copy', on_click=lambda: _copy(link)) \
                .props('unelevated data-testid=share-copy').mark('share-copy')
        ui.button('Close', on_click=dialog.close).props('flat').classes('self-end')
    dialog.on('hide', dialog.delete)  # rebuilt on every open: nothing of it stays in the page
    dialog.open()
    return dialog


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
        where += ' The link carries the access token: it opens every room here, so give it only to people you trust.'
    return where
