"""Business hours: several intervals a day, overnight shifts, time zones, holidays, backup out of hours."""
from __future__ import annotations

from datetime import date, datetime, time, timezone as dt_tz
from types import SimpleNamespace as I
from zoneinfo import ZoneInfo

import pytest

from apps.conversations.models import Conversation, Status
from apps.routing import services
from apps.routing.models import BusinessHours, Holiday, Mode
from apps.routing.schedules import department_is_open, is_within
from tests.factories import conversation_in

from .conftest import online, routing

BA = "America/Argentina/Buenos_Aires"  # UTC-3, no DST


def at(y, m, d, hh, mm=0, tz=BA):
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(tz)).astimezone(dt_tz.utc)


# 2026-11-23 is a Monday.
SPLIT = [I(weekday=0, start=time(9), end=time(13)), I(weekday=0, start=time(14), end=time(18))]
NIGHT = [I(weekday=0, start=time(22), end=time(6))]


@pytest.mark.parametrize("hour,minute,expected", [
    (8, 59, False), (9, 0, True), (12, 59, True), (13, 30, False), (14, 0, True), (17, 59, True), (18, 0, False)])
def test_several_intervals_per_day(hour, minute, expected):
    assert is_within(SPLIT, at(2026, 11, 23, hour, minute), BA) is expected


@pytest.mark.parametrize("when,expected", [
    (at(2026, 11, 23, 21, 59), False),   # Monday before the shift
    (at(2026, 11, 23, 22, 0), True),     # Monday 22:00
    (at(2026, 11, 23, 23, 59), True),
    (at(2026, 11, 24, 0, 0), True),      # past midnight: Tuesday morning belongs to Monday's shift
    (at(2026, 11, 24, 5, 59), True),
    (at(2026, 11, 24, 6, 0), False),
    (at(2026, 11, 24, 22, 30), False),   # Tuesday night has no shift
    (at(2026, 11, 23, 3, 0), False),     # Monday morning belongs to Sunday's (absent) shift
])
def test_overnight_shift_crosses_midnight(when, expected):
    assert is_within(NIGHT, when, BA) is expected


def test_overnight_sunday_wraps_to_monday():
    sunday_night = [I(weekday=6, start=time(22), end=time(6))]
    assert is_within(sunday_night, at(2026, 11, 23, 2, 0), BA)  # Monday 02:00


def test_time_zone_of_the_department_decides():
    # 12:00 UTC on Monday is 09:00 in Buenos Aires (open) and 06:00 in Mexico City (closed).
    noon_utc = datetime(2026, 11, 23, 12, 0, tzinfo=dt_tz.utc)
    assert is_within(SPLIT, noon_utc, BA)
    assert not is_within(SPLIT, noon_utc, "America/Mexico_City")


def test_holiday_closes_the_day_including_an_overnight_tail():
    assert not is_within(SPLIT, at(2026, 11, 23, 10), BA, holidays=[date(2026, 11, 23)])
    assert not is_within(NIGHT, at(2026, 11, 24, 2), BA, holidays=[date(2026, 11, 24)])
    assert is_within(NIGHT, at(2026, 11, 23, 23), BA, holidays=[date(2026, 11, 24)])


def test_no_intervals_means_always_open():
    assert is_within([], at(2026, 11, 23, 3), BA)


@pytest.mark.django_db
def test_department_hours_and_holidays_from_the_database(cast):
    cfg = routing(cast.dept_a, mode=Mode.LOAD, use_schedule=True)
    cast.dept_a.time_zone = BA
    cast.dept_a.save()
    BusinessHours.objects.create(routing=cfg, weekday=0, start=time(22), end=time(6))
    assert department_is_open(cast.dept_a, at(2026, 11, 24, 1))
    Holiday.objects.create(date=date(2026, 11, 24), name="Feriado nacional")  # all departments
    assert not department_is_open(cast.dept_a, at(2026, 11, 24, 1))
    assert department_is_open(cast.dept_a, at(2026, 11, 23, 23))
    Holiday.objects.create(department=cast.dept_a, date=date(2026, 11, 23))
    assert not department_is_open(cast.dept_a, at(2026, 11, 23, 23))


@pytest.mark.django_db
def test_out_of_hours_goes_to_the_backup_department(cast):
    cfg = routing(cast.dept_a, mode=Mode.LOAD, use_schedule=True)
    BusinessHours.objects.create(routing=cfg, weekday=0, start=time(9), end=time(18))
    cast.dept_a.backup = cast.default
    cast.dept_a.save()
    online(cast.collab_a)
    from apps.departments.services import membership_set

    membership_set(user=cast.collab_b, department=cast.default)
    online(cast.collab_b)  # someone in the backup department can take it
    conv = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=conv.pk, now=at(2026, 11, 23, 20))
    conv.refresh_from_db()
    assert conv.department == cast.default and conv.status == Status.TRANSFER
    assert conv.events.filter(kind="escalation", reason="out_of_hours").exists()
    assert conv.events.filter(kind="transferred", to_department=cast.default).exists()
    # The backup department's own arrival queues it there.
    services.routing_conversation_arrived(conversation_id=conv.pk, now=at(2026, 11, 23, 20))
    conv.refresh_from_db()
    assert conv.status == Status.UNASSIGNED and conv.department == cast.default


@pytest.mark.django_db
def test_out_of_hours_without_backup_waits_unassigned(cast):
    cfg = routing(cast.dept_a, mode=Mode.LOAD, use_schedule=True)
    for weekday in range(5):
        BusinessHours.objects.create(routing=cfg, weekday=weekday, start=time(9), end=time(18))
    online(cast.collab_a)
    conv = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=conv.pk, now=at(2026, 11, 23, 20))
    conv.refresh_from_db()
    assert conv.status == Status.UNASSIGNED and conv.assignee is None
    assert services.routing_assign_waiting(now=at(2026, 11, 24, 8, 59)) == 0
    # In hours, the periodic pass assigns it.
    assert services.routing_assign_waiting(now=at(2026, 11, 24, 10)) == 1
    assert Conversation.objects.get(pk=conv.pk).assignee == cast.collab_a
