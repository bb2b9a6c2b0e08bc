"""The conversation's timeline: messages and the lifecycle events between them, in time order.

Each ``ConversationEvent`` a person cares about (handoff, queue, assignment, transfer, escalation,
requeue, archive...) becomes one compact sentence in the reader's language, so "why is this chat
here?" is answered in the conversation itself, not in the admin.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from apps.conversations.models import Conversation, ConversationEvent, Message

from .rows import snooze_label

Kind = ConversationEvent.Kind

# Kinds shown in the timeline (a first reply or a rating already shows as a message / in the card).
SHOWN = {Kind.HANDOFF, Kind.QUEUED, Kind.ASSIGNED, Kind.PICKED_UP, Kind.REASSIGNED, Kind.TRANSFERRED,
         Kind.REQUEUED, Kind.ARCHIVED, Kind.REOPENED, Kind.SHARED, Kind.ESCALATION,
         Kind.SNOOZED, Kind.UNSNOOZED, Kind.WOKE}

TRIGGERS = {
    "low_confidence": lambda: _("low confidence"),
    "negative_sentiment": lambda: _("sustained negative sentiment"),
    "out_of_scope": lambda: _("out-of-scope question"),
    "explicit_request": lambda: _("the customer asked for a person"),
    "agent_error": lambda: _("AI Agent failure"),
}


@dataclass
class EventLine:
    kind: str
    text: str
    reason: str
    created_at: datetime
    pk: int
    is_event: bool = True


def _name(user) -> str:
    return (getattr(user, "public_name", "") or user.get_username()) if user else ""


def _actor(e: ConversationEvent) -> str:
    if e.actor_id:
        return _name(e.actor)
    return {"ai_agent": _("The AI Agent"), "customer": _("The customer")}.get(e.actor_kind, _("The system"))


def _payload_time(e: ConversationEvent, key: str) -> datetime | None:
    try:
        return datetime.fromisoformat((e.payload or {}).get(key) or "")
    except (TypeError, ValueError):
        return None


def event_text(e: ConversationEvent) -> str:
    to_dept = str(e.to_department) if e.to_department_id else ""  # in the reader's language
    from_dept = str(e.from_department) if e.from_department_id else ""
    to_user = _name(e.to_assignee) if e.to_assignee_id else ""
    from_user = _name(e.from_assignee) if e.from_assignee_id else ""
    k = e.kind
    if k == Kind.HANDOFF:
        trigger = TRIGGERS.get((e.payload or {}).get("trigger", ""))
        if trigger:
            return _("The AI Agent handed the chat to %(dept)s (%(why)s).") % {"dept": to_dept, "why": trigger()}
        return _("The AI Agent handed the chat to %(dept)s.") % {"dept": to_dept}
    if k == Kind.QUEUED:
        return _("Entered the %(dept)s queue.") % {"dept": to_dept}
    if k == Kind.ASSIGNED:
        return _("Assigned to %(user)s.") % {"user": to_user}
    if k == Kind.PICKED_UP:
        return _("%(user)s picked up the chat.") % {"user": to_user or _actor(e)}
    if k == Kind.REASSIGNED:
        return _("%(actor)s reassigned the chat from %(from)s to %(to)s.") % {
            "actor": _actor(e), "from": from_user or "—", "to": to_user or "—"}
    if k == Kind.TRANSFERRED:
        return _("%(actor)s transferred the chat from %(from)s to %(to)s.") % {
            "actor": _actor(e), "from": from_dept or "—", "to": to_dept or "—"}
    if k == Kind.REQUEUED:
        return _("Returned to the %(dept)s queue.") % {"dept": to_dept}
    if k == Kind.ARCHIVED:
        return _("%(actor)s resolved and archived the chat.") % {"actor": _actor(e)}
    if k == Kind.REOPENED:
        return _("The chat was reopened.")
    if k == Kind.SHARED:
        return _("%(actor)s shared the chat with %(user)s.") % {"actor": _actor(e), "user": to_user or "—"}
    if k == Kind.ESCALATION:
        return _("An escalation rule fired.")
    if k == Kind.SNOOZED:
        until = _payload_time(e, "until")
        return _("Snoozed until %(when)s by %(actor)s.") % {
            "when": snooze_label(until, e.created_at) if until else "—", "actor": _actor(e)}
    if k == Kind.UNSNOOZED:
        return _("%(actor)s unsnoozed the chat.") % {"actor": _actor(e)}
    if k == Kind.WOKE:
        if (e.payload or {}).get("cause") == "customer":
            return _("Woke up: the customer wrote.")
        return _("Woke up: the snooze time passed.")
    return str(e.get_kind_display())


def conversation_timeline(conversation: Conversation, messages: list[Message]) -> list:
    """Messages and event lines merged by time (messages first on a tie: the event follows what caused it)."""
    events = (ConversationEvent.objects.filter(conversation=conversation, kind__in=SHOWN)
              .select_related("actor", "to_department", "from_department", "to_assignee", "from_assignee"))
    lines = [EventLine(kind=e.kind, text=event_text(e), reason=e.reason if e.actor_id or e.kind in (
        Kind.TRANSFERRED, Kind.REASSIGNED, Kind.ESCALATION, Kind.REQUEUED) else "", created_at=e.created_at, pk=e.pk)
        for e in events]
    items: list = [*messages, *lines]
    items.sort(key=lambda x: (x.created_at, 1 if getattr(x, "is_event", False) else 0, x.pk))
    return items
