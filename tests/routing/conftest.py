from __future__ import annotations

from datetime import datetime, timezone as dt_tz

import pytest

from apps.routing.models import AgentPresence, DepartmentRouting, Presence

# A fixed instant: Wednesday 2026-11-25 15:00 UTC (12:00 in Buenos Aires).
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=dt_tz.utc)


def online(user, capacity: int = 3, **fields) -> AgentPresence:
    presence, _ = AgentPresence.objects.update_or_create(
        user=user, defaults={"status": Presence.ONLINE, "capacity": capacity, **fields})
    return presence


def routing(department, **fields) -> DepartmentRouting:
    cfg, _ = DepartmentRouting.objects.update_or_create(department=department, defaults=fields)
    return cfg


@pytest.fixture
def now():
    return NOW
