"""Files on messages: check (type by content, not by name; size), store outside the web root, thumbnail.

Every channel (widget upload, provider media download, e-mail, an agent's file) ends here, so
the limits are the same everywhere. The type is decided from the bytes' signature: a file named
``bill.pdf`` that is really HTML is refused, and an "image" Pillow cannot decode is refused too.
Serving goes through a view that calls the visibility module (``apps.conversations.access``).
"""
from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

from apps.core.errors import InvalidInput

from .models import Attachment, Message

# Signatures of the accepted types; the extension we store is ours, never the uploader's.
SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
    (b"%PDF-", "application/pdf", "pdf"),
)
THUMB_SIZE = (320, 320)
MAX_FILES = 5


@dataclass(frozen=True)
class CheckedFile:
    name: str
    data: bytes
    content_type: str
    extension: str


def _sniff(data: bytes) -> tuple[str, str] | None:
    for magic, content_type, ext in SIGNATURES:
        if data.startswith(magic):
            return content_type, ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def attachment_check(*, name: str, data: bytes) -> CheckedFile:
    """Validate one file; raises InvalidInput with a message a person understands."""
    if not data:
        raise InvalidInput(_("The file %(name)s is empty.") % {"name": name})
    if len(data) > settings.ATTACHMENT_MAX_BYTES:
        from django.template.defaultfilters import filesizeformat

        raise InvalidInput(_("The file %(name)s is larger than %(max)s.")
                           % {"name": name, "max": filesizeformat(settings.ATTACHMENT_MAX_BYTES)})
    sniffed = _sniff(data)
    if sniffed is None:
        raise InvalidInput(_("Only images (JPEG, PNG, GIF, WebP) and PDF files can be attached; %(name)s is not one.")
                           % {"name": name})
    content_type, ext = sniffed
    if content_type.startswith("image/"):
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as img:
                img.verify()
        except Exception:  # Pillow raises many types for a broken file
            raise InvalidInput(_("The image %(name)s could not be read.") % {"name": name}) from None
    clean = get_valid_filename(Path(name or "file").name)[:200] or f"file.{ext}"
    return CheckedFile(name=clean, data=data, content_type=content_type, extension=ext)


def _root() -> Path:
    return Path(settings.ATTACHMENTS_ROOT)


def _thumbnail(data: bytes) -> bytes | None:
    from PIL import Image, ImageOps

    try:
        with Image.open(io.BytesIO(data)) as img:
            img = ImageOps.exif_transpose(img)
            img.thumbnail(THUMB_SIZE)
            if img.mode not in ("RGB", "L"):
                img = img.convert("RGB")
            out = io.BytesIO()
            img.save(out, "JPEG", quality=80)
            return out.getvalue()
    except Exception:  # a thumbnail is a convenience: the original is still served
        return None


def attachment_store(*, message: Message, file: CheckedFile) -> Attachment:
    """Write the bytes (and an image's thumbnail) and the row. Call inside the message's transaction:
    if anything fails the message is rolled back with it (a file is never half there)."""
    folder = timezone.now().strftime("%Y/%m")
    stem = uuid.uuid4().hex
    rel = f"{folder}/{stem}.{file.extension}"
    target = _root() / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(file.data)
    thumb_rel = ""
    if file.content_type.startswith("image/"):
        thumb = _thumbnail(file.data)
        if thumb:
            thumb_rel = f"{folder}/{stem}.thumb.jpg"
            (_root() / thumb_rel).write_bytes(thumb)
    return Attachment.objects.create(
        message=message, conversation_id=message.conversation_id, name=file.name, content_type=file.content_type,
        size=len(file.data), path=rel, thumbnail_path=thumb_rel, sha256=hashlib.sha256(file.data).hexdigest())


def attachment_path(attachment: Attachment, *, thumbnail: bool = False) -> Path | None:
    """The file on disk, or None (a thumbnail that was never made). Never outside the root."""
    rel = attachment.thumbnail_path if thumbnail else attachment.path
    if not rel:
        return None
    root = _root().resolve()
    path = (root / rel).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def attachment_body(files: list[CheckedFile]) -> str:
    """The text of a message that carries only files (what lists, previews and e-mails show)."""
    return "📎 " + ", ".join(f.name for f in files)
