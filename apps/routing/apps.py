import os
import sys

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "apps.routing"
    label = "routing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings

        from . import signals

        signals.connect()

        # Embedded default (tasks run in-process, no beat): plain runserver sweeps in a thread.
        # The reloader's parent process (RUN_MAIN unset with the reloader on) does not serve.
        argv = sys.argv[1:2]
        if (argv == ["runserver"] and getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
                and (os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv)):
            from .inprocess import start

            start()
