"""Celery app. Tasks are thin: they take ids, load, and call a service (see DESIGN.md)."""
import os

from celery import Celery, Task
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")


class ResilientTask(Task):
    """Every task retries transient database errors (a saturated pool, a restarted server, a
    dropped connection) with backoff instead of dying on them: tasks are idempotent by design
    (DESIGN.md invariant 3), so running one again is safe. A task that declares its own
    ``autoretry_for`` keeps it."""

    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    max_retries = 8


app = Celery("asisteclick", task_cls=ResilientTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Pooled PostgreSQL connections stay with the process (and thread) that opened them: see dbpool.
from .dbpool import install as _dbpool_install  # noqa: E402

_dbpool_install(app)
