"""Celery app. Tasks are thin: they take ids, load, and call a service (see DESIGN.md)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")

app = Celery("asisteclick")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
