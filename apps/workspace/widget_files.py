"""Files in the customer's web chat: a photo or a PDF uploaded from the widget, and the links the
widget shows for files in the conversation (the customer's own and those an agent sent).

Uploads are plain HTTP (multipart) authenticated by the visitor token the widget got in its hello
(no cookies, so no CSRF); links are signed per visitor and expire, so a file is reachable only by
the customer of that conversation or by staff through the visibility check.
"""
from __future__ import annotations

from django.core import signing
from django.db import transaction
from django.urls import reverse

from apps.conversations import attachments, services
from apps.conversations.models import Attachment, Contact, Message

from . import widget

LINK_SALT = "asiste.widget.attachment"
LINK_MAX_AGE = 24 * 3600


def widget_upload(*, visitor: widget.Visitor, channel, client_id: str, uploads: list) -> Message:
    """Store the customer's files as one message (idempotent on ``client_id``, like a text)."""
    if len(uploads) > attachments.MAX_FILES:
        from django.utils.translation import gettext as _

        from apps.core.errors import InvalidInput

        raise InvalidInput(_("At most %(n)d files per message.") % {"n": attachments.MAX_FILES})
    files = [attachments.attachment_check(name=f.name, data=f.read()) for f in uploads]
    visitor = widget.visitor_contact_ensure(visitor)
    contact = Contact.objects.get(pk=visitor.contact_id)
    with transaction.atomic():  # the message and its files together, or nothing
        msg, created = services.message_receive(
            channel=channel, contact=contact, body=attachments.attachment_body(files),
            external_id=f"widget:{visitor.visitor_id}:{client_id}", language=visitor.language,
            meta={"attachments_only": True})
        if created:
            for f in files:
                attachments.attachment_store(message=msg, file=f)
    return msg


def token_valid(channel, token: str) -> bool:
    """The token a hello gave this channel's visitor (an upload never starts a new visitor)."""
    try:
        data = signing.loads(token or "", salt=widget.TOKEN_SALT, max_age=widget.TOKEN_MAX_AGE)
    except signing.BadSignature:
        return False
    return isinstance(data, dict) and data.get("ch") == channel.pk and isinstance(data.get("v"), str)


def link_for(attachment: Attachment, contact_id: int) -> str:
    token = signing.dumps({"a": attachment.pk, "c": contact_id}, salt=LINK_SALT, compress=True)
    return reverse("workspace-widget-attachment", args=[token])


def attachment_from_link(token: str) -> Attachment | None:
    """The attachment a signed link names, if the link is fresh and the file is the customer's to see."""
    try:
        data = signing.loads(token, salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    return (Attachment.objects.filter(pk=data.get("a"), message__is_internal=False,
                                      conversation__contact_id=data.get("c")).first())


def attachments_for_sync(messages: list[Message], contact_id: int) -> dict[int, list[dict]]:
    rows: dict[int, list[dict]] = {}
    for a in Attachment.objects.filter(message_id__in=[m.pk for m in messages], message__is_internal=False):
        rows.setdefault(a.message_id, []).append({"name": a.name, "type": a.content_type, "size": a.size,
                                                  "url": link_for(a, contact_id)})
    return rows
