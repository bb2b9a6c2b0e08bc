"""The embedded demo has no Celery beat: a daemon thread runs the same beat schedule in-process.

Every entry of the Celery app's ``beat_schedule`` with a fixed interval (routing's sweep, the AI
Agent's reconcile of lost turns and idle chats, the integrations' inbound and webhook sweeps, ...)
runs here at its own interval, eagerly, in this thread: whatever an app registers for beat also
runs in the demo, with no list to keep in step. Crontab entries (the weekly digest) are left to a
real beat.

Started by ``manage.py demo`` (through ``apps.routing.demo.seed``) and by ``runserver`` on the
embedded default (eager Celery), never in tests or in production (where beat runs the schedule).
Disable with ROUTING_INPROCESS_SWEEP=0.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from datetime import timedelta

log = logging.getLogger(__name__)
_started = threading.Event()


def interval_jobs(schedule: dict) -> list[tuple[str, str, float]]:
    """``(name, task, seconds)`` for each beat entry that runs at a fixed interval."""
    jobs = []
    for name, entry in (schedule or {}).items():
        every = entry.get("schedule")
        if isinstance(every, timedelta):
            every = every.total_seconds()
        if isinstance(every, (int, float)) and every > 0 and entry.get("task"):
            jobs.append((name, entry["task"], float(every)))
    return sorted(jobs)


def _task(app, name: str):
    """The registered task; Celery registers the apps' task modules when asked to import them."""
    if name not in app.tasks:
        app.loader.import_default_modules()  # autodiscovery of every app's tasks.py
    return app.tasks[name]


def run_due(jobs: list[tuple[str, str, float]], last_run: dict[str, float], now: float, app) -> list[str]:
    """Run (eagerly) the jobs whose interval has passed since their last run; returns their names."""
    ran = []
    for name, task, seconds in jobs:
        if now - last_run.get(name, float("-inf")) < seconds:
            continue
        last_run[name] = now
        try:
            result = _task(app, task).apply()
            if result.failed():
                log.warning("in-process %s failed: %s", name, result.result)
            elif isinstance(result.result, dict) and any(v for k, v in result.result.items() if k != "claimed"):
                log.info("%s: %s", name, result.result)
        except Exception:
            log.exception("in-process %s failed", name)
        ran.append(name)
    return ran


def start(interval: float | None = None) -> bool:
    if _started.is_set() or os.environ.get("ROUTING_INPROCESS_SWEEP", "1") == "0":
        return False
    _started.set()
    from asisteclick.celery import app

    jobs = interval_jobs(app.conf.beat_schedule)
    if interval:  # the routing sweep's own interval, when the caller asks for one
        jobs = [(n, t, float(interval) if t == "routing.sweep" else s) for n, t, s in jobs]
    tick = min([s for _n, _t, s in jobs] or [15.0])

    def loop():
        from django.db import close_old_connections

        last_run = {name: time.monotonic() for name, _t, _s in jobs}  # first runs one interval from now
        while True:
            time.sleep(tick)
            close_old_connections()
            run_due(jobs, last_run, time.monotonic(), app)

    threading.Thread(target=loop, name="inprocess-beat", daemon=True).start()
    log.info("in-process beat: %s", ", ".join(f"{n} every {s:g}s" for n, _t, s in jobs))
    return True
