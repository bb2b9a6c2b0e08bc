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


# --- what each channel accepts from an agent -------------------------------------------------------
# (content type -> (provider's media type, byte limit)); a type missing from a channel's map is refused
# before anything is sent. WhatsApp Cloud API: images JPEG/PNG up to 5 MB, documents up to 100 MB (GIF
# and WebP are not images there). Messenger Send API: attachments up to 25 MB; "file" carries any type.
# E-mail: MIME attachments, 25 MB per message (what common mail servers accept).
MB = 1024 * 1024
CHANNEL_FILE_RULES = {
    "whatsapp": {"image/jpeg": ("image", 5 * MB), "image/png": ("image", 5 * MB),
                 "application/pdf": ("document", 100 * MB)},
    "messenger": {"image/jpeg": ("image", 25 * MB), "image/png": ("image", 25 * MB), "image/gif": ("image", 25 * MB),
                  "image/webp": ("file", 25 * MB), "application/pdf": ("file", 25 * MB)},
    "email": {t: ("file", 25 * MB) for t in ("image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf")},
    "webchat": {t: ("file", 0) for t in ("image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf")},
    "api": {t: ("file", 0) for t in ("image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf")},
}
EMAIL_TOTAL_MAX_BYTES = 25 * MB


def channel_file_kind(channel_kind: str, content_type: str) -> str:
    """The provider's media type for a checked file on that channel ("image", "document", "file")."""
    return CHANNEL_FILE_RULES[channel_kind][content_type][0]


def attachment_channel_check(channel_kind: str, files: list[CheckedFile]) -> None:
    """Whether the channel can carry these files to the customer; InvalidInput with the reason if not."""
    from django.template.defaultfilters import filesizeformat

    rules = CHANNEL_FILE_RULES.get(channel_kind)
    if rules is None:
        raise InvalidInput(_("Files cannot be sent to the customer on this channel (Instagram accepts files only "
                             "from a public address); add it as a private note instead."))
    for f in files:
        rule = rules.get(f.content_type)
        if rule is None:
            if channel_kind == "whatsapp" and f.content_type.startswith("image/"):
                raise InvalidInput(_("WhatsApp accepts images as JPEG or PNG only; %(name)s is not one.")
                                   % {"name": f.name})
            raise InvalidInput(_("This channel does not accept files like %(name)s.") % {"name": f.name})
        limit = rule[1]
        if limit and len(f.data) > limit:
            raise InvalidInput(_("%(name)s is larger than this channel accepts (%(max)s).")
                               % {"name": f.name, "max": filesizeformat(limit)})
    if channel_kind == "email" and sum(len(f.data) for f in files) > EMAIL_TOTAL_MAX_BYTES:
        raise InvalidInput(_("Together the files are larger than an e-mail can carry (%(max)s).")
                           % {"max": filesizeformat(EMAIL_TOTAL_MAX_BYTES)})


def attachment_read(attachment: Attachment) -> CheckedFile:
    """A stored file back as bytes (for sending it to the customer on a provider channel)."""
    path = attachment_path(attachment)
    if path is None:
        raise FileNotFoundError(f"attachment {attachment.pk} is missing on disk")
    ext = Path(attachment.path).suffix.lstrip(".")
    return CheckedFile(name=attachment.name, data=path.read_bytes(), content_type=attachment.content_type, extension=ext)
