"""Business-hours arithmetic for response times.

Business hours and holidays live in one place: routing's ``BusinessHours`` and ``Holiday`` (the
same ones routing uses to decide what is "out of hours"), read here through ``routing_schedule``.
``settings.REPORTS_SCHEDULE_PROVIDER`` may name another callable ``provider(department_id) ->
{"tz": str, "hours": {"mon": [["09:00", "18:00"]], ...}, "holidays": ["2026-05-01", ...]} | None``
(set it to "" for no schedules at all). A department without a schedule works around the clock:
its response times are plain elapsed time.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.module_loading import import_string

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ROUTING_PROVIDER = "apps.reports.business_hours.routing_schedule"

# (time zone, {weekday: [(opens, closes), ...]} with no overlaps, closed local dates)
Schedule = tuple[ZoneInfo, dict[int, list[tuple[time, time]]], frozenset[date]]


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


def _merged(spans: list[tuple[time, time]]) -> list[tuple[time, time]]:
    """Overlapping or touching spans as one, so no second is counted twice."""
    out: list[tuple[time, time]] = []
    for opens, closes in sorted(spans):
        if out and opens <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], closes))
        else:
            out.append((opens, closes))
    return out


def make_schedule(hours: dict, tz: str = "", holidays=()) -> Schedule:
    """A schedule from weekday hours, a time zone name and closed dates (date objects or ISO strings)."""
    closed = frozenset(d if isinstance(d, date) else date.fromisoformat(str(d)) for d in holidays or ())
    week = {day: _merged(spans) for day, spans in parse_hours(hours).items()}
    return ZoneInfo(tz or settings.TIME_ZONE), week, closed


def business_seconds(start: datetime, end: datetime, schedule: Schedule | None) -> float:
    """Seconds between ``start`` and ``end`` that fall inside opening hours."""
    if end <= start:
        return 0.0
    if schedule is None:
        return (end - start).total_seconds()
    tz, week, closed = schedule
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    total = 0.0
    day: date = local_start.date()
    while day <= local_end.date():
        for opens, closes in ([] if day in closed else week.get(day.weekday(), [])):
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
        path = getattr(settings, "REPORTS_SCHEDULE_PROVIDER", None)
        if path is None:
            path = ROUTING_PROVIDER
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
                return make_schedule(found.get("hours") or {}, found.get("tz") or "", found.get("holidays") or ())
        return None


@lru_cache(maxsize=4)
def _provider(path: str):
    return import_string(path)


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M:%S")


def routing_schedule(department_id: int) -> dict | None:
    """The routing app's business hours and holidays of a department, in the provider format.

    Routing's intervals may run past midnight (``end <= start``: Monday 22:00-06:00 covers Monday
    22:00 to Tuesday 06:00, and ``start == end`` is 24 hours); here each one is split into the
    evening part on its weekday and the morning part on the next. Holidays (the department's and
    those without a department) are closed all day, including the morning tail of an overnight
    interval that began the evening before, as in ``apps.routing.schedules``. A department without
    routing intervals returns None (it works around the clock).
    """
    from django.db.models import Q

    from apps.departments.models import Department
    from apps.routing.models import BusinessHours, Holiday

    intervals = list(BusinessHours.objects.filter(routing_id=department_id).values_list("weekday", "start", "end"))
    if not intervals:
        return None
    hours: dict[str, list[list[str]]] = {}
    for weekday, start, end in intervals:
        if start < end:
            hours.setdefault(WEEKDAYS[weekday], []).append([_hhmm(start), _hhmm(end)])
            continue
        hours.setdefault(WEEKDAYS[weekday], []).append([_hhmm(start), "24:00"])
        if end > time.min:
            hours.setdefault(WEEKDAYS[(weekday + 1) % 7], []).append(["00:00", _hhmm(end)])
    holidays = Holiday.objects.filter(Q(department_id=department_id) | Q(department__isnull=True)) \
        .values_list("date", flat=True)
    from apps.routing.schedules import zone  # routing's reading of a department's zone (bad names: the default)

    tz = Department.objects.filter(pk=department_id).values_list("time_zone", flat=True).first() or ""
    return {"tz": zone(tz).key, "hours": hours, "holidays": sorted(d.isoformat() for d in holidays)}
