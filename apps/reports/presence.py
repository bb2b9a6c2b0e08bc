"""Optional presence data (built by the routing helper). Guarded: reports work without it.

If ``settings.REPORTS_PRESENCE_MODEL`` names it, or ``apps.routing.models`` (or ``apps.accounts.models``) exposes a ``PresenceSession`` model with a
``user`` foreign key and ``started_at`` / ``ended_at`` datetimes, logged-in time comes from it;
otherwise utilization falls back to the activity-span definition in ``selectors.operator_rows``.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from importlib import import_module

from django.utils import timezone


def presence_model():
    """The presence model: ``settings.REPORTS_PRESENCE_MODEL`` ("app_label.Model") if set, else a guess."""
    from django.apps import apps
    from django.conf import settings

    explicit = getattr(settings, "REPORTS_PRESENCE_MODEL", "")
    if explicit:
        return apps.get_model(explicit)
    for module in ("apps.routing.models", "apps.accounts.models"):
        try:
            model = getattr(import_module(module), "PresenceSession", None)
        except ImportError:
            continue
        if model is not None and all(hasattr(model, f) for f in ("user_id", "started_at", "ended_at")):
            return model
    return None


def presence_seconds(user_ids, start: datetime, end: datetime) -> dict[int, float] | None:
    """Logged-in seconds per user inside [start, end), or None when no presence model exists."""
    model = presence_model()
    if model is None:
        return None
    now = timezone.now()
    out: dict[int, float] = defaultdict(float)
    rows = model.objects.filter(user_id__in=list(user_ids), started_at__lt=end).exclude(ended_at__lt=start) \
        .values_list("user_id", "started_at", "ended_at")
    for user_id, started, ended in rows:
        lo, hi = max(started, start), min(ended or now, end)
        if hi > lo:
            out[user_id] += (hi - lo).total_seconds()
    return dict(out)
