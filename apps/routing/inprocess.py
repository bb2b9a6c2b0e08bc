"""The embedded demo has no Celery beat: a daemon thread runs the same sweep every few seconds.

Started by ``manage.py demo`` (through ``apps.routing.demo.seed``) and by ``runserver`` on the
embedded default (eager Celery), never in tests or in production (where beat runs ``routing.sweep``).
Disable with ROUTING_INPROCESS_SWEEP=0.
"""
from __future__ import annotations

import logging
import os
import threading
import time

log = logging.getLogger(__name__)
_started = threading.Event()


def start(interval: float | None = None) -> bool:
    if _started.is_set() or os.environ.get("ROUTING_INPROCESS_SWEEP", "1") == "0":
        return False
    _started.set()
    seconds = float(interval or os.environ.get("ROUTING_SWEEP_SECONDS", 15))

    def loop():
        from django.db import close_old_connections

        from .sweep import sweep

        while True:
            time.sleep(seconds)
            try:
                close_old_connections()
                stats = sweep()
                if any(v for k, v in stats.items() if k != "claimed"):
                    log.info("routing sweep: %s", stats)
            except Exception:
                log.exception("in-process routing sweep failed")

    threading.Thread(target=loop, name="routing-sweep", daemon=True).start()
    log.info("routing: in-process sweep every %ss", seconds)
    return True
