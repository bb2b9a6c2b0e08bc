"""WhatsApp Cloud API: webhook parsing, inbound processing, outbound sends (Graph API shape)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations import services
from apps.conversations.models import Channel, Message
from apps.core.errors import WindowClosed  # noqa: F401  (raised by send; callers catch it from here too)

from .common import (ProviderError, channel_secret, contact_for_identities, files_only, graph_base_url, message_files,
                     outbound_text, part_cached, send_parts, signal_message_changed)

log = logging.getLogger(__name__)

MEDIA_TYPES = ("image", "video", "document", "audio", "sticker")
STATUS_RANK = {"": 0, "accepted": 0, "sent": 1, "delivered": 2, "read": 3, "played": 3}
SERVICE_WINDOW = timedelta(hours=24)


@dataclass
class Item:
    kind: str  # "message" | "status" | "identity" | "ignored"
    phone_number_id: str = ""
    external_id: str = ""
    wa_id: str = ""
    user_id: str = ""
    name: str = ""
    body: str = ""
    meta: dict = field(default_factory=dict)
    status: str = ""


def _media_body(mtype: str, media: dict) -> str:
    caption = (media.get("caption") or "").strip()
    label = media.get("filename") or {"image": _("Image"), "video": _("Video"), "document": _("Document"),
                                       "audio": _("Audio"), "sticker": _("Sticker")}[mtype]
    return f"[{label}] {caption}".strip()


def _message_text(msg: dict) -> tuple[str, dict] | None:
    """Body text and meta for one inbound message; None for messages that are not conversation turns."""
    mtype = msg.get("type") or ""
    meta: dict = {"wa_type": mtype}
    if msg.get("context"):
        meta["context"] = msg["context"]
    if mtype == "text":
        return (msg.get("text") or {}).get("body") or "", meta
    if mtype in MEDIA_TYPES:
        media = msg.get(mtype) or {}
        meta["media"] = {k: media[k] for k in ("id", "mime_type", "sha256", "filename", "caption", "url",
                                               "voice", "animated") if k in media}
        return _media_body(mtype, media), meta
    if mtype == "location":
        loc = msg.get("location") or {}
        meta["location"] = loc
        label = " ".join(str(loc.get(k, "")) for k in ("name", "address") if loc.get(k))
        return f"📍 {label} ({loc.get('latitude')}, {loc.get('longitude')})".replace("📍  ", "📍 "), meta
    if mtype == "interactive":
        inter = msg.get("interactive") or {}
        reply = inter.get(inter.get("type") or "", {}) if isinstance(inter, dict) else {}
        if not reply:
            meta["errors"] = msg.get("errors", [])
            return _("[Unsupported interactive message]"), meta
        meta["interactive"] = {"type": inter.get("type"), **reply}
        return reply.get("title") or reply.get("id") or "", meta
    if mtype == "button":
        button = msg.get("button") or {}
        meta["button"] = button
        return button.get("text") or button.get("payload") or "", meta
    if mtype == "contacts":
        names = [c.get("name", {}).get("formatted_name", "") for c in msg.get("contacts", [])]
        meta["contacts"] = msg.get("contacts", [])
        return _("[Shared contact] %(names)s") % {"names": ", ".join(n for n in names if n)}, meta
    if mtype == "order":
        order = msg.get("order") or {}
        meta["order"] = order
        return _("[Order] %(n)d items") % {"n": len(order.get("product_items", []))}, meta
    if mtype in ("unsupported", "unknown") or msg.get("errors"):
        meta["errors"] = msg.get("errors", [])
        return _("[Unsupported message]"), meta
    if "text" in msg:  # e.g. referral messages carry text
        meta["referral"] = msg.get("referral")
        return (msg.get("text") or {}).get("body") or "", meta
    return None


def parse(payload: dict) -> list[Item]:
    """Flatten one webhook body into items. Raises ValueError on a body that is not a WhatsApp update."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account" \
            or not isinstance(payload.get("entry"), list):
        raise ValueError("not a whatsapp_business_account update")
    items: list[Item] = []
    for entry in payload["entry"]:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value") or {}
            if not isinstance(value, dict):
                raise ValueError("change.value must be an object")
            pid = str((value.get("metadata") or {}).get("phone_number_id") or "")
            if change.get("field") != "messages":  # echoes of the business app, account updates...
                items.append(Item("ignored", pid, meta={"field": change.get("field")}))
                continue
            profiles = {c.get("wa_id") or c.get("user_id"): c for c in value.get("contacts") or []}
            for msg in value.get("messages") or []:
                wa_id = msg.get("from") or ""
                user_id = msg.get("from_user_id") or ""
                profile = profiles.get(wa_id) or profiles.get(user_id) or {}
                user_id = user_id or profile.get("user_id", "")
                name = (profile.get("profile") or {}).get("name", "")
                if msg.get("type") == "system":
                    system = msg.get("system") or {}
                    items.append(Item("identity", pid, msg.get("id", ""), wa_id, user_id, name,
                                      meta={"system": system, "new_wa_id": system.get("wa_id", "")}))
                    continue
                if msg.get("type") in ("reaction", "revoke", "edit"):
                    items.append(Item("ignored", pid, msg.get("id", ""), wa_id, user_id, name,
                                      meta={"wa_type": msg.get("type"), msg.get("type"): msg.get(msg.get("type"))}))
                    continue
                parsed = _message_text(msg)
                if parsed is None or not parsed[0].strip():
                    items.append(Item("ignored", pid, msg.get("id", ""), wa_id, meta={"wa_type": msg.get("type")}))
                    continue
                body, meta = parsed
                meta.update({"from": wa_id, "user_id": user_id, "timestamp": msg.get("timestamp")})
                items.append(Item("message", pid, msg.get("id", ""), wa_id, user_id, name, body, meta))
            for st in value.get("statuses") or []:
                items.append(Item("status", pid, st.get("id", ""), st.get("recipient_id", ""), status=st.get("status", ""),
                                  meta={"errors": st.get("errors", []), "timestamp": st.get("timestamp"),
                                        "key": st.get("biz_opaque_callback_data") or ""}))
    return items


def phone_number_ids(payload: dict) -> set[str]:
    return {i.phone_number_id for i in parse(payload) if i.phone_number_id}


def _match_key(*, channel: Channel, external_id: str, key: str) -> Message | None:
    """A status for a provider id we never saved, carrying our idempotency key: either the send
    whose answer a crash lost (adopt the id: the sweep then has nothing to re-send), or a second
    send of the same message after such a crash (a duplicate: logged and marked, never applied)."""
    from ..models import OutboundClaim

    claim = OutboundClaim.objects.select_related("message").filter(idempotency_key=key).first()
    if claim is None or claim.message.channel_id != channel.pk:
        return None
    msg = claim.message
    if Message.objects.filter(pk=msg.pk, external_id__isnull=True).update(external_id=external_id,
                                                                          delivery_status="sent"):
        OutboundClaim.objects.filter(pk=claim.pk, finished_at__isnull=True).update(finished_at=timezone.now())
        log.info("whatsapp: message %s adopted provider id %s from a status webhook", msg.pk, external_id)
        msg.refresh_from_db()
        return msg
    msg.refresh_from_db()
    if msg.external_id != external_id:
        duplicates = sorted({*msg.meta.get("duplicate_sends", []), external_id})
        if duplicates != msg.meta.get("duplicate_sends"):
            log.error("whatsapp: message %s was delivered twice (provider ids %s and %s, key %s)",
                      msg.pk, msg.external_id, external_id, key)
            msg.meta = {**msg.meta, "duplicate_sends": duplicates}
            msg.save(update_fields=["meta"])
        return None
    return msg


def apply_status(*, channel: Channel, external_id: str, status: str, errors: list | None = None,
                 key: str = "") -> bool:
    """sent/delivered/read/failed onto our outgoing message; never downgrade (webhooks arrive out of order)."""
    msg = Message.objects.filter(channel=channel, external_id=external_id).first()
    if msg is None and key:
        msg = _match_key(channel=channel, external_id=external_id, key=key)
    if msg is None or not status:
        return False
    if status != "failed" and STATUS_RANK.get(status, 0) <= STATUS_RANK.get(msg.delivery_status, 0):
        return False
    if status == "failed":
        msg.meta = {**msg.meta, "delivery_errors": errors or []}
    msg.delivery_status = status
    msg.save(update_fields=["delivery_status", "meta"])
    signal_message_changed(msg)
    return True


def process(*, channel: Channel, payload: dict) -> dict:
    """Feed one verified webhook body into the conversation service (idempotent per message id)."""
    pid = str(channel.config.get("phone_number_id", ""))
    counts = {"created": 0, "duplicate": 0, "status": 0, "ignored": 0}
    for item in parse(payload):
        if item.phone_number_id and item.phone_number_id != pid:
            continue
        if item.kind == "message":
            contact = contact_for_identities(kind=Channel.Kind.WHATSAPP, values=[item.wa_id, item.user_id],
                                             name=item.name, phone=item.wa_id)
            msg, created = services.message_receive(channel=channel, contact=contact, body=item.body,
                                                    external_id=item.external_id or None, meta=item.meta)
            counts["created" if created else "duplicate"] += 1
            if created:
                from ..media import media_mark_pending

                media_mark_pending(msg)  # the photo or PDF itself, downloaded after the commit
        elif item.kind == "status":
            counts["status"] += apply_status(channel=channel, external_id=item.external_id, status=item.status,
                                             errors=item.meta.get("errors"), key=item.meta.get("key", ""))
        elif item.kind == "identity" and item.meta.get("new_wa_id"):
            contact_for_identities(kind=Channel.Kind.WHATSAPP, values=[item.wa_id, item.meta["new_wa_id"], item.user_id])
        else:
            counts["ignored"] += 1
    return counts


def window_open(conversation, now=None) -> bool:
    last = conversation.last_customer_message_at
    return bool(last) and (now or timezone.now()) - last < SERVICE_WINDOW


def _recipient(message: Message) -> str:
    last = (Message.objects.filter(conversation_id=message.conversation_id, author_kind="customer")
            .exclude(meta__from="").order_by("-created_at", "-id").first())
    if last and last.meta.get("from"):
        return str(last.meta["from"])
    ident = message.conversation.contact.identities.filter(kind=Channel.Kind.WHATSAPP).order_by("pk").first()
    return ident.value if ident else message.conversation.contact.phone


CAPTION_MAX = 1024


def _graph_error(resp, data: dict, api: str = "Graph API") -> ProviderError:
    err = data.get("error") or {}
    return ProviderError(f"{api} {resp.status_code}: {err.get('code', '')} {err.get('message', resp.text[:200])}",
                         status_code=resp.status_code, code=err.get("code"))


def _json(resp) -> dict:
    return resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}


def upload_media(channel: Channel, file, token: str) -> str:
    """POST {base}/{phone_number_id}/media as multipart (messaging_product, type, file): the media id."""
    import httpx

    url = f"{graph_base_url(channel)}/{channel.config.get('phone_number_id')}/media"
    resp = httpx.post(url, data={"messaging_product": "whatsapp", "type": file.content_type},
                      files={"file": (file.name, file.data, file.content_type)},
                      headers={"Authorization": f"Bearer {token}"}, timeout=60.0)
    data = _json(resp)
    if resp.status_code >= 400 or not data.get("id"):
        raise _graph_error(resp, data)
    return str(data["id"])


def send(message: Message, idempotency_key: str = "") -> tuple[str, dict]:
    """POST {base}/{phone_number_id}/messages. Returns (provider message id, response).

    The idempotency key travels as ``biz_opaque_callback_data`` (the Cloud API echoes it in the
    status webhooks of that message, which is how a send that a crash left unsaved is recognised)
    and as an ``Idempotency-Key`` header for gateways that de-duplicate on it.

    A message with files: each file is uploaded to ``/{phone_number_id}/media`` (its id kept on the
    message, so a retry does not upload it again) and sent as an ``image`` or ``document`` message
    with that id; the text is the first file's caption (a separate text message when longer than
    WhatsApp's caption limit)."""
    import httpx

    conv = message.conversation
    channel = conv.channel
    if not window_open(conv):
        raise WindowClosed(_("WhatsApp does not deliver free-form messages more than 24 hours after the "
                             "customer's last message. Ask the customer to write again, or use an approved template."))
    token = channel_secret(channel, "access_token") or ""
    to = _recipient(message)
    url = f"{graph_base_url(channel)}/{channel.config.get('phone_number_id')}/messages"

    def post(payload: dict, key: str) -> tuple[str, dict]:
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **payload}
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            body["biz_opaque_callback_data"] = key
            headers["Idempotency-Key"] = key
        resp = httpx.post(url, json=body, headers=headers, timeout=15.0)
        data = _json(resp)
        if resp.status_code >= 400 or not data.get("messages"):
            raise _graph_error(resp, data)
        return data["messages"][0]["id"], data

    text = outbound_text(message)
    files = message_files(message)
    if not files:
        return post({"type": "text", "text": {"preview_url": False, "body": text}}, idempotency_key)
    from apps.conversations.attachments import channel_file_kind

    caption = "" if files_only(message, files) else text
    apart = caption if len(caption) > CAPTION_MAX else ""
    parts = []
    for n, (att_pk, f) in enumerate(files):
        mtype = channel_file_kind(Channel.Kind.WHATSAPP, f.content_type)

        def call(key, att_pk=att_pk, f=f, mtype=mtype, first=n == 0):
            media = {"id": part_cached(message, f"media:{att_pk}", lambda: upload_media(channel, f, token))}
            if first and caption and not apart:
                media["caption"] = caption
            if mtype == "document":
                media["filename"] = f.name
            return post({"type": mtype, mtype: media}, key)

        parts.append((f"file:{att_pk}", call))
    if apart:
        parts.append(("text", lambda key: post({"type": "text", "text": {"preview_url": False, "body": apart}}, key)))
    return send_parts(message, parts, idempotency_key)
