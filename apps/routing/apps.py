import os
import sys

from django.apps import AppConfig


class RoutingConfig(AppConfig):
    name = "apps.routing"
    label = "routing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings

        from apps.core import events

        from .tasks import on_assignee_released, on_needs_routing

        # Reactions to the conversation core's domain events (apps/core/events.py).
        events.conversation_needs_routing.connect(on_needs_routing)
        events.assignee_released.connect(on_assignee_released)

        from .services import notify_mentioned

        # A note's @mentions become notices that commit with the note.
        events.note_mentioned.connect_in_transaction(notify_mentioned)

        from apps.conversations.extensions import register_department_availability, register_reassign_choices

        from .selectors import online_counts
        from .services import reassign_choices

        register_reassign_choices(reassign_choices)
        register_department_availability(online_counts)

        # Sign-in offers going online; acting while offline switches you online (signals.py).
        from . import signals

        signals.connect()

        # Embedded default (tasks run in-process, no beat): plain runserver sweeps in a thread.
        # The reloader's parent process (RUN_MAIN unset with the reloader on) does not serve.
        argv = sys.argv[1:2]
        if (argv == ["runserver"] and getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
                and (os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv)):
            from .inprocess import start

            start()
