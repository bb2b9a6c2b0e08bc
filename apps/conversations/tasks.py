"""Thin, restart-safe tasks: ids in, a service call out (DESIGN.md invariant 3)."""
from __future__ import annotations

import logging

from celery import shared_task

log = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True, autoretry_for=(Exception,), retry_backoff=5,
             retry_backoff_max=120, retry_jitter=True, max_retries=6)
def conversation_bot_turn(conversation_id: int, message_id: int) -> None:
    """One AI Agent turn. The turn hands the customer to a human on any error of its own, so what
    escapes here is the database or the process failing: retry with backoff (the turn is
    idempotent, and the agent's periodic reconcile re-enqueues whatever still gets lost)."""
    from apps.agent.services import agent_handle_message

    agent_handle_message(conversation_id=conversation_id, message_id=message_id)


@shared_task(acks_late=True, ignore_result=True)
def conversation_route(conversation_id: int) -> None:
    from apps.routing.services import routing_conversation_arrived

    routing_conversation_arrived(conversation_id=conversation_id)


@shared_task(acks_late=True, ignore_result=True)
def conversation_deliver_message(message_id: int) -> None:
    """Send an outgoing message through its channel (web chat needs nothing: the widget fetches)."""
    from apps.integrations.outbound import deliver_message

    deliver_message(message_id=message_id)
