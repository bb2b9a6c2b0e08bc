"""The conversation core's domain events and channel policies (apps/core/events.py, channel_policy.py)."""
from __future__ import annotations

import pytest
from django.db import transaction

from apps.conversations import services
from apps.conversations.models import Channel, Conversation, Message, Status
from apps.core import channel_policy, events
from apps.core.errors import WindowClosed
from tests.factories import conversation_in


@pytest.fixture
def heard():
    """Record what every event publishes after commit and which rows the in-transaction hook saw."""
    seen = {"after": [], "inside": []}

    def after(event):
        seen["after"].append(event)

    def inside(event, record):
        seen["inside"].append((event.kind, type(record).__name__))

    for event in events.REGISTRY.values():
        event.connect(after)
        event.connect_in_transaction(inside)
    yield seen
    for event in events.REGISTRY.values():
        event.disconnect(after)
        event.disconnect(inside)


def test_every_event_is_documented_with_its_arguments():
    assert set(events.REGISTRY) == {"record.written", "message.received", "message.outgoing",
                                    "conversation.needs_routing", "assignee.released", "note.mentioned"}
    for event in events.REGISTRY.values():
        assert "Arguments" in (event.__doc__ or ""), event


@pytest.mark.django_db
def test_the_apps_above_subscribe_in_ready():
    from apps.agent.tasks import on_message_received
    from apps.integrations.tasks import on_message_outgoing
    from apps.routing.services import notify_mentioned
    from apps.routing.tasks import on_assignee_released, on_needs_routing

    assert on_message_received in events.message_received.receivers
    assert on_message_outgoing in events.message_outgoing.receivers
    assert on_needs_routing in events.conversation_needs_routing.receivers
    assert on_assignee_released in events.assignee_released.receivers
    assert notify_mentioned in events.note_mentioned.receivers
    assert channel_policy.policy_for(Channel.Kind.WHATSAPP) is not None
    assert channel_policy.policy_for(Channel.Kind.WEBCHAT) is None


@pytest.mark.django_db
def test_handoff_publishes_after_commit_with_ids_only(cast, heard, django_capture_on_commit_callbacks):
    conv = conversation_in(cast, Status.BOT)
    heard["after"].clear()
    with django_capture_on_commit_callbacks() as callbacks:
        services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
        assert not heard["after"]  # nothing before the commit
        assert ("record.written", "ConversationEvent") in heard["inside"]  # the outbox hook ran inside
    for callback in callbacks:
        callback()
    routed = [e for e in heard["after"] if e.kind == "conversation.needs_routing"]
    assert len(routed) == 1 and routed[0].conversation_id == conv.pk and routed[0].extra == {"reason": "handoff"}


@pytest.mark.django_db
def test_released_assignee_and_outgoing_message(cast, heard, django_capture_on_commit_callbacks):
    conv = conversation_in(cast, Status.IN_PROGRESS)
    with django_capture_on_commit_callbacks(execute=True):
        msg = services.message_send_human(conversation=conv, user=cast.collab_a, body="Listo")
        services.conversation_archive(conversation=conv, actor=cast.collab_a)
    outgoing = [e for e in heard["after"] if e.kind == "message.outgoing"]
    assert [(e.message_id, e.actor_id) for e in outgoing] == [(msg.pk, cast.collab_a.pk)]
    released = [e for e in heard["after"] if e.kind == "assignee.released"]
    assert [e.extra["user_id"] for e in released] == [cast.collab_a.pk]


@pytest.mark.django_db
def test_a_failing_in_transaction_hook_rolls_the_change_back(cast, django_capture_on_commit_callbacks):
    conv = conversation_in(cast, Status.BOT)

    def broken(event, record):
        raise RuntimeError("outbox down")

    events.record_written.connect_in_transaction(broken)
    try:
        with pytest.raises(RuntimeError), django_capture_on_commit_callbacks() as callbacks:
            services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    finally:
        events.record_written.disconnect(broken)
    assert Conversation.objects.get(pk=conv.pk).status == Status.BOT and not callbacks


@pytest.mark.django_db
def test_nothing_is_published_when_the_transaction_rolls_back(cast, heard, django_capture_on_commit_callbacks):
    conv = conversation_in(cast, Status.BOT)
    heard["after"].clear()
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(ZeroDivisionError), transaction.atomic():
            services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
            1 / 0
    assert not callbacks and Conversation.objects.get(pk=conv.pk).status == Status.BOT


@pytest.mark.django_db
def test_a_channel_policy_the_core_consults(cast):
    conv = conversation_in(cast, Status.IN_PROGRESS)

    class Closed:
        def reply_window_check(self, conversation, *, author_kind="human"):
            raise WindowClosed("closed for this test")

    kind = conv.channel.kind
    before = channel_policy.policy_for(kind)
    channel_policy.register(kind, Closed())
    try:
        with pytest.raises(WindowClosed):
            services.message_send_human(conversation=conv, user=cast.collab_a, body="¿Sigue ahí?")
        services.message_send_human(conversation=conv, user=cast.collab_a, body="nota", is_internal=True)
    finally:
        if before is None:
            channel_policy.unregister(kind)
        else:
            channel_policy.register(kind, before)
    assert list(Message.objects.filter(conversation=conv, author_kind="human").values_list("body", flat=True)) == [
        "Hola, te ayudo", "nota"]


@pytest.mark.django_db(transaction=True)
def test_batched_receivers_get_a_blocks_committed_events_once_at_its_end(cast):
    """``events.batched()``: the events of every commit in the block, together, when it ends; a
    rolled-back transaction contributes nothing; outside a block, each commit's events at once."""
    calls: list[list[int]] = []

    def receiver(held):
        calls.append([e.message_id for e in held])

    events.message_outgoing.connect_batched(receiver)
    try:
        conv = conversation_in(cast, Status.UNASSIGNED)
        calls.clear()
        with events.batched():
            first = services.message_post_system(conversation=conv, body="Uno")
            with pytest.raises(RuntimeError), transaction.atomic():
                services.message_post_system(conversation=conv, body="Deshecho")
                raise RuntimeError
            second = services.message_post_system(conversation=conv, body="Dos")
            assert calls == []  # held until the block ends
        assert calls == [[first.pk, second.pk]]
        third = services.message_post_system(conversation=conv, body="Tres")
        assert calls[-1] == [third.pk]
        assert events.message_outgoing.receivers.count(receiver) == 1
    finally:
        events.message_outgoing.disconnect(receiver)
