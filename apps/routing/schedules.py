"""Business hours and shifts: several intervals per day, overnight intervals, time zones, holidays.

Every function takes ``now`` explicitly (an aware datetime) so tests freeze time by passing it.
An interval that ends at or before its start runs past midnight and belongs to the day it starts:
Monday 22:00-06:00 covers Monday 22:00 to Tuesday 06:00. Holidays are local calendar dates: on a
holiday nothing is open, including the morning tail of an overnight interval that began the day before.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or settings.TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(settings.TIME_ZONE)


def _covers(weekday: int, start: time, end: time, local: datetime) -> bool:
    t, wd = local.time().replace(tzinfo=None), local.weekday()
    if start < end:
        return wd == weekday and start <= t < end
    # Overnight (or 24 h when start == end): the evening part on its weekday, the morning part the next day.
    return (wd == weekday and t >= start) or (wd == (weekday + 1) % 7 and t < end)


def is_within(intervals: Iterable, now: datetime, tz_name: str | None, holidays: Iterable = ()) -> bool:
    """True when ``now`` falls inside one of ``intervals`` (objects with weekday/start/end) in ``tz_name``.

    No intervals at all means "always" (a department or agent without a schedule is never closed).
    """
    intervals = list(intervals)
    local = now.astimezone(zone(tz_name))
    if local.date() in {h for h in holidays}:
        return False
    if not intervals:
        return True
    return any(_covers(i.weekday, i.start, i.end, local) for i in intervals)


def next_open(intervals: Iterable, after: datetime, tz_name: str | None, holidays: Iterable = (),
              horizon_days: int = 400) -> datetime | None:
    """The first instant at or after ``after`` that falls inside ``intervals`` (``after`` itself when
    already open), or None if nothing opens within ``horizon_days`` (e.g. every day a holiday).

    An opening is either an interval's start or a local midnight (the morning tail of an overnight
    interval after a holiday evening opens at 00:00), so only those instants are tried.
    """
    intervals, holidays = list(intervals), set(holidays)
    if is_within(intervals, after, tz_name, holidays):
        return after
    if not intervals:
        return None  # no schedule is "always open": only holidays can close it, and all of them did
    tz = zone(tz_name)
    day = after.astimezone(tz).date()
    starts = sorted({i.start.replace(tzinfo=None) for i in intervals})
    for offset in range(horizon_days + 1):
        d = day + timedelta(days=offset)
        for t in [time(0, 0), *starts]:
            candidate = datetime.combine(d, t, tzinfo=tz)
            if candidate > after and is_within(intervals, candidate, tz_name, holidays):
                return candidate
    return None


def _department_schedule(department, since: datetime):
    """(business hours, holidays from two days before ``since``); inside a sweep (``memo.scope``)
    read once per department and day, not twice per escalation step (is it open, when is it next)."""
    from django.db.models import Q

    from apps.core import memo

    from .models import BusinessHours, Holiday

    lookback = (since - timedelta(days=2)).date()

    def load():
        holidays = list(Holiday.objects.filter(Q(department=department) | Q(department__isnull=True),
                                               date__gte=lookback).values_list("date", flat=True))
        return list(BusinessHours.objects.filter(routing_id=department.pk)), holidays

    return memo.memoised(("routing", "schedule", department.pk, lookback), load)


def department_is_open(department, now: datetime) -> bool:
    hours, holidays = _department_schedule(department, now)
    return is_within(hours, now, department.time_zone, holidays)


def department_next_open(department, after: datetime) -> datetime | None:
    """When the department (business hours and holidays) is next open at or after ``after``."""
    hours, holidays = _department_schedule(department, after)
    return next_open(hours, after, department.time_zone, holidays)


def agent_in_shift(presence, now: datetime, shifts=None) -> bool:
    shifts = list(presence.shifts.all()) if shifts is None else shifts
    return is_within(shifts, now, presence.user.time_zone if hasattr(presence, "user") else None)


def last_end(intervals: Iterable, now: datetime, tz_name: str | None) -> datetime | None:
    """The latest end of an interval at or before ``now`` (looking back a week): when the last shift
    finished. An overnight interval ends the day after it starts."""
    tz = zone(tz_name)
    today = now.astimezone(tz).date()
    best = None
    for back in range(8):
        day = today - timedelta(days=back)
        for i in intervals:
            if day.weekday() != i.weekday:
                continue
            end = datetime.combine(day if i.start < i.end else day + timedelta(days=1), i.end, tzinfo=tz)
            if end <= now and (best is None or end > best):
                best = end
    return best
