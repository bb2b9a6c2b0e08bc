"""Business-hours arithmetic, the schedule provider hook, and the Operator utilization definition."""
from __future__ import annotations

from datetime import datetime

import pytest

from apps.conversations import services
from apps.reports.business_hours import ScheduleBook, business_seconds, make_schedule, parse_hours
from apps.reports.models import DepartmentHours
from apps.reports.rollups import reports_refresh
from apps.reports.selectors import operator_rows, parse_filters
from tests.factories import conversation_in

from .conftest import BA

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
def test_schedule_provider_setting_wins_over_own_table(cast, settings):
    DepartmentHours.objects.create(department=cast.dept_a, hours=WEEK)
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
    services.conversation_transfer(conversation=convs[1], department=cast.dept_b, actor=cast.operator)
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
