"""Thin tasks: ids in, a service call out."""
from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def webhook_deliver(delivery_id: int) -> None:
    from .webhooks import webhook_deliver as deliver

    deliver(delivery_id=delivery_id)


@shared_task(acks_late=True, ignore_result=True)
def webhooks_sweep() -> None:
    from .webhooks import webhooks_sweep as sweep

    sweep()


# A failed body is retried with exponential backoff (5 s, 10 s, ... capped at 10 min); whatever
# the retries do not fix, ``inbound_sweep`` (beat) picks up from the stored row.
@shared_task(acks_late=True, ignore_result=True, autoretry_for=(Exception,), max_retries=6,
             retry_backoff=5, retry_backoff_max=600, retry_jitter=True)
def inbound_process(inbound_id: int) -> None:
    from .inbound import inbound_process as process

    process(inbound_id=inbound_id)


@shared_task(acks_late=True, ignore_result=True)
def inbound_process_batch(inbound_ids: list[int]) -> None:
    """Stored bodies enqueued together by one web process (the coalescing publisher)."""
    from .inbound import inbound_process_batch as process_batch

    process_batch(inbound_ids=inbound_ids)


@shared_task(acks_late=True, ignore_result=True)
def inbound_sweep() -> None:
    from .inbound import inbound_sweep as sweep

    sweep()


@shared_task(acks_late=True, ignore_result=True)
def media_fetch(message_id: int) -> None:
    """Download a customer's WhatsApp/Messenger/Instagram file into an attachment (media.py)."""
    from .media import media_fetch as fetch

    fetch(message_id)


@shared_task(acks_late=True, ignore_result=True)
def media_sweep() -> None:
    from .media import media_sweep as sweep

    sweep()


@shared_task(acks_late=True, ignore_result=True)
def email_poll() -> None:
    from .inbound import email_poll_all

    email_poll_all()


@shared_task(acks_late=True, ignore_result=True)
def housekeeping() -> None:
    from .inbound import integrations_housekeeping

    integrations_housekeeping()


@shared_task(acks_late=True, ignore_result=True)
def outbound_deliver(message_id: int) -> None:
    """One delivery attempt of an outgoing message (a retry, or a send the sweep found unfinished)."""
    from .outbound import deliver_message

    deliver_message(message_id=message_id)


@shared_task(acks_late=True, ignore_result=True)
def outbound_sweep() -> None:
    from .outbound import outbound_sweep as sweep

    sweep()


# The name predates the move from apps.conversations.tasks: kept so queued tasks still run.
@shared_task(name="apps.conversations.tasks.conversation_deliver_message", acks_late=True, ignore_result=True)
def conversation_deliver_message(message_id: int) -> None:
    """Send an outgoing message through its channel (web chat needs nothing: the widget fetches)."""
    from .outbound import deliver_message

    deliver_message(message_id=message_id)


@shared_task(acks_late=True, ignore_result=True)
def outbound_deliver_many(message_ids: list[int]) -> None:
    """Outgoing messages committed together (the escalation sweep's notices of one batch), sent in
    turn. Each send is claimed on its own, so a redelivered task re-sends only what is unfinished."""
    from .outbound import deliver_message

    for message_id in message_ids:
        try:
            deliver_message(message_id=message_id)
        except Exception:  # one bad message must not hold back the others; outbound_sweep retries it
            log.exception("delivery of message %s failed", message_id)


#: At most this many messages per ``outbound_deliver_many`` task, so several outbound workers
#: still share a large batch.
DELIVER_MANY_MAX = 25


def on_message_outgoing(events: list) -> None:
    """``message.outgoing`` subscriber (after commit, batched): deliver through the channel in a task.

    Nothing is enqueued for web chat and API messages (their clients fetch them; the task would do
    nothing). One message (a reply) gets its own task at once; the messages of a batch of commits
    (``events.batched()``: the escalation sweep's notices) go out as one task per
    ``DELIVER_MANY_MAX``: one Redis round trip instead of one per message. Their outbox rows are
    marked queued (``outbound_record``), so a lost enqueue is re-sent by ``outbound_sweep`` as before."""
    from .outbound import FETCHED_KINDS

    ids = [e.message_id for e in events if e.extra.get("channel_kind") not in FETCHED_KINDS]
    if len(ids) == 1:
        conversation_deliver_message.delay(ids[0])
        return
    for start in range(0, len(ids), DELIVER_MANY_MAX):
        outbound_deliver_many.delay(ids[start:start + DELIVER_MANY_MAX])
