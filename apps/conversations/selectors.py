"""Reads for pages and APIs, always starting from the visibility module."""
from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from apps.departments.names import language_code

from . import access
from .models import ACTIVE_HUMAN_STATUSES, Conversation, Message, Status

LIST_LIMIT = 50


def _base(qs: QuerySet) -> QuerySet:
    return qs.select_related("contact", "department", "assignee", "channel")


def conversation_list(user, *, status: str = "", department: str = "", q: str = "") -> QuerySet:
    qs = _base(access.conversations_visible_to(user, "view"))
    if status:
        qs = qs.filter(status=status)
    if department.isdigit():
        qs = qs.filter(department_id=int(department))
    if q:
        qs = qs.filter(contact__name__icontains=q) if not q.isdigit() else qs.filter(pk=int(q))
    return qs.order_by("-updated_at", "-id")


def conversation_messages(conversation: Conversation, *, include_internal: bool = True) -> QuerySet:
    qs = Message.objects.filter(conversation=conversation).select_related("author")
    return qs if include_internal else qs.filter(is_internal=False)


def customer_history(user, conversation: Conversation) -> QuerySet:
    """The customer's other conversations that this user may see (visibility decides)."""
    return (access.conversations_visible_to(user, "view").filter(contact_id=conversation.contact_id)
            .exclude(pk=conversation.pk).select_related("department", "assignee").order_by("-created_at")[:20])


# The four handoff triggers of the AI Agent (and its failure), as people read them.
HANDOFF_TRIGGER_LABELS = {
    "low_confidence": _("Low confidence"),
    "negative_sentiment": _("Sustained negative sentiment"),
    "out_of_scope": _("Out-of-scope intent"),
    "explicit_request": _("Explicit request for a human"),
    "agent_error": _("AI Agent failure"),
}


def _topic_for_reader(ctx: dict) -> str:
    """The handoff's topic in the reader's language (the AI Agent stores it per language), else as stored."""
    code = language_code()
    names = ctx.get("topic_names") if isinstance(ctx.get("topic_names"), dict) else {}
    return names.get(code) or ctx.get("topic_name") or ctx.get("intent") or ""


def handoff_card(conversation: Conversation) -> dict | None:
    """The context card a human sees at the top of a handed-off chat, in words rather than codes.

    ``conversation.handoff`` keeps the raw context the AI Agent wrote (trigger, intent/topic, scores,
    collected data, language); this turns it into labels and percentages for the page.
    """
    ctx = conversation.handoff or {}
    if not ctx:
        return None
    trigger = ctx.get("trigger") or ""
    scores = ctx.get("scores") or {}

    def pct(key: str) -> str:
        value = scores.get(key)
        return f"{round(float(value) * 100)}%" if isinstance(value, (int, float)) else ""

    sentiment = scores.get("sentiment")
    figures = [(label, value) for label, value in (
        (_("Answer confidence"), pct("confidence")),
        (_("In scope"), pct("scope")),
        (_("Asked for a human"), pct("explicit_request")),
        (_("Sentiment (−1 to 1)"), f"{float(sentiment):+.2f}" if isinstance(sentiment, (int, float)) else ""),
    ) if value]
    negatives = scores.get("negatives_in_window")
    window = scores.get("sentiment_window") or []
    if trigger == "negative_sentiment" and isinstance(negatives, int) and window:
        figures.append((_("Negative messages in the window"), f"{negatives} / {len(window)}"))
    return {
        "trigger": trigger,
        "trigger_label": HANDOFF_TRIGGER_LABELS.get(trigger, trigger or "—"),
        # the customer tried to change the AI Agent's instructions (``policy.overrides_instructions``)
        "warning": _("The customer tried to override the AI Agent's instructions: check any request in the "
                     "chat before acting on it.") if ctx.get("instructions_override") else "",
        # what the customer asked about that no help page mentions (a product, another company)
        "not_in_pages": [str(v) for v in (ctx.get("not_in_pages") or [])][:5],
        "intent": _topic_for_reader(ctx),
        "collected": [(str(k).replace("_", " ").capitalize(), v) for k, v in (ctx.get("collected") or {}).items()],
        "language": {"es": _("Spanish"), "en": _("English")}.get(ctx.get("language") or "", ctx.get("language") or ""),
        "scores": figures,
    }
