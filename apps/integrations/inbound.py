"""The inbound inbox: verified provider bodies are stored first, then processed by Celery."""
from __future__ import annotations

import base64
import hashlib
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.conversations.models import Channel

from .models import InboundWebhook

log = logging.getLogger(__name__)


def inbound_store(*, channel: Channel, raw: bytes, payload: dict) -> tuple[int | None, bool]:
    """Store a verified body once (identical redeliveries stop here) and enqueue it on commit."""
    digest = hashlib.sha256(raw).hexdigest()
    try:
        with transaction.atomic():
            row = InboundWebhook.objects.create(channel=channel, body_sha256=digest, payload=payload)
            transaction.on_commit(lambda: _enqueue(row.pk))
    except IntegrityError:
        return None, False
    return row.pk, True


def _enqueue(pk: int) -> None:
    from .tasks import inbound_process as task

    task.delay(pk)


def inbound_process(*, inbound_id: int) -> dict | None:
    from .channels import email as email_channel
    from .channels import meta, whatsapp

    row = InboundWebhook.objects.select_related("channel").filter(pk=inbound_id, processed_at__isnull=True).first()
    if row is None:
        return None
    channel = row.channel
    try:
        if channel.kind == Channel.Kind.WHATSAPP:
            result = whatsapp.process(channel=channel, payload=row.payload)
        elif channel.kind in (Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM):
            result = meta.process(channel=channel, payload=row.payload)
        elif channel.kind == Channel.Kind.EMAIL:
            _m, outcome = email_channel.ingest(channel=channel, raw=base64.b64decode(row.payload["eml_b64"]))
            result = {"outcome": outcome}
        else:
            result = {}
    except Exception as exc:
        InboundWebhook.objects.filter(pk=row.pk).update(error=str(exc)[:500])
        raise
    InboundWebhook.objects.filter(pk=row.pk).update(processed_at=timezone.now(), error="")
    return result


def email_poll_all() -> int:
    from .channels import email as email_channel

    total = 0
    for channel in Channel.objects.filter(kind=Channel.Kind.EMAIL, is_active=True):
        if (channel.config or {}).get("imap_host"):
            try:
                total += email_channel.poll_imap(channel)
            except Exception:
                log.exception("IMAP poll of channel %s failed", channel.pk)
    return total


def integrations_housekeeping(*, idempotency_hours: int = 24, inbound_days: int = 7) -> dict:
    """Beat: forget old idempotency answers and processed inbound bodies (unprocessed ones stay)."""
    from datetime import timedelta

    from .models import IdempotencyRecord

    now = timezone.now()
    idem, _ = IdempotencyRecord.objects.filter(created_at__lt=now - timedelta(hours=idempotency_hours)).delete()
    inbound, _ = InboundWebhook.objects.filter(processed_at__lt=now - timedelta(days=inbound_days)).delete()
    return {"idempotency": idem, "inbound": inbound}
