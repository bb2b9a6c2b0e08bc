"""The AI Agent's periodic sweep: lost bot turns are run again, idle bot chats are closed.

Run every minute by Celery beat (``apps.agent.tasks.agent_reconcile_task``) and, on the embedded
demo, by whatever in-process sweep calls :func:`agent_reconcile`. Restart-safe by construction:
it reads the state of the rows each time (nothing is remembered between runs), a re-run turn is
idempotent (the turn locks the conversation and skips a message that already has a decision), and
an archive re-checks status and quiet time under the conversation's row lock.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone

from apps.conversations import services as conv_services
from apps.conversations.models import AuthorKind, Conversation, ConversationEvent, Message, Status

log = logging.getLogger(__name__)

BATCH = 200
# Smalltalk and prompts are not answers: a chat left after the bot's greeting, an "I'm sorry, tell me
# what is happening" or a request for the customer number was not resolved by the bot.
NOT_AN_ANSWER_INTENTS = {"greeting", "vent", "about_bot", "not_understood"}


def stale_seconds() -> int:
    return int(getattr(settings, "AGENT_TURN_STALE_SECONDS", 60))


def assumed_idle_seconds() -> int:
    """How long the customer must stay quiet after the AI Agent's last answer to count as 'assumed'
    (the reports' "assumed by the bot" uses the same threshold)."""
    return int(getattr(settings, "REPORTS_ASSUMED_IDLE_MINUTES", 30)) * 60


def idle_seconds() -> int:
    return assumed_idle_seconds()


def agent_reconcile(*, now: datetime | None = None) -> dict:
    """One sweep; returns counts (``requeued``, ``archived_idle``, ``archived_abandoned``)."""
    now = now or timezone.now()
    stats = {"requeued": turns_requeue(now=now)}
    stats.update(idle_archive(now=now))
    return stats


def queued_seconds() -> int:
    return int(getattr(settings, "AGENT_TURN_QUEUED_MAX_SECONDS", 300))


def turns_requeue(*, now: datetime) -> int:
    """Bot-owned chats whose last customer message is older than ``AGENT_TURN_STALE_SECONDS`` and
    has no ``agent_decision`` yet: the turn was lost (worker killed, broker flushed, task failed for
    good), so the customer would wait forever. Enqueue it again.

    A turn put on the queue (``bot_turn_enqueued_at``, set when the message was stored) less than
    ``AGENT_TURN_QUEUED_MAX_SECONDS`` ago is only waiting behind a backlog: it is left alone, since
    queueing it again would only deepen the backlog it is waiting in."""
    oldest = now - timedelta(hours=int(getattr(settings, "AGENT_TURN_MAX_AGE_HOURS", 24)))
    last_customer = (Message.objects.filter(conversation=OuterRef("pk"), author_kind=AuthorKind.CUSTOMER)
                     .exclude(meta__has_key="attachments_only")  # files alone get no turn (agent services._claim)
                     .order_by("-created_at", "-id").values("pk")[:1])
    waiting = Q(bot_turn_enqueued_at__gte=F("last_customer_message_at"),
                bot_turn_enqueued_at__gt=now - timedelta(seconds=queued_seconds()))
    rows = list(Conversation.objects.filter(status=Status.BOT,
                                            last_customer_message_at__lt=now - timedelta(seconds=stale_seconds()),
                                            last_customer_message_at__gte=oldest)
                .exclude(waiting)
                .annotate(last_msg=Subquery(last_customer)).exclude(last_msg=None)
                .order_by("last_customer_message_at").values_list("pk", "last_msg")[:BATCH])
    if not rows:
        return 0
    handled = set(ConversationEvent.objects.filter(
        conversation_id__in=[c for c, _m in rows], kind=ConversationEvent.Kind.AGENT_DECISION,
        payload__message_id__in=[m for _c, m in rows]).values_list("payload__message_id", flat=True))
    lost = [(c, m) for c, m in rows if m not in handled]
    from .tasks import conversation_bot_turn

    for conversation_id, message_id in lost:
        log.warning("agent: turn for message %s of conversation %s was lost; running it again",
                    message_id, conversation_id)
        conv_services.conversation_mark_bot_turn_enqueued(conversation_id=conversation_id)
        conversation_bot_turn.delay(conversation_id, message_id)
    return len(lost)


def idle_archive(*, now: datetime) -> dict:
    """Close bot-owned chats that have been quiet for ``REPORTS_ASSUMED_IDLE_MINUTES`` after the
    bot spoke last: ``bot_idle`` (an assumed deflection in reports) when its last message answered
    the customer, ``bot_abandoned`` when it was small talk or a question of its own."""
    cutoff = now - timedelta(seconds=idle_seconds())
    last = Message.objects.filter(conversation=OuterRef("pk"), is_internal=False).order_by("-created_at", "-id")
    rows = list(Conversation.objects.filter(status=Status.BOT, last_message_at__lt=cutoff)
                .annotate(last_author=Subquery(last.values("author_kind")[:1]))
                .filter(last_author=AuthorKind.AI_AGENT).order_by("last_message_at").values_list("pk", flat=True)[:BATCH])
    stats = {"archived_idle": 0, "archived_abandoned": 0}
    for pk in rows:
        resolution = _idle_close(pk, cutoff)
        if resolution == "bot_idle":
            stats["archived_idle"] += 1
        elif resolution:
            stats["archived_abandoned"] += 1
    return stats


def _idle_close(conversation_id: int, cutoff: datetime) -> str:
    """Archive one chat if it is still the bot's and still quiet (checked under the row lock, so a
    customer message stored meanwhile keeps it open). Returns the resolution, or "" if left open."""
    with transaction.atomic():
        conv = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if conv is None or conv.status != Status.BOT or conv.last_message_at is None or conv.last_message_at >= cutoff:
            return ""
        last = conv.messages.filter(is_internal=False).order_by("-created_at", "-id").first()
        if last is None or last.author_kind != AuthorKind.AI_AGENT:
            return ""
        meta = last.meta or {}
        answered = meta.get("kind") == "answer" and meta.get("intent") not in NOT_AN_ANSWER_INTENTS
        resolution = "bot_idle" if answered else "bot_abandoned"
        conv_services.conversation_archive(conversation=conv, actor=conv_services.SYSTEM, resolution=resolution,
                                           reason="quiet after the AI Agent's last message")
    return resolution
