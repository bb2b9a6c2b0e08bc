"""Thin tasks: ids in, a service call out."""
from __future__ import annotations

from celery import shared_task


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


def on_message_outgoing(event) -> None:
    """``message.outgoing`` subscriber (after commit): deliver through the channel in a task."""
    conversation_deliver_message.delay(event.message_id)
