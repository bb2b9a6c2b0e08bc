"""The ladder does not page anyone all night for a closed department, does not repeat notices faster
than every 30 minutes per chat, and the reply timer does not fire after a human answered."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone as dt_tz
from types import SimpleNamespace as I
from zoneinfo import ZoneInfo

import pytest

from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, Status
from apps.routing import services
from apps.routing.models import BusinessHours, ConversationDeadline, Holiday, Mode, Notification
from apps.routing.schedules import next_open
from apps.routing.sweep import sweep
from django.utils.timezone import now as timezone_now
from tests.factories import conversation_in

from .conftest import online, routing

BA = "America/Argentina/Buenos_Aires"  # UTC-3, no DST


def at(y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(BA)).astimezone(dt_tz.utc)


# 2026-11-23 is a Monday.
NIGHTS = [I(weekday=d, start=time(22), end=time(6)) for d in range(7)]


def test_next_open_of_an_overnight_schedule():
    assert next_open(NIGHTS, at(2026, 11, 24, 7), BA) == at(2026, 11, 24, 22)      # Tuesday morning: tonight
    assert next_open(NIGHTS, at(2026, 11, 24, 23), BA) == at(2026, 11, 24, 23)     # already open
    assert next_open(NIGHTS, at(2026, 11, 24, 3), BA) == at(2026, 11, 24, 3)       # the morning tail is open
    monday_only = [I(weekday=0, start=time(22), end=time(6))]
    assert next_open(monday_only, at(2026, 11, 24, 7), BA) == at(2026, 11, 30, 22)  # next Monday


def test_next_open_skips_holidays_and_opens_at_midnight_after_a_holiday_evening():
    # Tuesday is a holiday: Tuesday 22:00 does not open; Wednesday 00:00 (the tail of Tuesday's shift) does.
    assert next_open(NIGHTS, at(2026, 11, 24, 7), BA, holidays=[date(2026, 11, 24)]) == at(2026, 11, 25, 0)
    assert next_open([], at(2026, 11, 24, 7), BA, holidays=[date(2026, 11, 24)]) is None  # never opens by hours


def night_department(cast):
    cfg = routing(cast.dept_a, mode=Mode.LOAD, use_schedule=True, pickup_minutes=5, pickup_auto_assign=True,
                  pickup_notify=True)
    cast.dept_a.time_zone = BA
    cast.dept_a.save()
    BusinessHours.objects.bulk_create([BusinessHours(routing=cfg, weekday=d, start=time(22), end=time(6))
                                       for d in range(7)])
    return cfg


def queued_at(cast, when):
    conv = conversation_in(cast, Status.UNASSIGNED)
    Conversation.objects.filter(pk=conv.pk).update(queued_at=when)
    conv = Conversation.objects.get(pk=conv.pk)
    services.arm_from_state(conv, now=when)
    return conv


@pytest.mark.django_db
def test_closed_department_without_backup_waits_for_its_next_opening(cast):
    night_department(cast)
    conv = queued_at(cast, at(2026, 11, 24, 7))  # Tuesday 07:00: closed until 22:00
    assert ConversationDeadline.objects.get(pk=conv.pk).due_at == at(2026, 11, 24, 22)
    for hour in range(7, 22):  # the whole closed day: every sweep finds nothing to do
        sweep(now=at(2026, 11, 24, hour, 30))
    assert Notification.objects.count() == 0
    assert not conv.events.filter(kind="escalation").exists()
    # At the opening, the Operators hear about it once; then not again before 30 minutes.
    sweep(now=at(2026, 11, 24, 22))
    assert Notification.objects.count() == 1
    for minutes in (5, 10, 15, 20, 25):
        sweep(now=at(2026, 11, 24, 22, minutes))
    assert Notification.objects.count() == 1
    sweep(now=at(2026, 11, 24, 22, 30))
    assert Notification.objects.count() == 2
    # Still waiting at closing time (06:00): the next step is at the next opening, not every 5 minutes.
    sweep(now=at(2026, 11, 25, 5, 58))
    assert ConversationDeadline.objects.get(pk=conv.pk).due_at == at(2026, 11, 25, 22)


@pytest.mark.django_db
def test_a_stale_due_timer_while_closed_notifies_nobody_and_is_rearmed_for_the_opening(cast):
    night_department(cast)
    conv = queued_at(cast, at(2026, 11, 24, 7))
    ConversationDeadline.objects.filter(pk=conv.pk).update(due_at=at(2026, 11, 24, 8))  # armed before the schedule
    online(cast.collab_a)
    sweep(now=at(2026, 11, 24, 8), assign=False)
    assert Notification.objects.count() == 0
    assert Conversation.objects.get(pk=conv.pk).assignee is None  # out of hours: nobody is auto-assigned
    step = conv.events.get(kind="escalation")
    assert step.payload["actions"] == ["closed"]
    assert ConversationDeadline.objects.get(pk=conv.pk).due_at == at(2026, 11, 24, 22)


@pytest.mark.django_db
def test_holiday_moves_the_deadline_past_it(cast):
    night_department(cast)
    Holiday.objects.create(date=date(2026, 11, 24), name="Feriado")
    conv = queued_at(cast, at(2026, 11, 24, 7))
    assert ConversationDeadline.objects.get(pk=conv.pk).due_at == at(2026, 11, 25, 0)


# --- 6. the reply timer ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_reply_timer_does_not_requeue_after_an_operator_answered(cast):
    routing(cast.dept_a, mode=Mode.LOAD, reply_minutes=10)
    online(cast.collab_a)
    conv = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=conv.pk)
    conv.refresh_from_db()
    assert conv.status == Status.ASSIGNED and conv.assignee == cast.collab_a
    # The Operator answers the customer; the chat stays "assigned" (it is not the assignee's reply).
    conv_services.message_send_human(conversation=conv, user=cast.operator, body="Ya te atendemos")
    conv.refresh_from_db()
    assert conv.status == Status.ASSIGNED
    stats = sweep(now=conv.assigned_at + timedelta(minutes=10, seconds=1))
    conv.refresh_from_db()
    assert stats.get("reply:answered") == 1 and "reply:requeued" not in stats
    assert conv.status == Status.ASSIGNED and conv.assignee == cast.collab_a
    assert not conv.events.filter(kind="requeued").exists()
    # The spent timer is not re-armed by the reconcile pass, so it never fires again.
    sweep(now=conv.assigned_at + timedelta(minutes=30))
    assert not conv.events.filter(kind="requeued").exists()
    assert ConversationDeadline.objects.get(pk=conv.pk).due_at is None


@pytest.mark.django_db
def test_reply_timer_still_requeues_when_only_an_internal_note_was_written(cast):
    routing(cast.dept_a, mode=Mode.LOAD, reply_minutes=10)
    online(cast.collab_a)
    conv = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=conv.pk)
    conv.refresh_from_db()
    conv_services.message_send_human(conversation=conv, user=cast.operator, body="nota", is_internal=True)
    stats = sweep(now=conv.assigned_at + timedelta(minutes=10, seconds=1), assign=False)
    assert stats.get("reply:requeued") == 1
    assert Conversation.objects.get(pk=conv.pk).status in (Status.UNASSIGNED, Status.ASSIGNED)
    assert conv.events.filter(kind="requeued").count() == 1


@pytest.mark.django_db
def test_a_customer_arriving_out_of_hours_is_told_when_a_person_will_answer(cast):
    from apps.conversations.models import Message

    night_department(cast)
    conv = conversation_in(cast, Status.TRANSFER)  # handed off by the bot, Spanish ("es")
    services.routing_conversation_arrived(conversation_id=conv.pk, now=at(2026, 11, 24, 7))  # Tuesday 07:00
    notes = list(Message.objects.filter(conversation=conv, author_kind="system", meta__routing="closed"))
    assert len(notes) == 1 and not notes[0].is_internal
    assert "no está disponible" in notes[0].body and "martes 22:00" in notes[0].body.lower()
    assert Conversation.objects.get(pk=conv.pk).status == Status.UNASSIGNED
    services.routing_conversation_arrived(conversation_id=conv.pk, now=at(2026, 11, 24, 8))
    assert Message.objects.filter(conversation=conv, meta__routing="closed").count() == 1  # said once


@pytest.mark.django_db
def test_a_customer_still_waiting_when_the_pickup_timer_runs_out_hears_they_keep_their_place(cast):
    from apps.conversations.models import Message

    routing(cast.dept_a, mode=Mode.MANUAL, pickup_minutes=5, pickup_auto_assign=False, pickup_notify=True)
    conv = conversation_in(cast, Status.UNASSIGNED)
    Conversation.objects.filter(pk=conv.pk).update(language="en")
    start = timezone_now()
    services.arm_from_state(Conversation.objects.get(pk=conv.pk), now=start)
    sweep(now=start + timedelta(minutes=6))
    sweep(now=start + timedelta(minutes=12))  # the ladder's second step says nothing new
    # Nobody online at all: the truth (nobody is available, the team was told) and their place in line.
    notes = list(Message.objects.filter(conversation=conv, meta__routing__in=["waiting", "unavailable"]))
    assert len(notes) == 1 and not notes[0].is_internal and notes[0].meta["routing"] == "unavailable"
    assert "Nobody from Technical Support is available" in notes[0].body and "number 1" in notes[0].body
