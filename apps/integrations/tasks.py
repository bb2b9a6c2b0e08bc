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


@shared_task(acks_late=True, ignore_result=True)
def inbound_process(inbound_id: int) -> None:
    from .inbound import inbound_process as process

    process(inbound_id=inbound_id)


@shared_task(acks_late=True, ignore_result=True)
def email_poll() -> None:
    from .inbound import email_poll_all

    email_poll_all()


@shared_task(acks_late=True, ignore_result=True)
def housekeeping() -> None:
    from .inbound import integrations_housekeeping

    integrations_housekeeping()
