"""Snooze choices of the conversation screen: the presets and the custom time, read in the user's
time zone (``accounts.middleware`` activates ``User.time_zone``, else ``settings.TIME_ZONE``).

The write itself (validation, event, live signal) is ``conversations.services.conversation_snooze``.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from .rows import snooze_label

MORNING = time(9, 0)


@dataclass(frozen=True)
class Preset:
    value: str
    label: str
    until: datetime

    @property
    def when(self) -> str:
        return snooze_label(self.until)


def _at_morning(day, tz) -> datetime:
    return datetime.combine(day, MORNING, tzinfo=tz)


def presets(now: datetime | None = None) -> list[Preset]:
    """"1 hour", "tomorrow 9:00" and "next week" (the coming Monday 9:00; a week later on a
    Monday), local to the user."""
    now = now or timezone.now()
    tz = timezone.get_current_timezone()
    local = timezone.localtime(now, tz)
    monday = local.date() + timedelta(days=(7 - local.weekday()) or 7)
    return [
        Preset("1h", _("In 1 hour"), now + timedelta(hours=1)),
        Preset("tomorrow", _("Tomorrow, 9:00"), _at_morning(local.date() + timedelta(days=1), tz)),
        Preset("next_week", _("Next week (Monday 9:00)"), _at_morning(monday, tz)),
    ]


def until_from(data, now: datetime | None = None) -> datetime | None:
    """The time a snooze form asked for: a preset's, or the custom ``until`` ("YYYY-MM-DDTHH:MM",
    from ``<input type="datetime-local">``, in the user's time zone). None: nothing usable (the
    service answers with a clear error)."""
    chosen = (data.get("preset") or "").strip()
    if chosen:
        return next((p.until for p in presets(now) if p.value == chosen), None)
    try:
        value = parse_datetime((data.get("until") or "").strip()[:32])
    except ValueError:
        return None
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_current_timezone())
    return value


def input_bounds(now: datetime | None = None) -> tuple[str, str]:
    """``min`` and ``max`` of the custom time input (local, minutes), for the browser's own picker."""
    from apps.conversations.services import SNOOZE_MAX_DAYS

    now = timezone.localtime(now or timezone.now())
    fmt = "%Y-%m-%dT%H:%M"
    return (now + timedelta(minutes=1)).strftime(fmt), (now + timedelta(days=SNOOZE_MAX_DAYS)).strftime(fmt)
