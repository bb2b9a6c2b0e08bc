"""Business-hours arithmetic for response times.

Dependency, explicitly: if ``settings.REPORTS_SCHEDULE_PROVIDER`` is a dotted path to a callable
``provider(department_id) -> {"tz": str, "hours": {"mon": [["09:00", "18:00"]], ...}} | None`` (the
routing app's department schedules once they land), it is asked first. Otherwise the reports app's
own ``DepartmentHours`` row is used. No schedule at all means the department works around the clock
and response times are plain elapsed time.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.module_loading import import_string

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Schedule = tuple[ZoneInfo, dict[int, list[tuple[time, time]]]]


def _parse_time(text: str) -> time:
    if text in ("24:00", "24:00:00"):
        return time.max
    return time.fromisoformat(text)


def parse_hours(hours: dict) -> dict[int, list[tuple[time, time]]]:
    """{"mon": [["09:00", "18:00"]]} -> {0: [(09:00, 18:00)]}; raises ValueError on bad input."""
    if not isinstance(hours, dict):
        raise ValueError("opening hours must be an object keyed by weekday (mon..sun)")
    out: dict[int, list[tuple[time, time]]] = {}
    for key, spans in hours.items():
        if key not in WEEKDAYS:
            raise ValueError(f"unknown weekday {key!r}: use mon, tue, wed, thu, fri, sat, sun")
        parsed = []
        for span in spans or []:
            try:
                opens, closes = _parse_time(span[0]), _parse_time(span[1])
            except (TypeError, ValueError, IndexError) as exc:
                raise ValueError(f"{key}: each span is [\"HH:MM\", \"HH:MM\"]") from exc
            if closes <= opens:
                raise ValueError(f"{key}: {span[0]}-{span[1]} closes before it opens")
            parsed.append((opens, closes))
        out[WEEKDAYS.index(key)] = sorted(parsed)
    return out


def make_schedule(hours: dict, tz: str = "") -> Schedule:
    return ZoneInfo(tz or settings.TIME_ZONE), parse_hours(hours)


def business_seconds(start: datetime, end: datetime, schedule: Schedule | None) -> float:
    """Seconds between ``start`` and ``end`` that fall inside opening hours."""
    if end <= start:
        return 0.0
    if schedule is None:
        return (end - start).total_seconds()
    tz, week = schedule
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    total = 0.0
    day: date = local_start.date()
    while day <= local_end.date():
        for opens, closes in week.get(day.weekday(), []):
            span_start = datetime.combine(day, opens, tz)
            span_end = datetime.combine(day, closes, tz) if closes != time.max else \
                datetime.combine(day + timedelta(days=1), time.min, tz)
            lo, hi = max(span_start, local_start), min(span_end, local_end)
            if hi > lo:
                total += (hi - lo).total_seconds()
        day += timedelta(days=1)
    return total


class ScheduleBook:
    """Schedules looked up once per refresh batch (a dict, not a query per conversation)."""

    def __init__(self):
        self._cache: dict[int, Schedule | None] = {}
        self._own = None
        path = getattr(settings, "REPORTS_SCHEDULE_PROVIDER", "")
        self._provider = _provider(path) if path else None

    def for_department(self, department_id: int | None) -> Schedule | None:
        if not department_id:
            return None
        if department_id not in self._cache:
            self._cache[department_id] = self._lookup(department_id)
        return self._cache[department_id]

    def _lookup(self, department_id: int) -> Schedule | None:
        if self._provider is not None:
            found = self._provider(department_id)
            if found:
                return make_schedule(found.get("hours") or {}, found.get("tz") or "")
        if self._own is None:
            from .models import DepartmentHours

            self._own = {row.department_id: row for row in DepartmentHours.objects.select_related("department")}
        row = self._own.get(department_id)
        if row is None:
            return None
        return make_schedule(row.hours, row.time_zone or row.department.time_zone)


@lru_cache(maxsize=4)
def _provider(path: str):
    return import_string(path)
