"""Copilot figures for reports: handle time of chats with and without the copilot."""
from __future__ import annotations

from statistics import median

from apps.conversations.models import Conversation

from .models import CopilotSuggestion

SENDABLE = (CopilotSuggestion.Kind.REPLY, CopilotSuggestion.Kind.REWRITE)


def _figures(seconds: list[float]) -> dict:
    return {"conversations": len(seconds),
            "aht_seconds": round(sum(seconds) / len(seconds), 1) if seconds else None,
            "median_seconds": round(median(seconds), 1) if seconds else None}


def copilot_aht(*, start, end, departments=None) -> dict:
    """Average handle time (assigned -> archived) of chats archived in [start, end).

    ``with_copilot``: the chat's assignee (whose handle time this is) was shown at least one
    suggested reply or rewrite in it; an Operator or a colleague looking at the chat does not make
    it a copilot chat. ``used_copilot``: the assignee sent at least one as is or edited (a subset of
    with_copilot); ``without_copilot``: the rest. Plus the outcome counts of the assignees'
    suggestions in those chats."""
    chats = Conversation.objects.filter(archived_at__gte=start, archived_at__lt=end, assigned_at__isnull=False)
    if departments is not None:
        chats = chats.filter(department_id__in=list(departments))
    rows = list(chats.values_list("pk", "assigned_at", "archived_at", "assignee_id"))
    assignee = {r[0]: r[3] for r in rows}
    shown, used = set(), set()
    outcomes: dict[str, int] = {}
    for conv_id, user_id, outcome in CopilotSuggestion.objects.filter(
            conversation_id__in=list(assignee), kind__in=SENDABLE).values_list("conversation_id", "user_id", "outcome"):
        if user_id is None or user_id != assignee.get(conv_id):
            continue
        shown.add(conv_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome in (CopilotSuggestion.Outcome.USED, CopilotSuggestion.Outcome.EDITED):
            used.add(conv_id)
    with_s, without_s, used_s = [], [], []
    for pk, assigned, archived, _assignee in rows:
        seconds = max(0.0, (archived - assigned).total_seconds())
        (with_s if pk in shown else without_s).append(seconds)
        if pk in used:
            used_s.append(seconds)
    return {"with_copilot": _figures(with_s), "without_copilot": _figures(without_s),
            "used_copilot": _figures(used_s), "suggestion_outcomes": outcomes}
