"""The inbound inbox: verified provider bodies are stored first, then processed by Celery."""
from __future__ import annotations

import base64
import hashlib
import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.conversations.models import Channel

from .batching import CoalescingPublisher
from .models import InboundWebhook

log = logging.getLogger(__name__)


# A body is processed in well under a second; a worker holding a row a minute has crashed (its
# redelivered task finds the row claimed and leaves it: the sweep takes it once the lease is over).
CLAIM_LEASE = timedelta(minutes=1)
# Rows the on-commit enqueue should have handled by now (give Celery a head start).
SWEEP_AFTER = timedelta(seconds=30)
# A body that failed this often is left for a human (``error`` says why); Celery retries count.
MAX_ATTEMPTS = 10


def inbound_store(*, channel: Channel, raw: bytes, payload: dict) -> tuple[int | None, bool]:
    """Store a verified body once (identical redeliveries stop here) and enqueue it on commit.

    The enqueue is best effort (``robust``): with the broker down the provider still gets its
    200 and ``inbound_sweep`` processes the stored row later."""
    digest = hashlib.sha256(raw).hexdigest()
    connection = transaction.get_connection()
    if connection.get_autocommit() and not connection.in_atomic_block:
        # The webhook path: one INSERT, committed on its own (one round trip, not BEGIN, INSERT,
        # COMMIT); a duplicate fails alone, there is no transaction for it to spoil.
        try:
            row = InboundWebhook.objects.create(channel=channel, body_sha256=digest, payload=payload)
        except IntegrityError:
            return None, False
        _enqueue_robust(row.pk)
        return row.pk, True
    try:
        with transaction.atomic():
            row = InboundWebhook.objects.create(channel=channel, body_sha256=digest, payload=payload)
            transaction.on_commit(lambda: _enqueue(row.pk), robust=True)
    except IntegrityError:
        return None, False
    return row.pk, True


def _enqueue_robust(pk: int) -> None:
    """As ``on_commit(..., robust=True)`` would: an enqueue that fails is logged, not raised."""
    try:
        _enqueue(pk)
    except Exception:  # noqa: BLE001 (the stored row is swept later)
        log.warning("could not enqueue stored inbound body %s; the sweep will process it", pk, exc_info=True)


def _publish_batch(ids: list[int]) -> None:
    from .tasks import inbound_process_batch

    inbound_process_batch.delay(ids)


_publisher = CoalescingPublisher(_publish_batch)


def _enqueue(pk: int) -> None:
    from asisteclick.celery import app

    from .tasks import inbound_process as task

    if app.conf.task_always_eager:  # in-process mode: process it now, as before
        task.delay(pk)
    else:
        _publisher.add(pk)  # one task per few milliseconds of webhooks (batching.py)


def inbound_process_batch(*, inbound_ids: list[int]) -> int:
    """A batch published by the webhook path: process each in order; one that fails goes to its own
    retrying task (and the sweep), without holding up the others. Returns how many were processed."""
    from asisteclick.celery import app

    from .tasks import inbound_process as task

    done = 0
    for pk in inbound_ids:
        try:
            done += inbound_process(inbound_id=pk) is not None
        except Exception:  # noqa: BLE001 (recorded on the row by inbound_process)
            log.warning("inbound webhook %s failed in a batch; retrying it on its own", pk, exc_info=True)
            if not app.conf.task_always_eager:  # in-process mode: the sweep retries it
                task.apply_async((pk,), countdown=5)
    return done


def _claim(inbound_id: int, now=None) -> bool:
    """Conditional UPDATE: one worker at a time holds an unprocessed row (lease, not a lock)."""
    now = now or timezone.now()
    return bool(InboundWebhook.objects
                .filter(pk=inbound_id, processed_at__isnull=True)
                .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
                .update(claimed_until=now + CLAIM_LEASE, attempts=F("attempts") + 1))


def inbound_process(*, inbound_id: int) -> dict | None:
    """Feed one stored body into the channel adapter. None when it is done or someone else holds it.

    A failure records the error, releases the claim and re-raises (the task retries with backoff;
    the sweep catches what the retries did not). The adapters are idempotent on the provider's
    message id, so a crash between storing messages and marking the row only repeats no-ops."""
    from .channels import email as email_channel
    from .channels import meta, whatsapp

    if not _claim(inbound_id):
        return None
    row = InboundWebhook.objects.select_related("channel").get(pk=inbound_id)
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
        InboundWebhook.objects.filter(pk=row.pk).update(error=f"{type(exc).__name__}: {exc}"[:500], claimed_until=None)
        raise
    InboundWebhook.objects.filter(pk=row.pk).update(processed_at=timezone.now(), claimed_until=None, error="")
    return result


def inbound_sweep(*, limit: int = 200) -> int:
    """Beat: process stored bodies nobody processed (lost enqueue, Redis flush, crashed worker).

    Each row is claimed by ``inbound_process`` itself, so two sweeps (or a sweep and a late task)
    never process the same row at once. Returns how many rows were processed here."""
    now = timezone.now()
    due = (InboundWebhook.objects
           .filter(processed_at__isnull=True, created_at__lte=now - SWEEP_AFTER, attempts__lt=MAX_ATTEMPTS)
           .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
           .order_by("created_at").values_list("pk", flat=True)[:limit])
    done = 0
    for pk in list(due):
        try:
            done += inbound_process(inbound_id=pk) is not None
        except Exception:  # recorded on the row; one bad body must not stop the others
            log.exception("inbound webhook %s failed in the sweep", pk)
    return done


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
