"""Thin, restart-safe tasks of the AI Agent (DESIGN.md invariant 3): ids in, a service call out."""
from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def agent_reconcile_task() -> dict:
    from .reconcile import agent_reconcile

    return agent_reconcile()


# The name predates the move from apps.conversations.tasks: kept so queued tasks still run.
@shared_task(name="apps.conversations.tasks.conversation_bot_turn", acks_late=True, ignore_result=True,
             autoretry_for=(Exception,), retry_backoff=5, retry_backoff_max=120, retry_jitter=True, max_retries=6)
def conversation_bot_turn(conversation_id: int, message_id: int) -> None:
    """One AI Agent turn. The turn hands the customer to a human on any error of its own, so what
    escapes here is the database or the process failing: retry with backoff (the turn is
    idempotent, and the agent's periodic reconcile re-enqueues whatever still gets lost)."""
    from .services import agent_handle_message

    agent_handle_message(conversation_id=conversation_id, message_id=message_id)


def on_message_received(event) -> None:
    """``message.received`` subscriber: the AI Agent answers while the chat is with the bot."""
    if event.extra.get("status") == "bot":
        conversation_bot_turn.delay(event.conversation_id, event.message_id)
