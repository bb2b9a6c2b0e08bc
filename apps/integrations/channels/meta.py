"""Messenger and Instagram messaging: entry[].messaging[] webhook events and the Send API."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations import services
from apps.conversations.models import Channel, Message

from .common import (ProviderError, channel_secret, contact_for_identities, files_only, graph_base_url,
                     message_files, outbound_text, part_cached, send_parts, signal_message_changed)
from .whatsapp import STATUS_RANK, WindowClosed

OBJECTS = {"page": Channel.Kind.MESSENGER, "instagram": Channel.Kind.INSTAGRAM}
ID_KEY = {Channel.Kind.MESSENGER: "page_id", Channel.Kind.INSTAGRAM: "ig_id"}
RESPONSE_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)


@dataclass
class Event:
    kind: str  # message | echo | delivery | read | deleted | ignored
    account_id: str
    sender: str = ""
    external_id: str = ""
    body: str = ""
    meta: dict = field(default_factory=dict)
    mids: list = field(default_factory=list)
    watermark: int | None = None


def parse(payload: dict, *, default_object: str | None = None) -> list[Event]:
    obj = payload.get("object", default_object) if isinstance(payload, dict) else None
    if obj not in OBJECTS or not isinstance(payload.get("entry"), list):
        raise ValueError("not a page/instagram messaging update")
    events: list[Event] = []
    for entry in payload["entry"]:
        account = str((entry or {}).get("id", ""))
        for ev in (entry or {}).get("messaging") or []:
            sender = str((ev.get("sender") or {}).get("id", ""))
            if "message" in ev:
                m = ev["message"] or {}
                if m.get("is_echo"):
                    events.append(Event("echo", account, sender, m.get("mid", ""), m.get("text", "")))
                    continue
                if m.get("is_deleted"):
                    events.append(Event("deleted", account, sender, m.get("mid", "")))
                    continue
                meta = {"from": sender, "timestamp": ev.get("timestamp")}
                body = m.get("text") or ""
                if m.get("quick_reply"):
                    meta["quick_reply"] = m["quick_reply"]
                if m.get("reply_to"):
                    meta["reply_to"] = m["reply_to"]
                if m.get("attachments"):
                    meta["attachments"] = m["attachments"]
                    if not body:
                        body = " ".join(f"[{a.get('type', 'file')}] {(a.get('payload') or {}).get('url', '')}".strip()
                                        for a in m["attachments"])
                events.append(Event("message", account, sender, m.get("mid", ""), body, meta))
            elif "postback" in ev:
                pb = ev["postback"] or {}
                events.append(Event("message", account, sender, pb.get("mid", ""), pb.get("title") or pb.get("payload", ""),
                                    {"from": sender, "postback": pb}))
            elif "delivery" in ev:
                d = ev["delivery"] or {}
                events.append(Event("delivery", account, sender, mids=d.get("mids") or [], watermark=d.get("watermark")))
            elif "read" in ev:
                events.append(Event("read", account, sender, watermark=(ev["read"] or {}).get("watermark")))
            else:
                events.append(Event("ignored", account, sender))
    return events


def _watermark_dt(ms):
    from datetime import datetime, timezone as tz

    try:
        return datetime.fromtimestamp(int(ms) / 1000, tz=tz.utc)
    except (TypeError, ValueError):
        return None


def _mark(channel: Channel, qs, status: str) -> int:
    n = 0
    changed = {}
    for msg in qs.select_related("conversation"):
        if STATUS_RANK.get(status, 0) > STATUS_RANK.get(msg.delivery_status, 0):
            msg.delivery_status = status
            msg.save(update_fields=["delivery_status"])
            changed.setdefault(msg.conversation_id, msg)
            n += 1
    for msg in changed.values():  # one signal per conversation, not per message
        signal_message_changed(msg)
    return n


def process(*, channel: Channel, payload: dict) -> dict:
    account = str(channel.config.get(ID_KEY[channel.kind], ""))
    counts = {"created": 0, "duplicate": 0, "status": 0, "ignored": 0}
    obj = "page" if channel.kind == Channel.Kind.MESSENGER else "instagram"
    for ev in parse(payload, default_object=obj):
        if ev.account_id and ev.account_id != account:
            continue
        if ev.kind == "message" and ev.body.strip():
            contact = contact_for_identities(kind=channel.kind, values=[ev.sender])
            msg, created = services.message_receive(channel=channel, contact=contact, body=ev.body,
                                                    external_id=ev.external_id or None, meta=ev.meta)
            counts["created" if created else "duplicate"] += 1
            if created:
                from ..media import media_mark_pending

                media_mark_pending(msg)  # attachments downloaded after the commit
        elif ev.kind in ("delivery", "read"):
            ours = Message.objects.filter(channel=channel, author_kind__in=("human", "ai_agent", "system"),
                                          conversation__contact__identities__kind=channel.kind,
                                          conversation__contact__identities__value=ev.sender)
            if ev.mids:
                ours = ours.filter(external_id__in=ev.mids)
            elif ev.watermark and _watermark_dt(ev.watermark):
                ours = ours.filter(created_at__lte=_watermark_dt(ev.watermark))
            counts["status"] += _mark(channel, ours.exclude(delivery_status__in=("read", "failed")),
                                      "delivered" if ev.kind == "delivery" else "read")
        else:  # echoes of our own sends (already stored), unsends, unknown events
            counts["ignored"] += 1
    return counts


def upload_attachment(channel: Channel, file, kind: str, token: str) -> str:
    """Attachment Upload API: POST {base}/{page_id}/message_attachments as multipart, ``message`` =
    {"attachment": {"type", "payload": {"is_reusable": true}}} and ``filedata``: the attachment id."""
    import json

    import httpx

    url = f"{graph_base_url(channel)}/{channel.config.get(ID_KEY[channel.kind])}/message_attachments"
    message = {"attachment": {"type": kind, "payload": {"is_reusable": True}}}
    resp = httpx.post(url, data={"message": json.dumps(message)},
                      files={"filedata": (file.name, file.data, file.content_type)},
                      headers={"Authorization": f"Bearer {token}"}, timeout=60.0)
    data = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if resp.status_code >= 400 or not data.get("attachment_id"):
        err = data.get("error") or {}
        raise ProviderError(f"Attachment Upload API {resp.status_code}: {err.get('message', resp.text[:200])}",
                            status_code=resp.status_code, code=err.get("code"))
    return str(data["attachment_id"])


def send(message: Message, idempotency_key: str = "") -> tuple[str, dict]:
    """Send API. A message with files: each file uploaded once (Attachment Upload API, its id kept on
    the message for retries) and sent as ``{"attachment": {"type", "payload": {"attachment_id"}}}``;
    the Send API takes no text with an attachment, so the text follows as its own message."""
    import httpx

    conv = message.conversation
    channel = conv.channel
    ident = conv.contact.identities.filter(kind=channel.kind).order_by("pk").first()
    last = conv.last_customer_message_at
    now = timezone.now()
    envelope: dict = {"recipient": {"id": ident.value if ident else ""}}
    if last and now - last < RESPONSE_WINDOW:
        envelope["messaging_type"] = "RESPONSE"
    elif last and now - last < HUMAN_AGENT_WINDOW and message.author_kind == "human":
        envelope.update({"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"})
    else:
        raise WindowClosed(_("This conversation's messaging window is closed: the customer has to write again."))
    url = f"{graph_base_url(channel)}/{channel.config.get(ID_KEY[channel.kind])}/messages"
    token = channel_secret(channel, "access_token") or ""

    def post(msg_body: dict, key: str) -> tuple[str, dict]:
        headers = {"Authorization": f"Bearer {token}"}
        if key:
            headers["Idempotency-Key"] = key  # for gateways that de-duplicate on it
        resp = httpx.post(url, json={**envelope, "message": msg_body}, headers=headers, timeout=15.0)
        data = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
        if resp.status_code >= 400 or not data.get("message_id"):
            err = data.get("error") or {}
            raise ProviderError(f"Send API {resp.status_code}: {err.get('message', resp.text[:200])}",
                                status_code=resp.status_code, code=err.get("code"))
        return data["message_id"], data

    text = outbound_text(message)
    files = message_files(message)
    if not files:
        return post({"text": text}, idempotency_key)
    from apps.conversations.attachments import channel_file_kind

    parts = []
    for att_pk, f in files:
        kind = channel_file_kind(channel.kind, f.content_type)

        def call(key, att_pk=att_pk, f=f, kind=kind):
            aid = part_cached(message, f"media:{att_pk}", lambda: upload_attachment(channel, f, kind, token))
            return post({"attachment": {"type": kind, "payload": {"attachment_id": aid}}}, key)

        parts.append((f"file:{att_pk}", call))
    if not files_only(message, files):
        parts.append(("text", lambda key: post({"text": text}, key)))
    return send_parts(message, parts, idempotency_key)
