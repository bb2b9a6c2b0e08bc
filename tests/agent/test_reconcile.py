"""The AI Agent's periodic sweep: a lost bot turn is run again; idle bot chats are closed with a
resolution reports understand (bot_idle = assumed deflection)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.agent.models import AgentSettings
from apps.agent.reconcile import agent_reconcile, idle_archive, queued_seconds, stale_seconds
from apps.agent.services import agent_handle_message
from apps.conversations import services
from apps.conversations.models import Conversation, ConversationEvent, Status
from apps.reports.definitions import ASSUMED_RESOLUTIONS, NOT_RESOLVED_RESOLUTIONS

from .test_turn_races import Answering

pytestmark = pytest.mark.django_db


def _decisions(conv, message_id):
    return ConversationEvent.objects.filter(conversation=conv, kind=ConversationEvent.Kind.AGENT_DECISION,
                                            payload__message_id=message_id)


def _receive(cast, conv, text):
    """Store a customer message as the channel does; its on-commit bot turn never runs here
    (the test transaction never commits), exactly like a turn lost with a killed worker."""
    msg, _created = services.message_receive(channel=cast.channel, contact=conv.contact, body=text, conversation=conv)
    return msg


@pytest.fixture
def standin(monkeypatch):
    provider = Answering()
    monkeypatch.setattr("apps.agent.services.provider_get", lambda: provider)
    return provider


def test_lost_turn_is_run_again_once_it_is_stale(cast, standin, django_capture_on_commit_callbacks):
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _receive(cast, conv, "When is my bill due?")
    now = timezone.now()
    assert agent_reconcile(now=now + timedelta(seconds=30))["requeued"] == 0  # may still be in the queue
    assert not _decisions(conv, msg.pk).exists()
    # Queued less than AGENT_TURN_QUEUED_MAX_SECONDS ago: waiting behind a backlog, left alone.
    assert agent_reconcile(now=now + timedelta(seconds=90))["requeued"] == 0
    later = now + timedelta(seconds=queued_seconds() + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert agent_reconcile(now=later)["requeued"] == 1
    assert _decisions(conv, msg.pk).count() == 1
    reply = conv.messages.filter(author_kind="ai_agent").get()
    assert reply.body == "Answer to: When is my bill due?"
    assert agent_reconcile(now=later + timedelta(seconds=150))["requeued"] == 0  # handled: nothing to do


def test_a_turn_waiting_in_the_queue_is_left_alone_and_a_requeued_one_is_not_queued_twice(cast, standin,
                                                                                          monkeypatch):
    """The backlog case: 1,000 turns queued, the reconcile must not add the same turns again."""
    queued = []  # the broker: turns put on the agent queue, not run
    monkeypatch.setattr("apps.agent.tasks.conversation_bot_turn.delay", lambda *args: queued.append(args))
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _receive(cast, conv, "When is my bill due?")
    conv.refresh_from_db()
    assert conv.bot_turn_enqueued_at == conv.last_customer_message_at  # marked when it was queued
    now = timezone.now()
    assert agent_reconcile(now=now + timedelta(seconds=stale_seconds() * 3))["requeued"] == 0
    # A turn with no mark (queued before this mark existed, or its enqueue never happened) is lost.
    Conversation.objects.filter(pk=conv.pk).update(bot_turn_enqueued_at=None)
    assert agent_reconcile(now=now + timedelta(seconds=stale_seconds() * 3))["requeued"] == 1
    assert queued == [(conv.pk, msg.pk)]
    conv.refresh_from_db()
    assert conv.bot_turn_enqueued_at is not None  # the requeue is marked: the next sweep leaves it
    assert agent_reconcile(now=now + timedelta(seconds=stale_seconds() * 4))["requeued"] == 0
    assert queued == [(conv.pk, msg.pk)] and standin.calls == 0  # it only waits in the queue


def test_only_the_unhandled_last_message_of_a_bot_chat_is_requeued(cast, standin):
    answered = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    first = _receive(cast, answered, "When is my bill due?")
    agent_handle_message(conversation_id=answered.pk, message_id=first.pk)
    handed = services.conversation_start(contact=cast.other_customer, channel=cast.channel, language="en")
    _receive(cast, handed, "hello?")
    services.conversation_escalate(conversation=handed, department=cast.dept_a, trigger="explicit_request")
    calls = standin.calls
    assert agent_reconcile(now=timezone.now() + timedelta(minutes=2))["requeued"] == 0
    assert standin.calls == calls


def test_retrying_task_runs_the_turn_again_after_a_failure(cast, standin, monkeypatch):
    from apps.agent import services as agent_services
    from apps.agent.tasks import conversation_bot_turn

    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _receive(cast, conv, "When is my bill due?")
    real, failures = agent_services.agent_handle_message, []

    def flaky(**kwargs):
        if not failures:
            failures.append(1)
            raise ConnectionError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(agent_services, "agent_handle_message", flaky)
    conversation_bot_turn.apply(args=(conv.pk, msg.pk))
    assert failures and _decisions(conv, msg.pk).count() == 1


def test_idle_bot_chat_after_an_answer_is_archived_as_bot_idle(cast, standin, settings):
    settings.REPORTS_ASSUMED_IDLE_MINUTES = 30
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _receive(cast, conv, "When is my bill due?")
    agent_handle_message(conversation_id=conv.pk, message_id=msg.pk)
    now = timezone.now()
    assert agent_reconcile(now=now + timedelta(minutes=29))["archived_idle"] == 0
    conv.refresh_from_db()
    assert conv.status == Status.BOT

    assert agent_reconcile(now=now + timedelta(minutes=31))["archived_idle"] == 1
    conv.refresh_from_db()
    assert conv.status == Status.ARCHIVED and conv.resolution == "bot_idle"
    assert conv.resolution in ASSUMED_RESOLUTIONS  # counted by reports as an assumed deflection
    event = conv.events.get(kind=ConversationEvent.Kind.ARCHIVED)
    assert event.payload["resolution"] == "bot_idle" and event.actor_kind == "system"


def test_idle_time_follows_the_reports_setting(cast, standin, settings):
    settings.REPORTS_ASSUMED_IDLE_MINUTES = 3
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _receive(cast, conv, "When is my bill due?")
    agent_handle_message(conversation_id=conv.pk, message_id=msg.pk)
    assert agent_reconcile(now=timezone.now() + timedelta(minutes=4))["archived_idle"] == 1


def test_chat_where_the_customer_spoke_last_or_left_after_a_greeting_is_not_a_deflection(cast, standin):
    waiting = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _receive(cast, waiting, "When is my bill due?")
    agent_handle_message(conversation_id=waiting.pk, message_id=msg.pk)
    later = _receive(cast, waiting, "and can I pay by card?")
    agent_handle_message(conversation_id=waiting.pk, message_id=later.pk)
    services.message_receive(channel=cast.channel, contact=waiting.contact, body="hello?", conversation=waiting)

    greeted = services.conversation_start(contact=cast.other_customer, channel=cast.channel, language="en")
    services.message_post_agent(conversation=greeted, body=AgentSettings.load().message("greeting", "en"),
                                meta={"ai": True, "kind": "answer", "intent": "greeting"})
    stats = idle_archive(now=timezone.now() + timedelta(hours=2))  # the archive half of the sweep
    assert (stats["archived_idle"], stats["archived_abandoned"]) == (0, 1)
    waiting.refresh_from_db()
    greeted.refresh_from_db()
    assert waiting.status == Status.BOT  # its last message is the customer's (the requeue half answers it)
    assert greeted.status == Status.ARCHIVED and greeted.resolution in NOT_RESOLVED_RESOLUTIONS


def test_handed_off_chats_are_never_closed_by_the_sweep(cast, standin):
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="en")
    msg = _receive(cast, conv, "When is my bill due?")
    agent_handle_message(conversation_id=conv.pk, message_id=msg.pk)
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    stats = agent_reconcile(now=timezone.now() + timedelta(hours=2))
    assert stats["archived_idle"] == 0 and stats["archived_abandoned"] == 0
    conv.refresh_from_db()
    assert conv.status == Status.TRANSFER
