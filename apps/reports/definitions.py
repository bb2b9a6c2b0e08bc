"""Metric vocabulary in one place: counters kept in the rollups, triggers, resolutions, benchmarks.

Every report figure is a ratio of these counters, so a figure can always be traced back to the
ConversationEvent log and the messages that produced it (see ``facts.py``).
"""
from __future__ import annotations

from django.utils.translation import gettext_lazy as _

AI_AGENT_KEY = 0  # the agent dimension of a bucket: 0 = no human ever owned the chat (the AI Agent row)
NO_DEPARTMENT = 0

# Counters per conversation, attributed to its final department/assignee.
CONVERSATION_COUNTERS = (
    "conversations", "archived", "resolved",
    "bot_closed", "defl_confirmed", "defl_assumed", "defl_abandoned",
    "handed_off", "ph_resolved", "ph_transferred", "ph_reopened", "ph_other",
    "ho_low_confidence", "ho_negative_sentiment", "ho_out_of_scope", "ho_explicit_request", "ho_other",
    "reopened", "archived_ever", "reassigned", "human_handled", "reassign_events", "transfer_events",
    "rated", "csat_sum", "csat_good", "ai_tokens", "ai_untracked",
)
# Counters per assignment span, attributed to the assignee and the department at that time.
AGENT_COUNTERS = ("assignments", "frt_count", "frt_sum", "frt_le_target", "handled", "handling_seconds")
COUNTERS = CONVERSATION_COUNTERS + AGENT_COUNTERS

HANDOFF_TRIGGERS = {
    "low_confidence": _("Low confidence"),
    "negative_sentiment": _("Sustained negative sentiment"),
    "out_of_scope": _("Out-of-scope intent"),
    "explicit_request": _("Explicit request for a human"),
    "other": _("Other / unspecified"),
}

# Archive resolutions written by the AI Agent / sweeps (agent helper) and by humans.
CONFIRMED_RESOLUTIONS = {"confirmed", "bot_confirmed", "customer_confirmed"}
ASSUMED_RESOLUTIONS = {"assumed", "bot_assumed", "idle", "bot_idle"}
NOT_RESOLVED_RESOLUTIONS = {"abandoned", "bot_abandoned", "spam", "duplicate", "unresolved", "no_reply"}

# First-response targets by channel kind, in seconds (the benchmark shown beside the figure).
FRT_TARGET_SECONDS = {"webchat": 60, "whatsapp": 300, "messenger": 300, "instagram": 300, "api": 300,
                      "email": 4 * 3600}

SLOT_SECONDS = 15 * 60  # Operator activity is kept in 15-minute slots (96 per day)


def assumed_idle_seconds() -> int:
    """How long the customer must stay quiet after the AI Agent's last answer to count as 'assumed'
    (defined by the AI Agent, whose idle-bot reconcile uses the same threshold)."""
    from apps.agent.reconcile import assumed_idle_seconds as agent_assumed_idle_seconds

    return agent_assumed_idle_seconds()


# Healthy ranges: (low, high) as fractions or seconds; None = unbounded.
BENCHMARKS = {
    "deflection": (0.60, 0.75),
    "frt_webchat": (None, 60),
    "frt_whatsapp": (None, 300),
    "csat": (0.85, None),
    "utilization": (0.60, 0.80),
    "reassignment": (None, 0.05),
}


def flag(value, key: str) -> str:
    """'ok', 'low', 'high', or '' when there is no figure."""
    if value is None:
        return ""
    low, high = BENCHMARKS[key]
    if low is not None and value < low:
        return "low"
    if high is not None and value > high:
        return "high"
    return "ok"


def frt_flag(per_kind: dict[str, tuple[int, int]]) -> str:
    """The first-response flag of a table row that may mix channels: {kind: (frt_sum, frt_count)}.

    Each channel kind's average is held to its own target (web chat 60 s, WhatsApp 300 s, ...);
    the row is 'high' when any kind with responses is over its target, 'ok' when none is, and ''
    when the row has no first response at all.
    """
    out = ""
    for kind, (total, count) in sorted(per_kind.items()):
        if not count:
            continue
        bench = BENCHMARKS.get(f"frt_{kind}") or (None, FRT_TARGET_SECONDS.get(kind, 300))
        verdict = "high" if bench[1] is not None and total / count > bench[1] else "ok"
        if verdict == "high":
            return "high"
        out = verdict
    return out
