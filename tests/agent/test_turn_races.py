"""The agent turn under races: a duplicate task, a handoff made meanwhile, two quick messages.

The provider here is a stand-in that answers (or waits for a signal first): these tests are about
the Conversation row lock and the checks made under it, not about what the bot says.
"""
from __future__ import annotations

import threading

import pytest
from django.db import connection

from apps.agent.providers import Analysis
from apps.agent.services import agent_handle_message
from apps.conversations import services
from apps.conversations.models import ConversationEvent, Message, Status
from tests.factories import make_cast


class Answering:
    """A provider that answers every message; ``gate`` (optional) makes it wait inside the turn."""

    name = "standin"

    def __init__(self, gate: threading.Event | None = None, entered: threading.Event | None = None):
        self.gate, self.entered, self.calls = gate, entered, 0

    def analyse(self, ctx):
        self.calls += 1
        if self.entered is not None:
            self.entered.set()
        if self.gate is not None:
            self.gate.wait(10)
        # confident enough to answer at the shipped confidence_threshold (0.75, calibrated)
        return Analysis(intent="billing", answer=f"Answer to: {ctx.text}", confidence=0.99, scope=1.0,
                        provider=self.name)


def _customer_message(cast, conv, text="When is my bill due?") -> Message:
    """A stored customer message whose bot turn has not run (as when the task is still queued)."""
    return Message.objects.create(conversation=conv, author_kind="customer", body=text, channel=cast.channel)


def _decisions(conv, message_id):
    return ConversationEvent.objects.filter(conversation=conv, kind=ConversationEvent.Kind.AGENT_DECISION,
                                            payload__message_id=message_id)


@pytest.mark.django_db
def test_turn_for_a_chat_no_longer_with_the_bot_posts_nothing(cast):
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _customer_message(cast, conv)
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    provider = Answering()
    result = agent_handle_message(conversation_id=conv.pk, message_id=msg.pk, provider=provider)
    assert result.decision == "skipped" and provider.calls == 0
    assert not conv.messages.filter(author_kind="ai_agent").exists()
    assert not _decisions(conv, msg.pk).exists()


@pytest.mark.django_db
def test_duplicate_task_answers_once(cast):
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _customer_message(cast, conv)
    provider = Answering()
    first = agent_handle_message(conversation_id=conv.pk, message_id=msg.pk, provider=provider)
    second = agent_handle_message(conversation_id=conv.pk, message_id=msg.pk, provider=provider)
    assert (first.decision, second.decision, provider.calls) == ("answer", "skipped", 1)
    assert conv.messages.filter(author_kind="ai_agent").count() == 1
    assert _decisions(conv, msg.pk).count() == 1


@pytest.mark.django_db
def test_failed_turn_is_rolled_back_and_handed_to_a_human(cast):
    """An exception after the answer was written leaves no half turn: the answer is rolled back
    and the customer goes to a human with agent_error."""
    from apps.agent import services as agent_services

    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _customer_message(cast, conv)
    original = agent_services.conv_services.message_post_agent

    def post_then_fail(**kwargs):
        original(**kwargs)
        if kwargs.get("meta", {}).get("kind") == "answer":
            raise RuntimeError("disk full")

    agent_services.conv_services.message_post_agent = post_then_fail
    try:
        result = agent_handle_message(conversation_id=conv.pk, message_id=msg.pk, provider=Answering())
    finally:
        agent_services.conv_services.message_post_agent = original
    assert result.decision == "handoff" and result.trigger == "agent_error"
    kinds = list(conv.messages.filter(author_kind="ai_agent").values_list("meta__kind", flat=True))
    assert kinds == ["handoff"]
    assert [e.payload["decision"] for e in _decisions(conv, msg.pk)] == ["handoff"]


# --- real concurrent transactions (PostgreSQL: SQLite has no row locks) -------------------------

def _in_thread(target, errors):
    def run():
        try:
            target()
        except Exception as exc:  # surfaced by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_runs_of_one_turn_answer_once():
    cast = make_cast()
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _customer_message(cast, conv)
    gate, entered = threading.Event(), threading.Event()
    provider = Answering(gate=gate, entered=entered)
    errors, results = [], []
    first = _in_thread(lambda: results.append(agent_handle_message(
        conversation_id=conv.pk, message_id=msg.pk, provider=provider)), errors)
    assert entered.wait(10)  # the first run is inside the provider (which holds no lock)
    second = _in_thread(lambda: results.append(agent_handle_message(
        conversation_id=conv.pk, message_id=msg.pk, provider=provider)), errors)
    second.join(1.0)
    gate.set()
    first.join(20)
    second.join(20)
    assert not errors, errors
    # Both may read the message; only one decides (under the lock), the other finds its decision.
    assert sorted(r.decision for r in results) == ["answer", "skipped"]
    assert provider.calls <= 2
    assert conv.messages.filter(author_kind="ai_agent").count() == 1
    assert conv.events.filter(kind="agent_decision").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_no_answer_lands_after_a_handoff_made_meanwhile():
    """A handoff commits while the turn waits for the conversation: the turn then sees that the
    chat is no longer the bot's and posts nothing."""
    from django.db import transaction

    cast = make_cast()
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _customer_message(cast, conv)
    locked, release = threading.Event(), threading.Event()
    errors, results = [], []

    def handoff():
        with transaction.atomic():
            services.conversation_escalate(conversation=conv.pk, department=cast.dept_a, trigger="explicit_request")
            locked.set()
            release.wait(10)

    other = _in_thread(handoff, errors)
    assert locked.wait(10)
    provider = Answering()
    turn = _in_thread(lambda: results.append(agent_handle_message(
        conversation_id=conv.pk, message_id=msg.pk, provider=provider)), errors)
    turn.join(1.0)
    assert turn.is_alive()  # blocked on the row lock held by the handoff
    release.set()
    other.join(20)
    turn.join(20)
    assert not errors, errors
    # The analysis ran outside any lock; the decision waited for the handoff and then posted nothing.
    assert [r.decision for r in results] == ["skipped"] and provider.calls <= 1
    conv.refresh_from_db()
    assert conv.status != Status.BOT
    assert not conv.messages.filter(author_kind="ai_agent").exists()
