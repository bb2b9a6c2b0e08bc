"""Outgoing delivery of messages per channel kind (called on commit for every outgoing message).

Web chat and API need nothing pushed: their clients fetch through the normal endpoints after a
live signal. A refused or failed send marks the message ``failed`` with the reason in
``meta["delivery_error"]`` and leaves an internal note so the human sees why in the inbox.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations.models import Channel, Message
from apps.core.errors import WindowClosed

from .channels.common import signal_message_changed
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


def _claim(message_id: int) -> bool:
    """Conditional UPDATE (or the first INSERT): exactly one worker calls the provider per message.

    A finished claim is never taken again (a duplicate task run after a send or a failure is a
    no-op); an unfinished one is taken over only after its lease expired (the worker crashed)."""
    now = timezone.now()
    if OutboundClaim.objects.filter(message_id=message_id, finished_at__isnull=True, claimed_until__lte=now).update(
            claimed_until=now + CLAIM_LEASE, attempts=F("attempts") + 1):
        return True
    try:
        with transaction.atomic():
            OutboundClaim.objects.create(message_id=message_id, claimed_until=now + CLAIM_LEASE)
    except IntegrityError:
        return False
    return True


def _recheck_later(message_id: int) -> None:
    """Another worker holds the claim: look again once its lease is over (it may have crashed)."""
    from asisteclick.celery import app

    if app.conf.task_always_eager:  # in-process mode: the holder is this very process
        return
    from .tasks import outbound_deliver

    outbound_deliver.apply_async((message_id,), countdown=int(CLAIM_LEASE.total_seconds()) + 5)


def deliver_message(*, message_id: int) -> str:
    """Send one outgoing message through its channel. Returns what happened (for tests and logs)."""
    msg = Message.objects.select_related("conversation__channel", "conversation__contact").filter(pk=message_id).first()
    if msg is None or msg.is_internal or msg.external_id or msg.delivery_status in ("sent", "delivered", "read"):
        return "skipped"  # gone, private, or already sent (a duplicate task run)
    kind = msg.conversation.channel.kind
    if kind in (Channel.Kind.WEBCHAT, Channel.Kind.API):
        return "skipped"
    if not _claim(msg.pk):
        if OutboundClaim.objects.filter(message_id=msg.pk, finished_at__isnull=True).exists():
            _recheck_later(msg.pk)
            return "busy"
        return "skipped"
    try:
        return _send(msg, kind)
    finally:
        OutboundClaim.objects.filter(message_id=msg.pk).update(finished_at=timezone.now())


def _send(msg: Message, kind: str) -> str:
    from .channels import email as email_channel
    from .channels import meta as meta_channel
    from .channels import whatsapp
    account_key = {Channel.Kind.WHATSAPP: "phone_number_id", **meta_channel.ID_KEY}.get(kind)
    if account_key and not (msg.conversation.channel.config or {}).get(account_key):
        # A channel that was never connected (e.g. the demo's): say so, and never call out.
        _fail(msg, _("This channel is not connected to its provider yet (no %(key)s in its configuration).")
              % {"key": account_key})
        return "failed"
    try:
        if kind == Channel.Kind.WHATSAPP:
            provider_id, _resp = whatsapp.send(msg)
        elif kind in (Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM):
            provider_id, _resp = meta_channel.send(msg)
        elif kind == Channel.Kind.EMAIL:
            provider_id = email_channel.send(msg)
        else:
            log.info("no outbound adapter for %s (message %s)", kind, msg.pk)
            return "skipped"
    except WindowClosed as exc:
        _fail(msg, exc.message)
        return "failed"
    except Exception as exc:  # network, provider error: visible to the human, logged for us
        log.warning("delivery of message %s over %s failed: %s", msg.pk, kind, exc)
        _fail(msg, _("The channel refused the message (%(error)s).") % {"error": str(exc)[:200]})
        return "failed"
    msg.external_id = provider_id
    msg.delivery_status = "sent"
    msg.save(update_fields=["external_id", "delivery_status"])
    signal_message_changed(msg)
    return "sent"
