"""Copilot actions: draft a reply, search the KB, summarise, rewrite; record what became of them.

Every action takes a conversation the caller already fetched through
``apps.conversations.access.conversation_get_or_404`` (the views do it), and retrieval is scoped
here, once, by :func:`knowledge_departments` (documents limited to other departments never reach a
Collaborator) and :func:`previous_conversations` (the same contact, and only chats the user may
see). Suggestions are never sent: the human inserts, edits and sends them through the normal reply
service.
"""
from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations import access
from apps.conversations.models import AuthorKind, Conversation, Message, Status
from apps.roles.access import is_operator

from . import local
from .models import CopilotSettings, CopilotSuggestion

log = logging.getLogger(__name__)

Kind = CopilotSuggestion.Kind
Outcome = CopilotSuggestion.Outcome
SENDABLE = (Kind.REPLY, Kind.REWRITE)
USED_AT = 0.95     # similarity of the sent text to the suggestion: at least this = used as is
EDITED_AT = 0.5    # at least this = edited, then used; below = ignored
MIN_RELEVANCE = 0.12
REWRITE_STYLES = ("formal", "shorter", "translate")


class CopilotError(Exception):
    """A bad request to the copilot (shown to the user as is)."""


@dataclass
class Result:
    kind: str
    text: str = ""
    sources: list[dict] = field(default_factory=list)
    provider: str = "local"
    note: str = ""
    suggestion: CopilotSuggestion | None = None
    extra: dict = field(default_factory=dict)


# --- switches and scope -------------------------------------------------------------------------

def provider_name() -> str:
    """"openai" only when chosen and configured (a key or a compatible server's URL), else "local"."""
    name = (getattr(settings, "COPILOT_PROVIDER", "") or getattr(settings, "AGENT_PROVIDER", "local") or "local").lower()
    configured = bool(getattr(settings, "OPENAI_API_KEY", "") or getattr(settings, "OPENAI_BASE_URL", ""))
    return "openai" if name == "openai" and configured else "local"


def _fallback_note() -> str:
    return _("The OpenAI model did not answer; this is the offline version.")


def copilot_enabled(conversation: Conversation) -> bool:
    if not conversation.department_id:
        return False
    return CopilotSettings.objects.filter(department_id=conversation.department_id, enabled=True).exists()


def copilot_available(user, conversation: Conversation) -> bool:
    """Operators and Collaborators (anyone holding a department) in a department with the switch on.
    The caller has already checked the user may see the conversation."""
    if not copilot_enabled(conversation):
        return False
    return is_operator(user) or access.departments_for(user).exists()


def knowledge_departments(user, conversation: Conversation) -> list[int] | None:
    """The ``departments`` filter for every KB retrieval of this user in this chat.

    Collaborators: the conversation's department when they work in it, else only their own
    departments; never a department they do not belong to. Operators: the conversation's
    department (everything when it has none). Unrestricted documents are always in scope."""
    if is_operator(user):
        return [conversation.department_id] if conversation.department_id else None
    mine = set(access.departments_for(user).values_list("pk", flat=True))
    if conversation.department_id in mine:
        return [conversation.department_id]
    return sorted(mine)


def allowed_documents(user, conversation: Conversation) -> list[int]:
    from apps.knowledge.search import allowed_document_ids

    return allowed_document_ids(departments=knowledge_departments(user, conversation))


def previous_conversations(user, conversation: Conversation, limit: int = 10):
    """The same contact's other chats that this user may see (visibility decides, never the copilot)."""
    return (access.conversations_visible_to(user, "view").filter(contact_id=conversation.contact_id)
            .exclude(pk=conversation.pk).select_related("department").order_by("-created_at")[:limit])


def public_messages(conversation: Conversation, limit: int = 60) -> list[Message]:
    rows = list(Message.objects.filter(conversation=conversation, is_internal=False)
                .order_by("-created_at", "-id")[:limit])
    rows.reverse()
    return rows


def pending_question(messages: list[Message]) -> list[str]:
    """Customer messages since our last reply: what a human's reply should answer.

    The AI Agent's messages that come *after* the customer's last words (its handoff note, "I'll pass
    you to Support") answered nothing, so they are skipped: right after a handoff the question the
    bot could not answer is exactly what the human needs a draft for. A human reply, or an AI
    answer the customer has already read and replied to, ends the pending question.
    """
    out: list[str] = []
    for m in reversed(messages):
        if m.author_kind == AuthorKind.CUSTOMER:
            out.append(m.body)
        elif m.author_kind == AuthorKind.HUMAN:
            break
        elif m.author_kind == AuthorKind.AI_AGENT and out:
            break
    out.reverse()
    return out


def customer_language(conversation: Conversation) -> str:
    lang = (conversation.language or getattr(conversation.contact, "language", "") or "").split("-")[0]
    return lang if lang in ("en", "es") else ""


def _record(*, conversation, user, result: Result, started: float) -> Result:
    result.suggestion = CopilotSuggestion.objects.create(
        conversation=conversation, user=user, kind=result.kind, text=result.text, sources=result.sources,
        provider=result.provider, latency_ms=int((time.perf_counter() - started) * 1000))
    return result


def _openai():
    from . import remote

    return remote


# --- (1) suggested reply ------------------------------------------------------------------------

def suggest_reply(*, user, conversation: Conversation) -> Result:
    started = time.perf_counter()
    messages = public_messages(conversation)
    question = pending_question(messages)
    if not question:
        return Result(kind=Kind.REPLY, note=_("The customer has not written since the last reply."))
    reused = _pending_draft(user=user, conversation=conversation, messages=messages)
    if reused is not None:
        return reused
    query = " ".join(question)[-600:]
    language = customer_language(conversation)
    departments = knowledge_departments(user, conversation)
    hits, vector = _retrieve(query, departments=departments, language=language, k=4)
    if not hits or hits[0].relevance < MIN_RELEVANCE:
        return Result(kind=Kind.REPLY, note=_("Nothing in the knowledge base matches the customer's last message."))
    result = None
    if provider_name() == "openai":
        try:
            result = _openai().draft_reply(messages=messages, hits=hits, language=language)
        except _openai().RemoteError as exc:
            log.warning("copilot: OpenAI draft failed, offline draft instead: %s", exc)
    if result is None:
        from apps.agent.providers import compose_answer

        text, used = compose_answer(hits, vector)
        text = local.faq_answer(text)
        ordered = [used] + [h for h in hits if h.chunk_id != used.chunk_id]
        result = Result(kind=Kind.REPLY, text=text, sources=[_source(h) for h in ordered[:3]], provider="local",
                        note=_fallback_note() if provider_name() == "openai" else "")
    return _record(conversation=conversation, user=user, result=result, started=started)


def _pending_draft(*, user, conversation: Conversation, messages: list[Message]) -> Result | None:
    """The draft this user was already shown for the same pending question (no customer message
    since it was made), from the same provider: a panel refresh shows it again instead of logging
    a new suggestion, so the log counts what people were offered, not how often the panel loaded.
    A draft that fell back to the offline copilot is made again (the model may answer now)."""
    last = next((m for m in reversed(messages) if m.author_kind == AuthorKind.CUSTOMER), None)
    if last is None:
        return None
    row = (CopilotSuggestion.objects.filter(conversation=conversation, user=user, kind=Kind.REPLY,
                                            outcome=Outcome.PENDING, created__gte=last.created_at)
           .order_by("-created", "-id").first())
    if row is None or row.provider != provider_name():
        return None
    return Result(kind=Kind.REPLY, text=row.text, sources=list(row.sources or []), provider=row.provider,
                  suggestion=row)


def _retrieve(query: str, *, departments, language: str, k: int):
    from apps.knowledge.search import knowledge_embed_query, knowledge_search_vector

    vector = knowledge_embed_query(query)
    hits = knowledge_search_vector(vector, query=query, departments=departments, language=language or None, k=k)
    if not hits and language:
        hits = knowledge_search_vector(vector, query=query, departments=departments, language=None, k=k)
    return hits, vector


def _source(hit) -> dict:
    return {"chunk_id": hit.chunk_id, "document_id": hit.document_id, "title": hit.document_title,
            "heading": hit.heading, "score": round(float(hit.relevance or hit.score), 3),
            "excerpt": local.clip(hit.text, 280)}


# --- (2) knowledge search -----------------------------------------------------------------------

def search(*, user, conversation: Conversation, query: str, k: int = 5) -> list[dict]:
    from apps.knowledge.search import knowledge_search

    query = (query or "").strip()
    if not query:
        raise CopilotError(_("Type something to search for."))
    if len(query) > 500:
        raise CopilotError(_("The search is too long (500 characters at most)."))
    hits = knowledge_search(query, departments=knowledge_departments(user, conversation), k=k)
    return [_source(h) | {"text": h.text} for h in hits]


# --- (3) summaries ------------------------------------------------------------------------------

def summarise_conversation(*, user, conversation: Conversation) -> Result:
    started = time.perf_counter()
    messages = public_messages(conversation, limit=200)
    result = None
    if provider_name() == "openai" and messages:
        try:
            result = _openai().summarise(kind=Kind.SUMMARY, transcript=_transcript(messages))
        except _openai().RemoteError as exc:
            log.warning("copilot: OpenAI summary failed, offline summary instead: %s", exc)
    if result is None:
        result = Result(kind=Kind.SUMMARY, text=_local_summary(conversation, messages), provider="local",
                        note=_fallback_note() if provider_name() == "openai" else "")
    return _record(conversation=conversation, user=user, result=result, started=started)


def _transcript(messages: list[Message]) -> str:
    who = {AuthorKind.CUSTOMER: "Customer", AuthorKind.AI_AGENT: "AI agent", AuthorKind.HUMAN: "Agent"}
    return "\n".join(f"{who.get(m.author_kind, m.author_kind)}: {local.clip(m.body, 600)}" for m in messages[-80:])


def _local_summary(conversation: Conversation, messages: list[Message]) -> str:
    customer = [m.body for m in messages if m.author_kind == AuthorKind.CUSTOMER]
    ours = [m.body for m in messages if m.author_kind in (AuthorKind.HUMAN, AuthorKind.AI_AGENT)]
    if not customer:
        return _("The customer has not written anything yet.")
    lines = [_("Customer's request: %(text)s") % {"text": local.clip(customer[0], 200)}]
    key = [s for s in local.central_sentences(customer[1:], limit=3)]
    if key:
        lines.append(_("Key points: %(text)s") % {"text": " / ".join(local.clip(s, 120) for s in key)})
    handoff = conversation.handoff or {}
    if handoff.get("trigger"):
        lines.append(_("Handed off by the AI Agent (%(trigger)s).") % {"trigger": handoff["trigger"]})
    collected = handoff.get("collected") or {}
    if collected:
        lines.append(_("Data collected: %(data)s") % {"data": ", ".join(f"{k}: {v}" for k, v in collected.items())})
    if len(customer) > 1:
        lines.append(_("Last from the customer: %(text)s") % {"text": local.clip(customer[-1], 200)})
    if ours:
        lines.append(_("Last reply from us: %(text)s") % {"text": local.clip(ours[-1], 200)})
    lines.append(_("%(n)d messages; status: %(status)s.") % {"n": len(messages), "status": conversation.get_status_display()})
    return "\n".join(lines)


def summarise_history(*, user, conversation: Conversation) -> Result:
    started = time.perf_counter()
    previous = list(previous_conversations(user, conversation))
    if not previous:
        return Result(kind=Kind.HISTORY, note=_("No previous conversations of this customer that you can see."))
    first = {}
    for m in (Message.objects.filter(conversation_id__in=[c.pk for c in previous], author_kind=AuthorKind.CUSTOMER,
                                     is_internal=False).order_by("created_at", "id").only("conversation_id", "body")):
        first.setdefault(m.conversation_id, m.body)
    sources = [{"conversation_id": c.pk} for c in previous]
    result = None
    if provider_name() == "openai":
        try:
            block = "\n".join(f"#{c.pk} {c.created_at:%Y-%m-%d} {c.department or '-'} {c.status} {c.resolution}: "
                              f"{local.clip(c.handoff_summary or first.get(c.pk, ''), 300)}" for c in previous)
            result = _openai().summarise(kind=Kind.HISTORY, transcript=block)
            result.sources = sources
        except _openai().RemoteError as exc:
            log.warning("copilot: OpenAI history summary failed, offline summary instead: %s", exc)
    if result is None:
        lines = []
        for c in previous:
            about = c.handoff_summary or first.get(c.pk, "")
            lines.append(_("#%(id)d, %(date)s, %(dept)s, %(status)s: %(about)s") % {
                "id": c.pk, "date": timezone.localtime(c.created_at).strftime("%Y-%m-%d"),
                "dept": c.department or _("no department"),
                "status": c.get_status_display() + (f" ({c.resolution})" if c.resolution else ""),
                "about": local.clip(about, 140)})
        result = Result(kind=Kind.HISTORY, text="\n".join(lines), sources=sources, provider="local")
    return _record(conversation=conversation, user=user, result=result, started=started)


# --- (4) rewrite --------------------------------------------------------------------------------

def rewrite(*, user, conversation: Conversation, text: str, style: str) -> Result:
    started = time.perf_counter()
    text = (text or "").strip()
    if style not in REWRITE_STYLES:
        raise CopilotError(_("Unknown rewrite style."))
    if not text:
        raise CopilotError(_("Write or insert a reply first, then rewrite it."))
    if len(text) > 4096:
        raise CopilotError(_("The text is too long to rewrite (4096 characters at most)."))
    from apps.agent.language import detect_language

    source = detect_language(text)[0] or "es"
    target = customer_language(conversation) or ("en" if source == "es" else "es")
    extra = {"style": style, "source_language": source, "target_language": target}
    result = None
    if style == "translate" and source == target:
        target = "en" if source == "es" else "es"
        extra["target_language"] = target
    if provider_name() == "openai":
        try:
            result = _openai().rewrite(text=text, style=style, language=source, target=target)
        except _openai().RemoteError as exc:
            log.warning("copilot: OpenAI rewrite failed, offline rewrite instead: %s", exc)
    if result is None:
        if style == "formal":
            result = Result(kind=Kind.REWRITE, text=local.formalise(text, source))
        elif style == "shorter":
            result = Result(kind=Kind.REWRITE, text=local.shorten(text, source))
        else:
            out, sources, done, missed = local.translate(text, source, target, allowed_documents(user, conversation))
            result = Result(kind=Kind.REWRITE, text=out, sources=sources)
            extra |= {"translated": done, "untranslated": missed}
            if missed:
                result.note = _("Offline translation covers only knowledge-base passages and common phrases: "
                                "%(missed)d of %(total)d sentences were left as written. Check them before sending.") % {
                    "missed": missed, "total": done + missed}
    result.extra = extra
    return _record(conversation=conversation, user=user, result=result, started=started)


# --- outcomes: used / edited / ignored ----------------------------------------------------------

def similarity(a: str, b: str) -> float:
    a, b = " ".join((a or "").split()).lower(), " ".join((b or "").split()).lower()
    if not a or not b:
        return 0.0
    return round(difflib.SequenceMatcher(None, a, b, autojunk=False).ratio(), 4)


@transaction.atomic
def suggestion_outcome_record(*, message: Message, chosen: int | None = None) -> CopilotSuggestion | None:
    """At send time: compare the message with the last reply suggestion shown to its author in this
    chat (or the one they inserted, ``chosen``); earlier pending ones were superseded (ignored)."""
    if message.author_kind != AuthorKind.HUMAN or message.is_internal or not message.author_id:
        return None
    pending = list(CopilotSuggestion.objects.select_for_update().filter(
        conversation_id=message.conversation_id, user_id=message.author_id, kind__in=SENDABLE,
        outcome=Outcome.PENDING, created__lte=message.created_at).order_by("-created", "-id"))
    if not pending:
        return None
    target = next((s for s in pending if chosen and s.pk == chosen), pending[0])
    score = similarity(target.text, message.body)
    target.outcome = Outcome.USED if score >= USED_AT else Outcome.EDITED if score >= EDITED_AT else Outcome.IGNORED
    target.similarity, target.message, target.resolved_at = score, message, timezone.now()
    target.save(update_fields=["outcome", "similarity", "message", "resolved_at"])
    CopilotSuggestion.objects.filter(pk__in=[s.pk for s in pending if s.pk != target.pk]).update(
        outcome=Outcome.IGNORED, resolved_at=timezone.now())
    return target


def suggestions_reconcile(conversation: Conversation) -> int:
    """Messages sent through any other path (the plain reply form, the API) are matched here,
    the next time the panel loads; suggestions of an archived chat that were never sent are ignored."""
    pending = CopilotSuggestion.objects.filter(conversation=conversation, kind__in=SENDABLE, outcome=Outcome.PENDING)
    first = pending.order_by("created").values_list("created", flat=True).first()
    if first is None:
        return 0
    done = 0
    for msg in Message.objects.filter(conversation=conversation, author_kind=AuthorKind.HUMAN, is_internal=False,
                                      created_at__gte=first).order_by("created_at", "id"):
        if suggestion_outcome_record(message=msg):
            done += 1
    if conversation.status == Status.ARCHIVED:
        done += pending.update(outcome=Outcome.IGNORED, resolved_at=timezone.now())
    return done
