"""Demo: cost settings and business hours for FibraSur, then rollups built from the seeded history.

The core seed writes each historical conversation's events and messages with one shared
timestamp and keeps CSAT only on the conversation row. Reports read the event log, so this seed
spreads those rows over the times the core already put on the conversation (queued, assigned,
first human reply, archived) and appends the missing ``rated`` events. It only touches seeded
conversations whose log still has a single timestamp, so running it again changes nothing.
"""
from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Count, Max, Min


def seed(out=None) -> None:
    from apps.departments.models import Department

    from apps.routing.models import BusinessHours, DepartmentRouting

    from .models import CostSettings
    from .rollups import reports_rebuild

    if not CostSettings.objects.exists():
        CostSettings(currency="USD", operator_seat_monthly_cost=Decimal("1200"),
                     collaborator_hourly_cost=Decimal("9.50"), platform_monthly_cost=Decimal("450"),
                     ai_cost_per_1k_tokens=Decimal("0.002"), ai_cost_per_conversation=Decimal("0.03")).save()
    # Office hours for the back-office departments (routing's schedule, which the reports read;
    # routing follows it only where "follow business hours" is on).
    for dept in Department.objects.filter(slug__in=["sales", "collections", "cancellations"]):
        cfg, _ = DepartmentRouting.objects.get_or_create(department=dept)
        if not cfg.hours.exists():
            BusinessHours.objects.bulk_create(
                [BusinessHours(routing=cfg, weekday=d, start=time(8), end=time(20)) for d in range(5)]
                + [BusinessHours(routing=cfg, weekday=5, start=time(9), end=time(13))])
    spread = _spread_seeded_history()
    _operator_activity()
    result = reports_rebuild()
    if out is not None:
        out.write(f"  reports: spread {spread} seeded logs; {result['conversations']} conversations in "
                  f"{result['buckets']} buckets\n")


@transaction.atomic
def _spread_seeded_history() -> int:
    from apps.conversations.models import Conversation, ConversationEvent, Message

    flat = (ConversationEvent.objects.values("conversation_id")
            .annotate(lo=Min("created_at"), hi=Max("created_at"), n=Count("id"))
            .filter(n__gt=1).values_list("conversation_id", "lo", "hi"))
    ids = [cid for cid, lo, hi in flat if lo == hi]
    done = 0
    for conv in Conversation.objects.filter(pk__in=ids):
        t = conv.created_at
        when = {
            "handoff": t + timedelta(seconds=20), "queued": conv.queued_at or t + timedelta(seconds=40),
            "assigned": conv.assigned_at, "started": conv.first_human_reply_at, "archived": conv.archived_at,
        }
        for kind, at in when.items():
            if at is not None:
                ConversationEvent.objects.filter(conversation=conv, kind=kind).update(created_at=at)
        Message.objects.filter(conversation=conv, author_kind="ai_agent").update(created_at=t + timedelta(seconds=4))
        if conv.first_human_reply_at:
            Message.objects.filter(conversation=conv, author_kind="human").update(created_at=conv.first_human_reply_at)
        if conv.csat_score and conv.archived_at and not conv.events.filter(kind="rated").exists():
            ConversationEvent.objects.create(conversation=conv, kind="rated", actor_kind="customer",
                                             from_status="archived", to_status="archived",
                                             payload={"score": conv.csat_score})
            ConversationEvent.objects.filter(conversation=conv, kind="rated").update(
                created_at=conv.archived_at + timedelta(minutes=2))
        done += 1
    return done


def _operator_activity() -> None:
    """Laura (Operator) rebalances a few open chats today, through the real service."""
    from django.contrib.auth import get_user_model

    from apps.conversations import services
    from apps.conversations.models import Conversation, ConversationEvent, Status

    User = get_user_model()
    laura = User.objects.filter(username="laura").first()
    if laura is None or ConversationEvent.objects.filter(kind="reassigned", actor=laura).exists():
        return
    for conv in Conversation.objects.filter(status__in=[Status.ASSIGNED, Status.IN_PROGRESS],
                                            department__slug="technical-support").order_by("pk")[:3]:
        other = User.objects.filter(memberships__department=conv.department).exclude(pk=conv.assignee_id) \
            .order_by("username").first()
        if other is not None:
            services.conversation_reassign(conversation=conv, assignee=other, actor=laura,
                                           reason="Balancing the technical support load")
