"""Drive the agent the way production does: a stored customer message, then the bot turn."""
from __future__ import annotations

from django.test import TestCase

from apps.conversations import services
from apps.conversations.models import Conversation


def start(cast, *, contact=None, language: str = ""):
    return services.conversation_start(contact=contact or cast.customer, channel=cast.channel, language=language)


def say(cast, conv, text: str):
    """Store a customer message; with eager Celery the bot turn runs on commit. Returns the
    refreshed conversation and the agent's replies posted for this message."""
    before = set(conv.messages.values_list("pk", flat=True))
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.message_receive(channel=cast.channel, contact=conv.contact, body=text, conversation=conv)
    conv = Conversation.objects.get(pk=conv.pk)
    replies = list(conv.messages.exclude(pk__in=before).filter(author_kind="ai_agent").order_by("created_at", "id"))
    return conv, replies


def shipped_threshold():
    """The shipped answer threshold (the ``fibrasur`` fixture lowers it for the turn tests)."""
    from apps.agent.models import AgentSettings

    cfg = AgentSettings.load()
    cfg.confidence_threshold = 0.75  # the shipped default
    cfg.save()
    return cfg


def conversation(cast, *texts):
    """A new customer's conversation of ``texts``: the conversation and the replies to the last one."""
    from apps.conversations.models import Contact

    conv = start(cast, contact=Contact.objects.create(name=f"Customer {Contact.objects.count() + 1}"))
    replies = []
    for text in texts:
        conv, replies = say(cast, conv, text)
    return conv, replies
