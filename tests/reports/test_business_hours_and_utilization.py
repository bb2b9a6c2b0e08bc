"""Business-hours arithmetic, the schedule provider hook, and the Operator utilization definition."""
from __future__ import annotations

from datetime import datetime

import pytest

from apps.conversations import services
from apps.reports.business_hours import ScheduleBook, business_seconds, make_schedule, parse_hours
from apps.reports.rollups import reports_refresh
from apps.reports.selectors import operator_rows, parse_filters
from tests.factories import conversation_in

from .conftest import BA, office_hours

WEEK = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}


def test_business_seconds_skip_nights_and_weekends():
    sched = make_schedule(WEEK, "America/Argentina/Buenos_Aires")
    fri_evening = datetime(2026, 3, 6, 17, 0, tzinfo=BA)
    mon_morning = datetime(2026, 3, 9, 9, 30, tzinfo=BA)
    assert business_seconds(fri_evening, mon_morning, sched) == 3600 + 1800
    sat = datetime(2026, 3, 7, 10, 0, tzinfo=BA)
    assert business_seconds(sat, sat.replace(hour=12), sched) == 0
    assert business_seconds(fri_evening, mon_morning, None) == (mon_morning - fri_evening).total_seconds()
    assert business_seconds(mon_morning, fri_evening, sched) == 0  # reversed range


def test_split_shifts_and_midnight():
    sched = make_schedule({"mon": [["08:00", "12:00"], ["20:00", "24:00"]], "tue": [["00:00", "02:00"]]})
    start = datetime(2026, 3, 2, 11, 0, tzinfo=BA)
    end = datetime(2026, 3, 3, 1, 0, tzinfo=BA)
    assert business_seconds(start, end, sched) == 3600 + 4 * 3600 + 3600


@pytest.mark.parametrize("bad", [[], {"monday": []}, {"mon": [["18:00", "09:00"]]}, {"mon": [["9"]]}])
def test_bad_schedules_are_refused_with_a_reason(bad):
    with pytest.raises(ValueError):
        parse_hours(bad)


def provider(department_id):
    return {"tz": "UTC", "hours": {"mon": [["00:00", "01:00"]]}}


@pytest.mark.django_db
def test_schedule_provider_setting_wins_over_routing_hours(cast, settings):
    office_hours(cast.dept_a, WEEK)
    assert ScheduleBook().for_department(cast.dept_a.pk)[1][0][0][0].hour == 9
    settings.REPORTS_SCHEDULE_PROVIDER = "tests.reports.test_business_hours_and_utilization.provider"
    assert ScheduleBook().for_department(cast.dept_a.pk)[1][0][0][0].hour == 0
    assert ScheduleBook().for_department(None) is None


@pytest.mark.django_db
def test_operator_utilization_is_active_slots_over_the_day_span(cast, clock):
    convs = [conversation_in(cast, "assigned", department=cast.dept_a, assignee=cast.collab_a) for _ in range(3)]
    clock.at(datetime(2026, 3, 2, 10, 0, tzinfo=BA))
    services.conversation_reassign(conversation=convs[0], assignee=cast.collab_ab, actor=cast.operator, reason="x")
    clock.at(datetime(2026, 3, 2, 10, 40, tzinfo=BA))
    services.conversation_transfer(conversation=convs[1], department=cast.dept_b, actor=cast.operator,
                                   reason="ventas")
    clock.at(datetime(2026, 3, 2, 11, 50, tzinfo=BA))
    services.conversation_archive(conversation=convs[2], actor=cast.operator)
    reports_refresh(settle_seconds=0)
    rows = {r["agent_id"]: r for r in operator_rows(parse_filters({"start": "2026-03-01", "end": "2026-03-31"}))}
    me = rows[cast.operator.pk]
    # slots 10:00, 10:30 and 11:45 are active; the day's span is 10:00..12:00 = 8 slots
    assert me["active_hours"] == 0.75 and me["logged_in_hours"] == 2.0
    assert me["utilization"] == pytest.approx(0.375)
    assert me["utilization_flag"] == "low" and me["logged_in_source"] == "activity_span"
    assert cast.collab_a.pk not in rows  # Collaborators never get a utilization figure


def test_overlapping_spans_count_once_and_holidays_are_closed():
    from datetime import date

    sched = make_schedule({"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}, "America/Argentina/Buenos_Aires",
                          holidays=["2026-03-09"])
    monday = datetime(2026, 3, 2, 8, 0, tzinfo=BA)
    assert business_seconds(monday, monday.replace(hour=20), sched) == 9 * 3600  # 09-18, not 10 h
    holiday = datetime(2026, 3, 9, 8, 0, tzinfo=BA)
    assert business_seconds(holiday, holiday.replace(hour=20), sched) == 0
    assert sched[2] == frozenset({date(2026, 3, 9)})


@pytest.mark.django_db
def test_routing_schedule_splits_overnight_intervals_and_lists_holidays(cast):
    from datetime import time

    from apps.reports.business_hours import routing_schedule
    from apps.routing.models import BusinessHours, DepartmentRouting, Holiday

    assert routing_schedule(cast.dept_a.pk) is None  # no routing intervals: around the clock
    routing = DepartmentRouting.objects.create(department=cast.dept_a)
    BusinessHours.objects.create(routing=routing, weekday=6, start=time(22, 0), end=time(6, 30))  # Sun night
    BusinessHours.objects.create(routing=routing, weekday=2, start=time(8, 0), end=time(8, 0))    # Wed 24 h
    Holiday.objects.create(date="2026-03-10", name="everyone")
    Holiday.objects.create(department=cast.dept_a, date="2026-03-11", name="ours")
    Holiday.objects.create(department=cast.dept_b, date="2026-03-12", name="not ours")
    found = routing_schedule(cast.dept_a.pk)
    assert found["hours"] == {"sun": [["22:00:00", "24:00"]], "mon": [["00:00", "06:30:00"]],
                              "wed": [["08:00:00", "24:00"]], "thu": [["00:00", "08:00:00"]]}
    assert found["holidays"] == ["2026-03-10", "2026-03-11"]
    assert found["tz"] == "America/Argentina/Buenos_Aires"


def _frt_seconds_of(cast, clock, agent, assigned_at, replied_at):
    from apps.conversations.models import Contact

    # A customer of its own each time (one open chat per customer and channel).
    conv = services.conversation_start(contact=Contact.objects.create(name="FRT customer"), channel=cast.channel)
    clock.at(assigned_at)
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    services.conversation_enqueue(conversation=conv)
    services.conversation_assign(conversation=conv, assignee=agent)
    clock.at(replied_at)
    services.message_send_human(conversation=conv, user=agent, body="Hola")


@pytest.mark.django_db
def test_first_response_uses_routing_hours_overnight_and_holidays_by_default(cast, clock):
    from datetime import time

    from apps.reports.selectors import build_report
    from apps.routing.models import BusinessHours, DepartmentRouting, Holiday

    # Routing's schedule (the one place for business hours) is what the reports read.
    routing = DepartmentRouting.objects.create(department=cast.dept_a)
    BusinessHours.objects.create(routing=routing, weekday=0, start=time(22, 0), end=time(6, 0))  # Mon 22-Tue 06
    Holiday.objects.create(date="2026-03-10", name="closed")  # Tuesday of the second week
    # Week 1: assigned Mon 21:58, reply Tue 00:03 -> 22:00..00:03 = 2 h 3 min of business time.
    _frt_seconds_of(cast, clock, cast.collab_a, datetime(2026, 3, 2, 21, 58, tzinfo=BA),
                    datetime(2026, 3, 3, 0, 3, tzinfo=BA))
    # Week 2: the same, but Tuesday is a holiday: only Monday 22:00..24:00 counts.
    _frt_seconds_of(cast, clock, cast.collab_b, datetime(2026, 3, 9, 21, 58, tzinfo=BA),
                    datetime(2026, 3, 10, 0, 3, tzinfo=BA))
    reports_refresh(settle_seconds=0)
    agents = {r["id"]: r for r in build_report(parse_filters({"start": "2026-03-01", "end": "2026-03-31"}))["agents"]}
    assert agents[cast.collab_a.pk]["frt_avg"] == 2 * 3600 + 180
    assert agents[cast.collab_b.pk]["frt_avg"] == 2 * 3600


@pytest.mark.django_db
def test_empty_provider_setting_means_around_the_clock(cast, settings):
    from datetime import time

    from apps.routing.models import BusinessHours, DepartmentRouting

    routing = DepartmentRouting.objects.create(department=cast.dept_a)
    BusinessHours.objects.create(routing=routing, weekday=0, start=time(22, 0), end=time(6, 0))
    assert ScheduleBook().for_department(cast.dept_a.pk)[1][0] == [(time(22, 0), time.max)]
    settings.REPORTS_SCHEDULE_PROVIDER = ""
    assert ScheduleBook().for_department(cast.dept_a.pk) is None


@pytest.mark.django_db
def test_operator_utilization_uses_presence_sessions_when_recorded(cast, clock):
    from apps.reports.presence import presence_model

    model = presence_model()
    assert model is not None  # routing records presence sessions
    conv = conversation_in(cast, "assigned", department=cast.dept_a, assignee=cast.collab_a)
    clock.at(datetime(2026, 3, 2, 10, 0, tzinfo=BA))
    services.conversation_reassign(conversation=conv, assignee=cast.collab_ab, actor=cast.operator, reason="x")
    model.objects.create(user=cast.operator, started_at=datetime(2026, 3, 2, 9, 0, tzinfo=BA),
                         ended_at=datetime(2026, 3, 2, 11, 30, tzinfo=BA))
    reports_refresh(settle_seconds=0)
    me = {r["agent_id"]: r for r in operator_rows(parse_filters({"start": "2026-03-01", "end": "2026-03-31"}))}[
        cast.operator.pk]
    assert me["logged_in_source"] == "presence" and me["logged_in_hours"] == 2.5
    assert me["utilization"] == pytest.approx(0.25 / 2.5)
