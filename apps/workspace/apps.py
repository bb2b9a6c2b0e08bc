from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "apps.workspace"
    label = "workspace"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from apps.core.report_tables import register_table

        from .reports import label_rows

        register_table("labels", label_rows)

        from apps.core import events

        from .services import labels_follow_status

        events.record_written.connect_in_transaction(labels_follow_status)
