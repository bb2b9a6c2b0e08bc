"""Thin, restart-safe routing tasks (DESIGN.md invariant 3): the sweep reads its work from the database."""
from __future__ import annotations

from celery import shared_task


@shared_task(name="routing.sweep", acks_late=True, ignore_result=True)
def routing_sweep() -> dict:
    """Periodic (Celery beat, see ``CELERY_BEAT_SCHEDULE``): escalations, presence grace, waiting chats.

    Overlapping runs are safe: due rows are claimed with SKIP LOCKED and a conditional UPDATE.
    """
    from .sweep import sweep

    return sweep()


@shared_task(name="routing.agent_available", acks_late=True, ignore_result=True)
def routing_agent_available(user_id: int) -> None:
    from .services import routing_agent_available as run

    run(user_id=user_id)


# The name predates the move from apps.conversations.tasks: kept so queued tasks still run.
@shared_task(name="apps.conversations.tasks.conversation_route", acks_late=True, ignore_result=True)
def conversation_route(conversation_id: int) -> None:
    from .services import routing_conversation_arrived

    routing_conversation_arrived(conversation_id=conversation_id)


def on_needs_routing(event) -> None:
    """``conversation.needs_routing`` subscriber (after commit): route the chat in a task."""
    conversation_route.delay(event.conversation_id)


def on_assignee_released(event) -> None:
    """``assignee.released`` subscriber (after commit): offer the freed slot its next chat."""
    from .services import agent_available_enqueue

    agent_available_enqueue(event.extra["user_id"])
