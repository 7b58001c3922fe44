"""Files in the room page: the composer's attach picker (button, file input, paste and drop, a chip per pending file)
and the attachments shown in a message (a thumbnail per image, a chip per other file)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nicegui import ui
from nicegui.events import GenericEventArguments

from ..files import API_EDGE, LIMITS_TEXT, MAX_FILE_BYTES
from ..models import ERROR_CHARS, MAX_ATTACHMENTS, Attachment, clean_name, clean_text, describe_size, file_url
from ..records import attachment_from_record
from .theme import STATIC_URL

TYPE_LABELS = {'image/png': 'PNG', 'image/jpeg': 'JPEG', 'image/gif': 'GIF', 'image/webp': 'WebP',
               'application/pdf': 'PDF', 'text/plain': 'Text', 'text/markdown': 'Markdown', 'text/csv': 'CSV',
               'application/json': 'JSON'}
TYPE_ICONS = {'application/pdf': 'picture_as_pdf', 'text/csv': 'table_chart', 'application/json': 'data_object'}
LIMITS_HINT = (f'Images and PDFs up to {MAX_FILE_BYTES // (1024 * 1024)} MB (a larger image is scaled down first), '
               f'text files up to 512 KB, {MAX_ATTACHMENTS} files per message')


def show_attachments(attachments: Sequence[Attachment]) -> None:
    """A message's files: each image a thumbnail that opens the full-size file in a new tab, each other file a chip
    with its name, type and size that opens (PDF) or downloads (text) it."""
    with ui.element('div').classes('msg-attachments'):
        for attachment in sorted(attachments, key=lambda a: not a.is_image):  # the pictures first, then the files
            if attachment.is_image:
                _thumbnail(attachment)
            else:
                _chip(attachment)


def _thumbnail(attachment: Attachment) -> None:
    label = f'{attachment.name} ({TYPE_LABELS[attachment.media_type]}, {describe_size(attachment.size)})'
    with ui.element('a').classes('att-thumb') as link:
        image = ui.element('img')
    link.props.update({'href': attachment.url, 'target': '_blank', 'rel': 'noopener', 'title': label,
                       'data-testid': 'attachment', 'data-media-type': attachment.media_type})
    image.props.update({'src': f'{attachment.url}?preview=1', 'alt': attachment.name, 'loading': 'lazy'})


def _chip(attachment: Attachment) -> None:
    pdf = attachment.media_type == 'application/pdf'
    with ui.element('a').classes('att-chip') as link:
        ui.icon(TYPE_ICONS.get(attachment.media_type, 'description')).classes('att-icon')
        ui.label(attachment.name).classes('att-name')
        ui.label(f'{TYPE_LABELS[attachment.media_type]} · {describe_size(attachment.size)}').classes('att-meta')
    # a PDF opens in a tab (served inline); a text file is served as a download, under its own name
    link.props.update({'href': attachment.url, 'title': f'{"Open" if pdf else "Download"} {attachment.name}',
                       'data-testid': 'attachment', 'data-media-type': attachment.media_type,
                       **({'target': '_blank', 'rel': 'noopener'} if pdf else {'download': attachment.name})})


@dataclass(slots=True)
class _Pending:
    name: str
    size: int
    attachment: Attachment | None = None
    """Set once the upload is done."""


class AttachmentPicker:
    """The composer's attach button and everything behind it: a hidden `<input type=file multiple>`, files pasted into
    or dropped on the composer (attachments.js uploads them to POST /api/rooms/{id}/files), and a chip per pending file
    with its remove button, in a tray placed just above the row the picker is mounted in. The limits are stated in the
    tray's hint and the button's tooltip; the server enforces them and says why a file was refused.

    Mount it where the button goes, e.g. first in the composer's input row; send `.pending` with the message
    (hub.post(..., attachments=picker.pending)) and call `.clear()` once it is sent.
    """

    def __init__(self, room_id: str, *, on_change: Callable[[], None] | None = None) -> None:
        """:param on_change: called whenever a file is added, finishes uploading, fails or is removed"""
        self.room_id = room_id
        self._on_change = on_change
        self._files: dict[str, _Pending] = {}
        """Per upload key (made by attachments.js), in the order they were attached."""
        self._refused: set[str] = set()
        ui.add_head_html(f'<script src="{STATIC_URL}/attachments.js" defer></script>')
        self.button = ui.button(icon='attach_file') \
            .props('flat round dense data-testid=attach aria-label="Attach files"').mark('attach')
        self.button.tooltip(f'Attach files (or paste or drop them on the message box). {LIMITS_TEXT}')
        self.input = ui.element('input').style('display: none').mark('attach-input')
        self.input.props.update({'type': 'file', 'multiple': True, 'data-testid': 'attach-input',
                                 'aria-label': 'Files to attach'})
        self.button.on('click', js_handler=f'() => document.getElementById("{self.input.html_id}").click()')
        self.tray = self._tray()
        self.tray.on('attach-start', self._started, args=['detail'])
        self.tray.on('attach-done', self._done, args=['detail'])
        self.tray.on('attach-failed', self._failed, args=['detail'])
        self._show()

    @property
    def pending(self) -> list[str]:
        """Ids of the files uploaded for the next message, in the order they were attached."""
        return [entry.attachment.id for entry in self._files.values() if entry.attachment is not None]

    @property
    def uploading(self) -> bool:
        """True while a file is still on its way to the server (it is not in `pending` yet)."""
        return any(entry.attachment is None for entry in self._files.values())

    def clear(self) -> None:
        """Forget the pending files (the message carrying them was sent); their chips go."""
        self._files.clear()
        self.error.set_text('')
        self._show()

    def remove(self, key: str) -> None:
        self._files.pop(key, None)
        self._show()

    def _tray(self) -> ui.element:
        """The tray of chips, hint and errors, just above the row the button is in."""
        assert self.button.parent_slot is not None
        row = self.button.parent_slot.parent
        above = row.parent_slot  # the slot holding that row: the tray goes in it, right before the row
        with above.parent if above is not None else row:
            with ui.element('div').classes('attach-tray') as tray:
                self.chips = ui.element('div').classes('attach-chips')
                self.error = ui.label().classes('attach-error').props('data-testid=attachment-error role=alert')
                self.hint = ui.label(LIMITS_HINT).classes('attach-hint').props('data-testid=attach-hint')
        if above is not None:
            tray.move(above.parent, target_index=above.children.index(row), target_slot=above.name)
        tray.props.update({'data-attach-tray': '', 'data-room': self.room_id, 'data-max-file': str(MAX_FILE_BYTES),
                           'data-max-count': str(MAX_ATTACHMENTS), 'data-limits': LIMITS_TEXT,
                           'data-scale-edge': str(API_EDGE)})  # attachments.js scales an image too large to upload
        return tray

    def _started(self, event: GenericEventArguments) -> None:
        detail = _detail(event)
        key = str(detail.get('key', ''))[:64]
        if not key:
            return
        if len(self._files) >= MAX_ATTACHMENTS:
            self._refused.add(key)
            self.error.set_text(f'A message can carry {MAX_ATTACHMENTS} files; send these, then attach more.')
        else:
            size = detail.get('size')
            self._files[key] = _Pending(clean_name(detail.get('name'), 120) or 'file',
                                        size if isinstance(size, int) and size >= 0 else 0)
            self.error.set_text('')
        self._show()

    def _done(self, event: GenericEventArguments) -> None:
        detail = _detail(event)
        key = str(detail.get('key', ''))
        attachment = attachment_from_record(detail.get('attachment'))
        entry = self._files.get(key)
        if key in self._refused or entry is None:
            self._refused.discard(key)
            return  # removed while it uploaded, or one too many
        if attachment is None or attachment.url != file_url(self.room_id, attachment.id):
            self._files.pop(key)
            self.error.set_text(f'{entry.name} could not be attached (the server answered oddly). Try again.')
        else:
            entry.attachment = attachment
        self._show()

    def _failed(self, event: GenericEventArguments) -> None:
        detail = _detail(event)
        key = str(detail.get('key', ''))
        self._files.pop(key, None)
        self._refused.discard(key)
        self.error.set_text(clean_text(str(detail.get('error') or 'The upload failed.'), ERROR_CHARS))
        self._show()

    def _show(self) -> None:
        self.chips.clear()
        with self.chips:
            for key, entry in self._files.items():
                self._pending_chip(key, entry)
        # a class, not set_visibility: NiceGUI drops the events of a hidden element, and the tray hears the uploads
        if self._files or self.error.text:
            self.tray.classes(add='attach-shown')
        else:
            self.tray.classes(remove='attach-shown')
        self.error.set_visibility(bool(self.error.text))
        if self._on_change is not None:
            self._on_change()

    def _pending_chip(self, key: str, entry: _Pending) -> None:
        attachment = entry.attachment
        state = 'ready' if attachment is not None else 'uploading'
        with ui.element('div').classes('pending-chip').props(f'data-testid=pending-attachment data-state={state}'):
            if attachment is not None and attachment.is_image:
                preview = ui.element('img').classes('pending-thumb')
                preview.props.update({'src': f'{attachment.url}?preview=1', 'alt': ''})
            elif attachment is not None:
                ui.icon(TYPE_ICONS.get(attachment.media_type, 'description')).classes('att-icon')
            else:
                ui.spinner(size='18px').classes('att-icon')
            with ui.element('div').classes('pending-text'):
                ui.label(attachment.name if attachment else entry.name).classes('att-name')
                ui.label(f'{TYPE_LABELS[attachment.media_type]} · {describe_size(attachment.size)}' if attachment
                         else f'uploading… {describe_size(entry.size)}').classes('att-meta')
            remove = ui.button(icon='close', on_click=lambda key=key: self.remove(key)) \
                .props('flat round dense size=sm data-testid=remove-attachment').mark('remove-attachment')
            remove.props['aria-label'] = f'Remove {entry.name}'


def _detail(event: GenericEventArguments) -> dict[str, Any]:
    args = event.args
    detail = args.get('detail') if isinstance(args, dict) else None
    return detail if isinstance(detail, dict) else {}
