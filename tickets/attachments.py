"""Files on tickets: checked, typed by their content, stored, thumbnailed.

A file comes from a browser form, the API or a customer's e-mail. Whatever its name says, its
type is what its first bytes say (``filetype``); text that is not a known binary format is
``text/plain``. Only images Pillow can decode get a thumbnail, re-encoded by Pillow: the
thumbnail is the one thing the desk ever shows inline. Everything else, an HTML or SVG file
included, is only downloaded (``tickets.views.attachment``: ``Content-Disposition: attachment``,
``nosniff``, a sandboxing CSP).
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

import filetype
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from config.exceptions import ApplicationError
from tickets.models import Attachment, Ticket, TicketEvent

if TYPE_CHECKING:
    from config.types import Actor

#: Content types shown as a thumbnail (decoded and re-encoded by Pillow first).
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff"})
THUMBNAIL_SIZE = (320, 320)
#: Pictures larger than this many pixels are not decoded for a thumbnail (a decompression bomb).
MAX_THUMBNAIL_SOURCE_PIXELS = 40_000_000


@dataclass
class Upload:
    """A file on its way in: its name as the sender gave it, and its content."""

    name: str
    content: IO[bytes]
    size: int

    @classmethod
    def from_bytes(cls, name: str, data: bytes) -> Upload:
        return cls(name=name, content=io.BytesIO(data), size=len(data))


def clean_name(name: str) -> str:
    """A file name fit to show and to offer for download: no folders, no control characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().strip(".")
    return name[:200] or _("attachment")


def megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def too_large(files: Sequence[Upload]) -> list[str]:
    """Why these files cannot all be kept (empty when they can): each under the per-file limit,
    all together under the per-message limit."""
    reasons = [
        _("%(name)s is %(size)s; a file may be at most %(limit)s.")
        % {"name": clean_name(f.name), "size": megabytes(f.size), "limit": megabytes(settings.ATTACHMENT_MAX_BYTES)}
        for f in files
        if f.size > settings.ATTACHMENT_MAX_BYTES
    ]
    total = sum(f.size for f in files)
    if not reasons and total > settings.ATTACHMENT_MAX_TOTAL_BYTES:
        reasons.append(
            _("The files add up to %(size)s; one message may carry at most %(limit)s.")
            % {"size": megabytes(total), "limit": megabytes(settings.ATTACHMENT_MAX_TOTAL_BYTES)}
        )
    return reasons


def check(files: Sequence[Upload]) -> None:
    """Refuse the whole action (nothing changes) when the files are over the limits."""
    reasons = too_large(files)
    if reasons:
        raise ApplicationError(" ".join(reasons), field="attachments")


def sniff(head: bytes) -> str:
    """The content type the file's first bytes show; ``text/plain`` for readable text (HTML and SVG
    included: they are never rendered), else ``application/octet-stream``."""
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    sample = head[:4096]
    if b"\x00" not in sample:
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError as error:
            if error.start < len(sample) - 4:  # not just a character cut at the sample's end
                return "application/octet-stream"
        return "text/plain"
    return "application/octet-stream"


def _thumbnail(content: IO[bytes]) -> bytes | None:
    """A JPEG or PNG of at most ``THUMBNAIL_SIZE``, or None when Pillow cannot read the picture."""
    try:
        content.seek(0)
        with Image.open(content) as image:
            if image.width * image.height > MAX_THUMBNAIL_SOURCE_PIXELS:
                return None
            image.thumbnail(THUMBNAIL_SIZE)
            keep_alpha = image.mode in ("RGBA", "LA", "P")
            small = image.convert("RGBA" if keep_alpha else "RGB")
            out = io.BytesIO()
            small.save(out, format="PNG" if keep_alpha else "JPEG", quality=85)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def store(*, ticket: Ticket, event: TicketEvent | None, by: Actor, files: Iterable[Upload]) -> list[Attachment]:
    """Save ``files`` on ``ticket`` (and the event they came with). Call ``check`` first."""
    saved = []
    for upload in files:
        upload.content.seek(0)
        content_type = sniff(upload.content.read(8192))
        attachment = Attachment(
            ticket=ticket,
            event=event,
            name=clean_name(upload.name),
            content_type=content_type,
            size=upload.size,
            uploaded_by=by,
        )
        upload.content.seek(0)
        attachment.file.save("file", File(upload.content), save=False)
        if content_type in IMAGE_TYPES:
            thumbnail = _thumbnail(upload.content)
            if thumbnail is not None:
                attachment.thumbnail.save("thumbnail", ContentFile(thumbnail), save=False)
        attachment.save()
        saved.append(attachment)
    return saved


def for_email(attachments: Iterable[Attachment]) -> list[dict[str, str]]:
    """How the outbox finds the files of a reply when it sends it (storage name, name, type)."""
    return [{"path": str(a.file.name), "name": a.name, "content_type": a.content_type} for a in attachments]
