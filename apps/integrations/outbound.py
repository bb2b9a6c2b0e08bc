"""Outgoing delivery of messages per channel kind, at least once.

Every outgoing message on a pushed channel gets an outbox row (``OutboundClaim``, with its own
idempotency key) in the transaction that stores it; a task sends it after commit. A worker claims
the row with a conditional UPDATE, marks the provider call before making it, and saves the
provider's id after. A transient failure (network, 5xx, throttling, the database) is retried with
exponential backoff; beat's ``outbound_sweep`` re-sends whatever is left unfinished (a lease that
expired because the worker died, a row whose task was lost). The row records when its task was
queued (``enqueued_at``, cleared by the claim): a send whose task is only waiting in a backlog is
left alone for ``OUTBOUND_QUEUED_MAX_SECONDS``, so the sweep never deepens the backlog it reacts to,
while a worker killed between its claim and the provider call is redelivered as soon as its lease
(``CLAIM_LEASE``) expires, since its claim consumed the queued task. A redelivery
after a crash between the provider's answer and our save is "in doubt": re-sent with the same
idempotency key (no duplicate where the provider de-duplicates on it), logged and marked on the
message where it does not; WhatsApp echoes the key in its status webhooks, so the first send is
adopted if its status arrives first, and a second one is detected (``apply_status``).

Web chat and API need nothing pushed: their clients fetch through the normal endpoints after a
live signal. A refused send marks the message ``failed`` with the reason in
``meta["delivery_error"]`` and leaves an internal note so the human sees why in the inbox.
"""
from __future__ import annotations

import logging
import random
import smtplib
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, InterfaceError, OperationalError, close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations.models import Channel, Message
from apps.core.errors import InvalidInput, WindowClosed

from .channels.common import ProviderError, provider_idempotent, signal_message_changed
from .models import OutboundClaim

log = logging.getLogger(__name__)


def _fail(msg: Message, reason: str, *, note: bool = True) -> None:
    msg.delivery_status = "failed"
    msg.meta = {**msg.meta, "delivery_error": reason}
    msg.save(update_fields=["delivery_status", "meta"])
    signal_message_changed(msg)
    if note and msg.author_kind == "human":
        from apps.conversations import services

        services.message_post_system(conversation=msg.conversation_id, internal=True,
                                     body=_("Not delivered: %(reason)s") % {"reason": reason},
                                     meta={"delivery_failure_of": msg.pk})


# Longer than any provider call (15-20 s timeouts); a worker holding a claim longer has crashed.
CLAIM_LEASE = timedelta(minutes=2)


def queued_max() -> timedelta:
    """How long a queued delivery task may wait in a backlog before the sweep counts it as lost
    (broker flushed, a web process killed between its commit and its enqueue, a worker killed
    holding a retry's countdown task) and queues the send again. Default 600 s: longer than the
    deepest backlog the full-scale fault bench builds on a 2-core machine (replies waited 334 s p95
    there), far below the broker's one-hour visibility timeout. It delays only a lost task: a
    crashed worker's claim is redelivered when its lease expires."""
    return timedelta(seconds=int(getattr(settings, "OUTBOUND_QUEUED_MAX_SECONDS", 600)))

PUSHED_KINDS = (Channel.Kind.WHATSAPP, Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM, Channel.Kind.EMAIL)
#: Their clients fetch the messages (after a live signal): there is nothing to deliver.
FETCHED_KINDS = (Channel.Kind.WEBCHAT, Channel.Kind.API)


def max_attempts() -> int:
    return int(getattr(settings, "OUTBOUND_MAX_ATTEMPTS", 10))


def retry_delay(attempts: int) -> float:
    """Exponential backoff with jitter: 5 s, 10 s, 20 s ... capped at 10 minutes."""
    base = float(getattr(settings, "OUTBOUND_RETRY_BASE_SECONDS", 5))
    delay = min(base * 2 ** max(attempts - 1, 0), float(getattr(settings, "OUTBOUND_RETRY_MAX_SECONDS", 600)))
    return delay * random.uniform(0.8, 1.2)


def outbound_record(message: Message) -> None:
    """Inside the transaction that stores an outgoing message: its outbox row (unclaimed), so the
    send survives a crash or a lost task between the commit and the worker. Marked as queued: the
    ``message.outgoing`` subscriber enqueues its task right after the commit."""
    if message.is_internal or message.author_kind == "customer" or message.external_id:
        return
    channel = message.channel or message.conversation.channel
    if channel is not None and channel.kind in PUSHED_KINDS:
        OutboundClaim.objects.create(message=message, enqueued_at=timezone.now(), enqueues=1)


def _claim(message_id: int) -> OutboundClaim | None:
    """Conditional UPDATE (or the first INSERT): exactly one worker calls the provider per message.

    A finished claim is never taken again (a duplicate task run after a send or a failure is a
    no-op); an unfinished one is taken when nobody holds it, or after its lease expired (the worker
    crashed, or a retry is due). Taking it clears ``enqueued_at``: the queued task reached a worker,
    so if this one dies, the sweep redelivers the send once the lease expires."""
    now = timezone.now()
    if OutboundClaim.objects.filter(message_id=message_id, finished_at__isnull=True).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lte=now)).update(claimed_until=now + CLAIM_LEASE,
                                                                             enqueued_at=None):
        return OutboundClaim.objects.get(message_id=message_id)
    try:
        with transaction.atomic():
            return OutboundClaim.objects.create(message_id=message_id, claimed_until=now + CLAIM_LEASE)
    except IntegrityError:
        return None


def _finish(message_id: int, error: str = "") -> None:
    fields = {"finished_at": timezone.now()}
    if error:
        fields["last_error"] = error[:500]
    OutboundClaim.objects.filter(message_id=message_id, finished_at__isnull=True).update(**fields)


def deliver_message(*, message_id: int) -> str:
    """Send one outgoing message through its channel, at least once.

    Returns what happened (for tests and logs): ``sent``, ``failed`` (refused for good, the human
    sees why), ``retry`` (a transient error: the next attempt is due at ``claimed_until``),
    ``busy`` (another worker holds the claim) or ``skipped``."""
    msg = Message.objects.select_related("conversation__channel", "conversation__contact").filter(pk=message_id).first()
    if msg is None:
        return "skipped"
    if msg.is_internal or msg.external_id or msg.delivery_status in ("sent", "delivered", "read"):
        _finish(msg.pk)
        return "skipped"  # private, or already sent (a duplicate task run)
    kind = msg.conversation.channel.kind
    if kind in FETCHED_KINDS:
        _finish(msg.pk)
        return "skipped"
    claim = _claim(msg.pk)
    if claim is None:
        return "busy" if OutboundClaim.objects.filter(message_id=msg.pk, finished_at__isnull=True).exists() else "skipped"
    return _attempt(msg, kind, claim)


def _attempt(msg: Message, kind: str, claim: OutboundClaim) -> str:
    channel = msg.conversation.channel
    if claim.provider_called_at is not None:
        # A worker called the provider and died (or lost its database) before saving the answer.
        if provider_idempotent(channel):
            log.info("outbound: re-sending message %s with idempotency key %s (the provider de-duplicates)",
                     msg.pk, claim.idempotency_key)
        else:
            log.warning("outbound: message %s was possibly sent already (a worker called %s at %s and did not "
                        "save the answer); sending again: the customer may receive it twice (key %s)",
                        msg.pk, kind, claim.provider_called_at.isoformat(), claim.idempotency_key)
            msg.meta = {**msg.meta, "delivery_in_doubt": claim.provider_called_at.isoformat()}
            Message.objects.filter(pk=msg.pk).update(meta=msg.meta)
    now = timezone.now()
    OutboundClaim.objects.filter(pk=claim.pk).update(provider_called_at=now, attempts=F("attempts") + 1)
    attempts = claim.attempts + 1
    try:
        provider_id = _send(msg, kind, claim.idempotency_key)
    except _Refused as exc:  # for good: visible to the human, never retried
        _fail(msg, exc.reason)
        _finish(msg.pk, exc.reason)
        return "failed"
    except Exception as exc:  # network, provider error, throttling: try again later
        reason = str(exc)[:200]
        if attempts >= max_attempts():
            log.warning("outbound: giving up on message %s over %s after %s attempts: %s", msg.pk, kind, attempts, exc)
            _fail(msg, _("The channel refused the message (%(error)s).") % {"error": reason})
            _finish(msg.pk, reason)
            return "failed"
        delay = retry_delay(attempts)
        log.warning("outbound: attempt %s for message %s over %s failed (%s); next in %.0f s",
                    attempts, msg.pk, kind, exc, delay)
        import httpx

        not_sent = isinstance(exc, httpx.ConnectError)  # the provider never saw it: not in doubt
        due = timezone.now() + timedelta(seconds=delay)
        queued = _queues_retries()
        # A queued retry becomes runnable at ``due``: the sweep counts it as lost only
        # OUTBOUND_QUEUED_MAX_SECONDS after that (in-process mode queues nothing: the sweep sends it).
        OutboundClaim.objects.filter(pk=claim.pk).update(
            claimed_until=due, last_error=reason,
            **({"enqueued_at": due, "enqueues": F("enqueues") + 1} if queued else {}),
            **({"provider_called_at": None} if not_sent else {}))
        if queued:
            _retry_later(msg.pk, delay)
        return "retry"
    if provider_id is None:
        _finish(msg.pk)
        return "skipped"
    _save_sent(msg, provider_id)
    return "sent"


def _save_sent(msg: Message, provider_id: str) -> None:
    """The provider accepted it: save that, retrying a failing database for a few seconds (the
    send cannot be undone; losing this save would make the sweep send it a second time)."""
    for pause in (0.5, 1, 2, 4, 0):
        try:
            with transaction.atomic():
                Message.objects.filter(pk=msg.pk).update(external_id=provider_id, delivery_status="sent")
                OutboundClaim.objects.filter(message_id=msg.pk).update(finished_at=timezone.now(), last_error="")
            break
        except (OperationalError, InterfaceError):
            if not pause:
                raise
            close_old_connections()
            time.sleep(pause)
    msg.external_id, msg.delivery_status = provider_id, "sent"
    signal_message_changed(msg)


def _queues_retries() -> bool:
    """False in in-process mode (eager tasks), where the in-process beat's sweep sends due retries."""
    from asisteclick.celery import app

    return not app.conf.task_always_eager


def _retry_later(message_id: int, delay: float) -> None:
    """Enqueue the next attempt (the sweep sends it anyway if this task is lost)."""
    from .tasks import outbound_deliver

    transaction.on_commit(lambda: outbound_deliver.apply_async((message_id,), countdown=int(delay) + 1))


def outbound_sweep(*, now=None) -> int:
    """Beat: enqueue every unfinished send that nobody holds (never claimed, or its lease expired)
    and whose task is not on its way: never queued, claimed since it was last queued (a worker took
    that task and died), or queued more than ``OUTBOUND_QUEUED_MAX_SECONDS`` ago (the task was
    lost). A send whose task waits in a backlog is left alone. Returns how many were enqueued.

    The rows are marked (``enqueued_at``) under row locks skipped by a concurrent sweep, and a
    claim racing with the mark waits for it and then clears it, so a send claimed meanwhile is
    still redelivered when that claim's lease expires. Sending twice is prevented by the claim,
    not here: a redundant task finds the row claimed or finished and does nothing."""
    from .tasks import outbound_deliver

    now = now or timezone.now()
    with transaction.atomic():
        due = list(OutboundClaim.objects.select_for_update(skip_locked=True).filter(finished_at__isnull=True)
                   .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
                   .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=now - queued_max()))
                   .order_by("created_at").values_list("pk", "message_id")[:500])
        # Marked before the enqueue: the next sweeps leave these alone while their tasks wait.
        OutboundClaim.objects.filter(pk__in=[pk for pk, _m in due]).update(enqueued_at=now,
                                                                          enqueues=F("enqueues") + 1)
    for i, (_pk, message_id) in enumerate(due):
        try:
            outbound_deliver.delay(message_id)
        except Exception:  # the broker refused: not queued after all, the next sweep tries again
            OutboundClaim.objects.filter(pk__in=[pk for pk, _m in due[i:]], finished_at__isnull=True,
                                         enqueued_at=now).update(enqueued_at=None)
            raise
    if due:
        log.info("outbound sweep: %s unfinished sends enqueued", len(due))
    return len(due)


class _Refused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _send(msg: Message, kind: str, key: str) -> str | None:
    """The provider's id for the sent message; raises _Refused for a permanent refusal."""
    from .channels import email as email_channel
    from .channels import meta as meta_channel
    from .channels import whatsapp
    account_key = {Channel.Kind.WHATSAPP: "phone_number_id", **meta_channel.ID_KEY}.get(kind)
    if account_key and not (msg.conversation.channel.config or {}).get(account_key):
        # A channel that was never connected (e.g. the demo's): say so, and never call out.
        raise _Refused(_("This channel is not connected to its provider yet (no %(key)s in its configuration).")
                       % {"key": account_key})
    try:
        if kind == Channel.Kind.WHATSAPP:
            provider_id, _resp = whatsapp.send(msg, key)
        elif kind in (Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM):
            provider_id, _resp = meta_channel.send(msg, key)
        elif kind == Channel.Kind.EMAIL:
            provider_id = email_channel.send(msg, key)
        else:
            log.info("no outbound adapter for %s (message %s)", kind, msg.pk)
            return None
    except WindowClosed as exc:
        raise _Refused(exc.message) from exc
    except ProviderError as exc:
        if exc.permanent:
            log.warning("delivery of message %s over %s refused: %s", msg.pk, kind, exc)
            raise _Refused(_("The channel refused the message (%(error)s).") % {"error": str(exc)[:200]}) from exc
        raise
    except InvalidInput as exc:  # a file the channel does not accept (type, size)
        raise _Refused(exc.message) from exc
    except FileNotFoundError as exc:
        raise _Refused(_("The file to send is no longer stored.")) from exc
    except (ValueError, smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        raise _Refused(_("The channel refused the message (%(error)s).") % {"error": str(exc)[:200]}) from exc
    return provider_id
