"""A controllable clock: services stamp events and messages with timezone.now(), so patching it
lets a test write an event log with exact times (out of hours, idle gaps) through the real services."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

BA = ZoneInfo("America/Argentina/Buenos_Aires")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def office_hours(department, hours: dict) -> None:
    """Business hours in their one place, routing's schedule: {"mon": [["09:00", "18:00"]], ...}."""
    from datetime import time

    from apps.routing.models import BusinessHours, DepartmentRouting

    cfg, _ = DepartmentRouting.objects.get_or_create(department=department)
    BusinessHours.objects.bulk_create([BusinessHours(routing=cfg, weekday=WEEKDAYS.index(day), start=time.fromisoformat(a),
                                                     end=time.fromisoformat(b)) for day, spans in hours.items() for a, b in spans])


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self):
        return self.now

    def at(self, when: datetime) -> "Clock":
        self.now = when
        return self

    def tick(self, **kw) -> "Clock":
        self.now = self.now + timedelta(**kw)
        return self


@pytest.fixture
def clock(monkeypatch):
    c = Clock(datetime(2026, 3, 2, 10, 0, tzinfo=BA))  # a Monday, 10:00 in Buenos Aires
    monkeypatch.setattr("django.utils.timezone.now", c)
    return c


@pytest.fixture
def refresh():
    from apps.reports.rollups import reports_refresh

    def run():
        return reports_refresh(settle_seconds=0)
    return run


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """With DATABASE_URL set, settings pick the manifest storage, which needs collectstatic first;
    page tests here are about content and access, not hashed file names."""
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def client():
    """Pages in English unless a test asks otherwise (the operation's default language is Spanish)."""
    from django.test import Client

    return Client(HTTP_ACCEPT_LANGUAGE="en")
