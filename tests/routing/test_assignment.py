"""Assignment modes, capacity, presence and shifts (``now`` passed explicitly)."""
from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from apps.conversations import services as conv_services
from apps.conversations import services as services_conv
from apps.conversations.models import Channel, Contact, Conversation, ConversationEvent, Message, Status
from apps.departments.services import membership_set
from apps.routing import services
from apps.routing.models import AgentShift, Mode, Presence, RoutingRule
from tests.factories import conversation_in, make_user

from .conftest import online, routing

pytestmark = pytest.mark.django_db


def arrive(cast, department=None, contact=None, channel=None):
    conv = conversation_in(cast, Status.TRANSFER, department=department or cast.dept_a, contact=contact)
    if channel is not None:
        Conversation.objects.filter(pk=conv.pk).update(channel=channel)
    services.routing_conversation_arrived(conversation_id=conv.pk)
    return Conversation.objects.get(pk=conv.pk)


def test_manual_mode_queues_and_assigns_nobody(cast):
    online(cast.collab_a)
    conv = arrive(cast)
    assert conv.status == Status.UNASSIGNED and conv.assignee is None
    assert conv.events.filter(kind="queued").count() == 1
    assert not conv.events.filter(kind="assigned").exists()


def test_load_mode_prefers_fewest_active_chats(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a)
    online(cast.collab_ab)
    conversation_in(cast, Status.ASSIGNED, assignee=cast.collab_a)
    conv = arrive(cast)
    assert conv.status == Status.ASSIGNED and conv.assignee == cast.collab_ab
    event = conv.events.get(kind="assigned")
    assert event.actor_kind == "system" and event.payload["mode"] == "load" and event.payload["load"] == 0


def test_load_tie_goes_to_whoever_waited_longest_since_last_assignment(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    t = timezone.now()
    online(cast.collab_a, last_assigned_at=t - timedelta(minutes=1))
    online(cast.collab_ab, last_assigned_at=t - timedelta(minutes=30))
    assert arrive(cast).assignee == cast.collab_ab


def test_round_robin_takes_turns_regardless_of_load(cast):
    routing(cast.dept_a, mode=Mode.ROUND_ROBIN)
    t = timezone.now()
    online(cast.collab_a, capacity=5, last_assigned_at=t - timedelta(hours=2))
    online(cast.collab_ab, capacity=5, last_assigned_at=t - timedelta(hours=1))
    conversation_in(cast, Status.ASSIGNED, assignee=cast.collab_a)  # collab_a has more load
    got = [arrive(cast).assignee for _ in range(4)]
    assert got == [cast.collab_a, cast.collab_ab, cast.collab_a, cast.collab_ab]


def test_rules_vip_to_senior_language_to_bilingual_channel_to_team(cast):
    cfg = routing(cast.dept_a, mode=Mode.RULES)
    senior = make_user("senior")
    membership_set(user=senior, department=cast.dept_a, is_senior=True)
    online(senior, capacity=5)
    online(cast.collab_a, capacity=5, languages="es,en")
    online(cast.collab_ab, capacity=5, teams="whatsapp")
    RoutingRule.objects.create(routing=cfg, position=1, attribute="contact.is_vip", value="true",
                               target="senior")
    RoutingRule.objects.create(routing=cfg, position=2, attribute="conversation.language", value="en",
                               target="language")
    RoutingRule.objects.create(routing=cfg, position=3, attribute="channel.kind", value="whatsapp",
                               target="team", target_value="whatsapp")
    # Load would pick senior (fewest chats) until loaded; give senior some load so rules must do the work.
    for n in range(2):  # other customers (one open chat per customer and channel)
        conversation_in(cast, Status.ASSIGNED, assignee=senior, contact=Contact.objects.create(name=f"Load {n}"))
    cast.customer.is_vip = True
    cast.customer.save()
    assert arrive(cast).assignee == senior  # VIP -> senior despite the higher load

    english = cast.other_customer
    conv = conversation_in(cast, Status.TRANSFER, contact=english)
    Conversation.objects.filter(pk=conv.pk).update(language="en")
    services.routing_conversation_arrived(conversation_id=conv.pk)
    conv.refresh_from_db()
    assert conv.assignee == cast.collab_a
    assert conv.events.get(kind="assigned").payload["rule"] is not None

    wa = Channel.objects.create(name="WA", kind=Channel.Kind.WHATSAPP)
    plain = cast.customer.__class__.objects.create(name="Plain", language="es")
    assert arrive(cast, contact=plain, channel=wa).assignee == cast.collab_ab


def test_rules_fall_back_to_load_when_no_rule_matches_or_group_is_full(cast):
    cfg = routing(cast.dept_a, mode=Mode.RULES)
    RoutingRule.objects.create(routing=cfg, attribute="contact.is_vip", value="true", target="senior")
    online(cast.collab_a)
    conv = arrive(cast)
    assert conv.assignee == cast.collab_a
    assert conv.events.get(kind="assigned").payload["fallback"] == "load"


def test_capacity_is_never_exceeded(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a, capacity=1)
    online(cast.collab_ab, capacity=1)
    convs = [arrive(cast) for _ in range(3)]
    assert [c.status for c in convs].count(Status.ASSIGNED) == 2
    assert convs[2].status == Status.UNASSIGNED
    for user in (cast.collab_a, cast.collab_ab):
        assert Conversation.objects.filter(assignee=user, status=Status.ASSIGNED).count() == 1


def test_per_channel_capacity(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a, capacity=5, channel_capacity={"webchat": 1})
    assert arrive(cast).assignee == cast.collab_a
    assert arrive(cast).status == Status.UNASSIGNED


def test_offline_away_and_out_of_shift_agents_are_never_assigned(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a, status=Presence.OFFLINE)
    p = online(cast.collab_ab)
    p.status = Presence.AWAY
    p.save()
    assert arrive(cast).status == Status.UNASSIGNED
    p.status = Presence.ONLINE
    p.save()
    # collab_ab's shift is the hour around two and a half hours from now, in the operation's time zone,
    # on THAT moment's weekday and clipped to that day (near midnight it is the next day's shift).
    now = timezone.now()
    local = timezone.localtime(now)
    ahead = timedelta(hours=2, minutes=30)
    if (local + ahead).time() >= time(23, 58):
        # a shift ends at the latest at 23:59 (whole minutes): a target in the day's last minutes
        # would fall after it, so aim a few minutes later, into the next day's shift
        ahead += timedelta(minutes=5)
    target = local + ahead
    start = max(target - timedelta(minutes=30), target.replace(hour=0, minute=0, second=0, microsecond=0))
    end = min(target + timedelta(minutes=30), target.replace(hour=23, minute=59, second=0, microsecond=0))
    AgentShift.objects.create(presence=p, weekday=target.weekday(),
                              start=start.time().replace(second=0, microsecond=0),
                              end=end.time().replace(second=0, microsecond=0))
    assert arrive(cast).status == Status.UNASSIGNED
    # In shift two and a half hours later: assigned.
    conv = arrive(cast)
    assert services.routing_try_assign(conversation_id=conv.pk, now=now + ahead) == cast.collab_ab


def test_assignment_announces_the_agent_in_the_customer_language(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a)
    conv = arrive(cast)  # the cast's conversations are in Spanish
    # Right after an AI handoff the AI Agent names the person in its own voice, once.
    said = list(Message.objects.filter(conversation=conv, author_kind__in=["system", "ai_agent"])
                .values_list("author_kind", "body"))
    assert said == [("ai_agent", "Te paso con Collab_A, de Technical Support.")]
    conv2 = conversation_in(cast, Status.TRANSFER, contact=cast.other_customer)
    Conversation.objects.filter(pk=conv2.pk).update(language="en")
    services.routing_conversation_arrived(conversation_id=conv2.pk)
    msg2 = Message.objects.filter(conversation=conv2, author_kind="ai_agent").last()
    assert msg2.body == "I'll pass you to Collab_A, from Technical Support."
    # A later reassignment by routing, after a human already spoke: routing says it itself.
    services_conv.message_send_human(conversation=conv2, user=cast.collab_a, body="Hi!")
    services_conv.conversation_requeue(conversation=conv2, reason="test")
    online(cast.collab_ab)
    services.presence_set(user=cast.collab_a, status=Presence.OFFLINE)
    services.routing_conversation_arrived(conversation_id=conv2.pk)
    conv2.refresh_from_db()
    msg3 = Message.objects.filter(conversation=conv2, author_kind="system").last()
    assert msg3.body == f"{conv2.assignee.public_name}, from Technical Support, is taking over your conversation."


def test_agent_coming_online_drains_the_queue(cast, django_capture_on_commit_callbacks):
    routing(cast.dept_a, mode=Mode.LOAD)
    convs = [arrive(cast) for _ in range(3)]
    assert all(c.status == Status.UNASSIGNED for c in convs)
    # Not inside presence_set's transaction (nor the HTTP request): a routing.agent_available task on commit.
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.presence_set(user=cast.collab_a, status=Presence.ONLINE)
        assert Conversation.objects.filter(assignee=cast.collab_a).count() == 0
    assert callbacks
    assert Conversation.objects.filter(assignee=cast.collab_a, status=Status.ASSIGNED).count() == 3
    # Oldest first.
    first = ConversationEvent.objects.filter(kind="assigned").order_by("id").first()
    assert first.conversation_id == convs[0].pk


def test_freed_capacity_routes_the_next_waiting_chat(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a, capacity=1)
    first, second = arrive(cast), arrive(cast)
    assert second.status == Status.UNASSIGNED
    conv_services.conversation_archive(conversation=first, actor=cast.collab_a)
    assert services.routing_capacity_freed(user_id=cast.collab_a.pk) == 1
    second.refresh_from_db()
    assert second.assignee == cast.collab_a


def test_requeued_chat_does_not_bounce_back_to_the_same_agent(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a)
    online(cast.collab_ab, capacity=3)
    conversation_in(cast, Status.ASSIGNED, assignee=cast.collab_ab)
    conv = arrive(cast)
    assert conv.assignee == cast.collab_a
    conv_services.conversation_requeue(conversation=conv, reason="test")
    services.routing_conversation_arrived(conversation_id=conv.pk)
    conv.refresh_from_db()
    assert conv.assignee == cast.collab_ab


def test_operator_reassignment_and_transfer_are_events_with_a_reason(cast):
    conv = conversation_in(cast, Status.ASSIGNED)
    conv_services.conversation_reassign(conversation=conv, assignee=cast.collab_ab, actor=cast.operator,
                                        reason="specialist")
    ev = conv.events.get(kind="reassigned")
    assert ev.reason == "specialist" and ev.to_assignee == cast.collab_ab
    conv_services.conversation_transfer(conversation=conv, department=cast.dept_b, actor=cast.operator,
                                        reason="billing question")
    assert conv.events.get(kind="transferred").reason == "billing question"


def test_routing_reassign_rearms_the_reply_timer_and_lists_choices(cast):
    routing(cast.dept_a, mode=Mode.LOAD, reply_minutes=10)
    online(cast.collab_a)
    conv = arrive(cast)
    assert conv.assignee == cast.collab_a
    choices = services.reassign_choices(department_id=cast.dept_a.pk)
    assert [c["user"] for c in choices] == [cast.collab_a, cast.collab_ab]
    assert choices[0]["available"] and choices[0]["load"] == 1 and not choices[1]["available"]
    services.routing_reassign(conversation_id=conv.pk, assignee=cast.collab_ab, actor=cast.operator,
                              reason="needs a specialist")
    conv.refresh_from_db()
    from apps.routing.models import ConversationDeadline

    assert ConversationDeadline.objects.get(pk=conv.pk).armed_for == conv.assigned_at
    assert conv.events.get(kind="reassigned").reason == "needs a specialist"
    from apps.core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        services.routing_reassign(conversation_id=conv.pk, assignee=cast.collab_a, actor=cast.collab_a, reason="x")
