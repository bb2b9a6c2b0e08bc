"""Thin periodic tasks (Celery beat): the rollup refresh, the reconcile sweep, the weekly digest.

All three are safe to run twice or after a crash: state lives in the database (see rollups.py).
"""
from __future__ import annotations

from celery import shared_task


@shared_task(name="reports.refresh")
def reports_refresh_task() -> dict:
    from .rollups import reports_refresh

    return reports_refresh()


@shared_task(name="reports.reconcile")
def reports_reconcile_task() -> int:
    from .rollups import reports_reconcile

    return reports_reconcile()


@shared_task(name="reports.weekly_digest")
def reports_weekly_digest_task() -> int:
    from .digest import send_weekly_digest

    return send_weekly_digest()
