"""Media a customer sent on WhatsApp, Messenger or Instagram, downloaded and stored as attachments.

The webhook only names the file. The message is stored at once with its placeholder text
("[Image] the router") and ``meta["media_fetch"] = {"state": "pending"}``; after the commit a task
downloads the bytes and stores them through ``apps.conversations.attachments`` (the same type and
size checks as every other channel). Nothing is lost when a download fails: the message stays,
``state`` becomes ``failed`` with the reason, and ``media_sweep`` (beat) tries again with backoff
up to ``MEDIA_MAX_ATTEMPTS``; a staff member can ask again at any time (``media_fetch(...,
manual=True)``). A file the checks refuse (too large, not an image or PDF) is ``refused``: final,
with the reason shown next to the message.

* WhatsApp Cloud API: ``GET {graph}/{media id}`` with the channel's token answers
  ``{"url", "mime_type", "sha256", "file_size"}``; ``GET url`` with the same token gives the bytes.
* Messenger / Instagram: the webhook's ``attachments[].payload.url`` is the file itself.

A media URL must be https (or on the configured Graph base, e.g. a local stand-in or gateway) and,
when it is not on the Graph base, resolve to public addresses only (``netguard``).
"""
from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _

from apps.conversations.models import Channel, Message
from apps.core.errors import InvalidInput

from .channels.common import channel_secret, graph_base_url, signal_message_changed

log = logging.getLogger(__name__)

MEDIA_MAX_ATTEMPTS = 6
MEDIA_RETRY_BASE_SECONDS = 30
PROVIDER_KINDS = (Channel.Kind.WHATSAPP, Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM)
FETCHABLE_TYPES = {"image", "document", "file", "sticker"}  # audio and video are not attachable here


class MediaError(Exception):
    """A download that failed; ``final`` when trying again cannot help. The message id (English) and
    its values are stored, so each reader sees the reason in their own language (``media_error_text``)."""

    def __init__(self, msgid: str, params: dict | None = None, *, final: bool = False):
        self.msgid, self.params, self.final = msgid, params or {}, final
        super().__init__(msgid % self.params if self.params else msgid)


def media_error_text(state: dict) -> str:
    """The reason of a failed or refused download in the active language."""
    msgid = (state or {}).get("error_msgid")
    if msgid:
        params = state.get("error_params") or {}
        return gettext(msgid) % params if params else gettext(msgid)
    return str((state or {}).get("error") or "")


def media_wanted(channel: Channel, meta: dict) -> list[dict]:
    """What to fetch for an inbound message's meta: ``[{"id"|"url", "type", "name"}]``."""
    if channel.kind == Channel.Kind.WHATSAPP:
        media = meta.get("media") or {}
        if media.get("id") and meta.get("wa_type") in FETCHABLE_TYPES:
            return [{"id": str(media["id"]), "type": meta["wa_type"], "name": media.get("filename") or ""}]
        return []
    if channel.kind in (Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM):
        out = []
        for a in meta.get("attachments") or []:
            url = ((a or {}).get("payload") or {}).get("url")
            if url and (a.get("type") or "file") in FETCHABLE_TYPES:
                out.append({"url": str(url), "type": a.get("type") or "file", "name": ""})
        return out
    return []


def media_mark_pending(message: Message) -> bool:
    """Called as the message is stored (same transaction): mark it and fetch after the commit."""
    if not media_wanted(message.channel, message.meta or {}):
        return False
    Message.objects.filter(pk=message.pk).update(meta={**(message.meta or {}),
                                                       "media_fetch": {"state": "pending", "attempts": 0}})
    from .tasks import media_fetch as task

    transaction.on_commit(lambda: task.delay(message.pk))
    return True


def _allowed(url: str, channel: Channel) -> None:
    from . import netguard

    parts, base = urlsplit(url), urlsplit(graph_base_url(channel))
    if (parts.scheme, parts.netloc) == (base.scheme, base.netloc):
        return
    if parts.scheme != "https":
        raise MediaError(_("The provider gave a media address that is not https."), final=True)
    try:
        netguard.check_url(url)
    except netguard.UnsafeTarget:
        raise MediaError(_("The provider gave a media address that is not public."), final=True) from None


def _get(url: str, *, channel: Channel, headers: dict, limit: int) -> tuple[bytes, str]:
    """The body (at most ``limit`` bytes, else a final error) and its content type."""
    import httpx

    _allowed(url, channel)
    try:
        with httpx.stream("GET", url, headers=headers, timeout=20.0, follow_redirects=False) as resp:
            if resp.status_code >= 400:
                raise MediaError(_("The provider answered %(code)s."), {"code": resp.status_code})
            declared = int(resp.headers.get("content-length") or 0)
            if declared > limit:
                raise MediaError(_("The file is larger than the limit."), final=True)
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise MediaError(_("The file is larger than the limit."), final=True)
                chunks.append(chunk)
            return b"".join(chunks), resp.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise MediaError(_("The download failed (%(error)s)."), {"error": type(exc).__name__}) from None


def _download(channel: Channel, item: dict) -> tuple[bytes, str]:
    """(bytes, file name) of one media item."""
    import json

    limit = int(settings.ATTACHMENT_MAX_BYTES)
    if "id" in item:  # WhatsApp: ask Graph for a short-lived URL first
        token = channel_secret(channel, "access_token") or ""
        auth = {"Authorization": f"Bearer {token}"}
        body, _type = _get(f"{graph_base_url(channel)}/{item['id']}", channel=channel, headers=auth, limit=64 * 1024)
        try:
            info = json.loads(body)
        except ValueError:
            raise MediaError(_("The provider's answer about the file could not be read.")) from None
        if not isinstance(info, dict) or not info.get("url"):
            raise MediaError(_("The provider did not give the file's address."))
        if int(info.get("file_size") or 0) > limit:
            raise MediaError(_("The file is larger than the limit."), final=True)
        data, _type = _get(str(info["url"]), channel=channel, headers=auth, limit=limit)
        expected = str(info.get("sha256") or "")
        if expected and hashlib.sha256(data).hexdigest() != expected.lower():
            raise MediaError(_("The file arrived damaged (its checksum does not match)."))
        ext = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp", "application/pdf": "pdf"}.get(
            str(info.get("mime_type") or "").split(";")[0], "bin")
        return data, item.get("name") or f"whatsapp-{item['id']}.{ext}"
    data, content_type = _get(item["url"], channel=channel, headers={}, limit=limit)
    name = urlsplit(item["url"]).path.rsplit("/", 1)[-1][:120] or f"{item['type']}"
    return data, name


def media_fetch(message_id: int, *, manual: bool = False) -> str:
    """Download and store the media of one inbound message. Idempotent (a stored file is not fetched
    again). Returns the new state: stored, failed, refused or nothing."""
    from apps.conversations.attachments import attachment_check, attachment_store

    msg = Message.objects.select_related("channel").filter(pk=message_id).first()
    if msg is None or msg.channel is None or msg.channel.kind not in PROVIDER_KINDS:
        return "nothing"
    state = dict((msg.meta or {}).get("media_fetch") or {})
    if state.get("state") == "stored" or (state.get("state") == "refused" and not manual):
        return state.get("state", "nothing")
    wanted = media_wanted(msg.channel, msg.meta or {})
    if not wanted:
        return "nothing"
    files, error, final, msgid, params = [], "", False, "", {}
    for item in wanted:
        try:
            data, name = _download(msg.channel, item)
            files.append(attachment_check(name=name, data=data))
        except MediaError as exc:
            error, final, msgid, params = str(exc), exc.final, exc.msgid, exc.params
            break
        except InvalidInput as exc:  # type or size refused by the shared checks
            error, final = exc.message, True
            break
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=msg.pk)
        current = dict((locked.meta or {}).get("media_fetch") or {})
        if current.get("state") == "stored":  # another worker finished first
            return "stored"
        attempts = int(current.get("attempts") or 0) + 1
        if error:
            new = {"state": "refused" if final else "failed", "attempts": attempts, "error": error[:300],
                   **({"error_msgid": msgid, "error_params": params} if msgid else {}),
                   "next_at": None if final else
                   (timezone.now() + timedelta(seconds=MEDIA_RETRY_BASE_SECONDS * 2 ** min(attempts, 8))).isoformat()}
            log.warning("media of message %s: %s (%s, attempt %s)", msg.pk, new["state"], error, attempts)
        else:
            for f in files:
                attachment_store(message=locked, file=f)
            new = {"state": "stored", "attempts": attempts}
        locked.meta = {**(locked.meta or {}), "media_fetch": new}
        locked.save(update_fields=["meta"])
        signal_message_changed(locked)
    return new["state"]


def media_sweep(now=None) -> int:
    """Try again the downloads that failed and are due (beat). Returns how many were tried."""
    from .tasks import media_fetch as task

    now = now or timezone.now()
    tried = 0
    from django.db.models import Q

    # A pending one whose task was lost (a crashed worker): after a minute.
    rows = (Message.objects.filter(channel__kind__in=PROVIDER_KINDS, author_kind="customer")
            .filter(Q(meta__media_fetch__state="failed")
                    | Q(meta__media_fetch__state="pending", created_at__lt=now - timedelta(minutes=1)))
            .order_by("pk").values_list("pk", "meta")[:200])
    for pk, meta in rows:
        state = (meta or {}).get("media_fetch") or {}
        if int(state.get("attempts") or 0) >= MEDIA_MAX_ATTEMPTS:
            continue
        due = state.get("next_at")
        if due and due > now.isoformat():
            continue
        task.delay(pk)
        tried += 1
    return tried
