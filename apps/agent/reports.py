"""The AI Agent's contribution to the reports: knowledge gaps, what customers asked about that no help page
mentions (``compose.unknown_subjects``, on the turn's ``agent_decision`` event). Registered in
``AgentConfig.ready`` through ``apps.core.report_tables``; reports does not import the agent."""
from __future__ import annotations

from django.utils import timezone

MAX_EVENTS = 20000  # the most recent decisions read for one report (a gap asked more often shows anyway)
EXAMPLE_CHARS = 160


def knowledge_gap_rows(f) -> list[dict]:
    """One row per thing asked about (the word as customers wrote it, folded together case-insensitively):
    how many conversations started in the range asked about it, when it was last asked, and the last
    question that asked it. Narrowed by the same department / channel / agent filters as the other
    tables (agent = the assignee; the AI Agent's key selects chats never assigned to a person). Most
    asked first: what the content team should write next."""
    from apps.conversations.models import ConversationEvent, Message
    from apps.core.report_tables import conversations_in

    events = ConversationEvent.objects.filter(kind=ConversationEvent.Kind.AGENT_DECISION,
                                              payload__has_key="unknown_subjects",
                                              **conversations_in(f, "conversation__"))
    rows: dict[str, dict] = {}
    # only the two payload keys the table needs, not the decision's scores
    for conversation_id, words, message_id, created_at in events.order_by("-created_at", "-id").values_list(
            "conversation_id", "payload__unknown_subjects", "payload__message_id", "created_at")[:MAX_EVENTS]:
        for word in words if isinstance(words, list) else []:
            if not isinstance(word, str) or not word.strip():
                continue
            row = rows.setdefault(word.strip().lower(), {"subject": word.strip().lower(), "conversations": set(),
                                                         "last_asked": created_at, "message_id": message_id})
            row["conversations"].add(conversation_id)
    bodies = dict(Message.objects.filter(pk__in=[r["message_id"] for r in rows.values() if r["message_id"]])
                  .values_list("pk", "body"))
    out = []
    for row in rows.values():
        body = " ".join((bodies.get(row["message_id"]) or "").split())
        out.append({"subject": row["subject"], "conversations": len(row["conversations"]),
                    "last_asked": timezone.localtime(row["last_asked"]).date(),
                    "example": body if len(body) <= EXAMPLE_CHARS else body[:EXAMPLE_CHARS - 1].rstrip() + "…"})
    out.sort(key=lambda r: (-r["conversations"], r["subject"]))
    return out
