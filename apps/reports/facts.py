"""Each metric's definition, as a pure function of one conversation's event log and messages.

``conversation_contrib`` returns what a conversation adds to the daily buckets. Everything else
(rollups, dashboard, API, CSV) only sums these numbers, so this file *is* the metric catalogue:

Conversation-level counters go to the bucket (day the conversation started, its final department,
its channel, its final human assignee or 0 = the AI Agent when no human ever owned it):

- deflection (AI Agent): a conversation closed without ever leaving the bot (no handoff, transfer
  or human assignment) is *abandoned* (not resolved) when the customer rated it 1-3, whatever the
  resolution says: a low rating is the customer saying the bot did not solve it. Otherwise it is
  *confirmed* when the customer rated it 4-5 or confirmed (archive resolution in
  CONFIRMED_RESOLUTIONS); *assumed* when the resolution says so or the customer stayed quiet for
  the configured idle time after the AI Agent's last answer; otherwise *abandoned*.
  Deflection rate = (confirmed + assumed) / closed conversations.
- post-handoff resolution: for handed-off conversations, *reopened* if reopened afterwards, else
  *transferred again* if a person (actor_kind "human") transferred it after the handoff, else
  *resolved* if archived by a human, else *other* (closed by the system). Routing's own moves
  (out of hours to the backup department, unpicked chats escalated to the backup) are system
  transfers and never count as "transferred again". Rate = resolved / (all four).
- handoffs by trigger: one count per handoff event, by ``payload["trigger"]``.
- reopen rate = conversations with a reopen / conversations archived at least once.
- reassignment = conversations a person moved (a ``reassigned`` event, or a department transfer
  whose actor is a human) / conversations a human handled (``human_handled``: a human was
  assigned or moved it). Bot-only conversations are in neither, so deflection does not dilute it.
- CSAT: the customer's rating (rated event); share of 4-5 and average over rated conversations
  only (a conversation without a rating is not a zero).
- AI usage: tokens recorded in agent_decision payloads (``usage.total_tokens`` or prompt +
  completion, or ``tokens``); conversations the AI took part in without recorded usage are
  counted for the configured per-conversation cost.

Agent-level counters go to (that same day, department at assignment, channel, the assignee):

- first response time: per assignment (assigned / picked_up / reassigned to a human), the
  business-hours time until that human's first public message (AI, system, internal notes and
  other people's messages never count). An assignment that ends unanswered has no sample.
- chats handled: conversations in which the human sent at least one public message.
- handling seconds: wall-clock length of closed assignment spans (Collaborator hours for cost
  when presence data is absent).

Nothing here reads the clock, so a recomputation always gives the same numbers.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings

from .business_hours import ScheduleBook, business_seconds
from .definitions import (AI_AGENT_KEY, ASSUMED_RESOLUTIONS, CONFIRMED_RESOLUTIONS, FRT_TARGET_SECONDS,
                          HANDOFF_TRIGGERS, NOT_RESOLVED_RESOLUTIONS, SLOT_SECONDS)

EVENT_FIELDS = ("id", "conversation_id", "kind", "actor_kind", "actor_id", "to_department_id", "to_assignee_id",
                "payload", "created_at")
MESSAGE_FIELDS = ("id", "conversation_id", "author_kind", "author_id", "is_internal", "created_at")
CONVERSATION_FIELDS = ("id", "channel_id", "channel__kind", "created_at", "status", "department_id", "assignee_id",
                       "resolution")

ASSIGNING = {"assigned", "picked_up", "reassigned"}
SPAN_ENDING = {"transferred", "requeued", "archived", "reopened", "queued", "handoff"}


@dataclass
class Ev:
    id: int
    conversation_id: int
    kind: str
    actor_kind: str
    actor_id: int | None
    to_department_id: int | None
    to_assignee_id: int | None
    payload: dict
    created_at: datetime


@dataclass
class Msg:
    id: int
    conversation_id: int
    author_kind: str
    author_id: int | None
    is_internal: bool
    created_at: datetime


@dataclass
class Conv:
    id: int
    channel_id: int
    channel_kind: str
    created_at: datetime
    status: str
    department_id: int | None
    assignee_id: int | None
    resolution: str


@dataclass
class _Span:
    agent: int
    department: int
    start: datetime
    end: datetime | None = None
    first_reply: datetime | None = None


@dataclass
class Context:
    """What a batch of computations shares: schedules, idle time, the local time zone."""

    schedules: ScheduleBook = field(default_factory=ScheduleBook)
    idle_seconds: int = 0
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(settings.TIME_ZONE))

    def __post_init__(self):
        if not self.idle_seconds:
            from .definitions import assumed_idle_seconds

            self.idle_seconds = assumed_idle_seconds()


def tokens_of(payload: dict[str, Any]) -> int:
    usage = payload.get("usage") if isinstance(payload, dict) else None
    try:
        if isinstance(usage, dict):
            if usage.get("total_tokens") is not None:
                return max(0, int(usage["total_tokens"]))
            return max(0, int(usage.get("prompt_tokens") or 0) + int(usage.get("completion_tokens") or 0))
        if isinstance(payload, dict) and payload.get("tokens") is not None:
            return max(0, int(payload["tokens"]))
    except (TypeError, ValueError):
        return 0
    return 0


def trigger_key(payload: dict) -> str:
    trigger = (payload or {}).get("trigger") or ""
    return trigger if trigger in HANDOFF_TRIGGERS and trigger != "other" else "other"


def conversation_contrib(conv: Conv, events: list[Ev], messages: list[Msg], ctx: Context) -> list[list]:
    """The buckets this conversation adds to: ``[[day_ordinal, dept, channel, agent, {counter: n}], ...]``."""
    events = sorted(events, key=lambda e: (e.created_at, e.id))
    public = sorted((m for m in messages if not m.is_internal and m.author_kind != "system"),
                    key=lambda m: (m.created_at, m.id))
    day = conv.created_at.astimezone(ctx.tz).date().toordinal()
    c: dict[str, int] = defaultdict(int)
    c["conversations"] = 1
    kinds = [e.kind for e in events]

    # --- assignment spans (agent-level) -----------------------------------------------------
    spans: list[_Span] = []
    current: _Span | None = None
    department = None
    for e in events:
        if e.to_department_id:
            department = e.to_department_id
        if current and (e.kind in ASSIGNING or e.kind in SPAN_ENDING):
            current.end = e.created_at
            current = None
        if e.kind in ASSIGNING and e.to_assignee_id:
            current = _Span(agent=e.to_assignee_id, department=e.to_department_id or department or 0,
                            start=e.created_at)
            spans.append(current)
    human_ever = bool(spans)
    for span in spans:
        for m in public:
            if m.author_kind == "human" and m.author_id == span.agent and m.created_at >= span.start \
                    and (span.end is None or m.created_at <= span.end):
                span.first_reply = m.created_at
                break

    # --- conversation-level -------------------------------------------------------------------
    handoffs = [e for e in events if e.kind == "handoff"]
    for e in handoffs:
        c["ho_" + trigger_key(e.payload)] += 1
    handed_off = bool(handoffs)
    transferred = "transferred" in kinds
    archived_now = conv.status == "archived"
    last_archive = next((e for e in reversed(events) if e.kind == "archived"), None)
    resolution = conv.resolution or ((last_archive.payload or {}).get("resolution", "") if last_archive else "")
    rating = next((e for e in reversed(events) if e.kind == "rated"), None)
    score = (rating.payload or {}).get("score") if rating else None

    if archived_now:
        c["archived"] = 1
    if last_archive is not None:
        c["archived_ever"] = 1
    if "reopened" in kinds:
        c["reopened"] = 1
    c["reassign_events"] = kinds.count("reassigned")
    c["transfer_events"] = kinds.count("transferred")
    human_transfers = [e for e in events if e.kind == "transferred" and e.actor_kind == "human"]
    if c["reassign_events"] or human_transfers:
        c["reassigned"] = 1
    if human_ever or c["reassigned"]:
        c["human_handled"] = 1
    if isinstance(score, int) and 1 <= score <= 5:
        c["rated"], c["csat_sum"] = 1, score
        c["csat_good"] = 1 if score >= 4 else 0

    bot_only = not handed_off and not transferred and not human_ever
    outcome = ""
    if bot_only and archived_now:
        c["bot_closed"] = 1
        outcome = _deflection(resolution, score if c["rated"] else None, public, last_archive, ctx)
        c["defl_" + outcome] = 1
    if handed_off:
        c["handed_off"] = 1
        first = handoffs[0]
        after = [e for e in events if (e.created_at, e.id) > (first.created_at, first.id)]
        if any(e.kind == "reopened" for e in after):
            c["ph_reopened"] = 1
        elif any(e.kind == "transferred" and e.actor_kind == "human" for e in after):
            c["ph_transferred"] = 1
        elif archived_now and last_archive is not None and last_archive.actor_kind == "human":
            c["ph_resolved"] = 1
        elif archived_now:
            c["ph_other"] = 1
    if archived_now and outcome != "abandoned" and resolution not in NOT_RESOLVED_RESOLUTIONS:
        c["resolved"] = 1

    tokens = sum(tokens_of(e.payload) for e in events if e.kind == "agent_decision")
    ai_took_part = tokens or any(m.author_kind == "ai_agent" for m in public) or "agent_decision" in kinds
    c["ai_tokens"] = tokens
    if ai_took_part and not tokens:
        c["ai_untracked"] = 1

    final_agent = conv.assignee_id if (human_ever and conv.assignee_id) else (
        spans[-1].agent if spans else AI_AGENT_KEY)
    out: dict[tuple, dict[str, int]] = {}
    _add(out, (day, conv.department_id or 0, conv.channel_id, final_agent), c)

    # --- agent-level --------------------------------------------------------------------------
    target = FRT_TARGET_SECONDS.get(conv.channel_kind, 300)
    handled_by: dict[int, int] = {}
    for span in spans:
        a: dict[str, int] = defaultdict(int)
        a["assignments"] = 1
        if span.first_reply is not None:
            seconds = round(business_seconds(span.start, span.first_reply, ctx.schedules.for_department(span.department)))
            a["frt_count"], a["frt_sum"] = 1, seconds
            a["frt_le_target"] = 1 if seconds <= target else 0
        if span.end is not None:
            a["handling_seconds"] = round((span.end - span.start).total_seconds())
        handled_by.setdefault(span.agent, span.department)
        _add(out, (day, span.department, conv.channel_id, span.agent), a)
    repliers = {m.author_id for m in public if m.author_kind == "human" and m.author_id}
    for agent in sorted(repliers):
        _add(out, (day, handled_by.get(agent, conv.department_id or 0), conv.channel_id, agent), {"handled": 1})
    return [[*key, counters] for key, counters in sorted(out.items())]


def _deflection(resolution: str, score: int | None, public: list[Msg], last_archive: Ev | None,
                ctx: Context) -> str:
    if score is not None and score < 4:
        return "abandoned"  # rated 1-3: the customer says it was not solved, whatever the resolution
    if score is not None or resolution in CONFIRMED_RESOLUTIONS:
        return "confirmed"
    if resolution in ASSUMED_RESOLUTIONS:
        return "assumed"
    last = public[-1] if public else None
    if last is not None and last.author_kind == "ai_agent" and last_archive is not None \
            and (last_archive.created_at - last.created_at).total_seconds() >= ctx.idle_seconds:
        return "assumed"
    return "abandoned"


def _add(out: dict, key: tuple, counters: dict[str, int]) -> None:
    bucket = out.setdefault(key, {})
    for name, value in counters.items():
        if value:
            bucket[name] = bucket.get(name, 0) + int(value)
    if not bucket:
        out.pop(key)


def activity_slots(rows, tz: ZoneInfo) -> dict[tuple[int, int], tuple[int, int]]:
    """(user, day_ordinal) -> (lo bits, hi bits) for rows of (user_id, created_at)."""
    out: dict[tuple[int, int], list[int]] = {}
    for user_id, created_at in rows:
        if not user_id:
            continue
        local = created_at.astimezone(tz)
        slot = (local.hour * 3600 + local.minute * 60 + local.second) // SLOT_SECONDS
        bits = out.setdefault((user_id, local.date().toordinal()), [0, 0])
        if slot < 48:
            bits[0] |= 1 << slot
        else:
            bits[1] |= 1 << (slot - 48)
    return {k: (v[0], v[1]) for k, v in out.items()}
