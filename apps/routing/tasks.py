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
