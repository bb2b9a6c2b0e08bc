from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Periodic work for Celery beat (django-celery-beat's DatabaseScheduler imports these
        # entries into its tables): re-send due webhook deliveries, poll IMAP mailboxes.
        from asisteclick.celery import app

        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            "integrations-webhooks-sweep": {"task": "apps.integrations.tasks.webhooks_sweep", "schedule": 60.0},
            "integrations-email-poll": {"task": "apps.integrations.tasks.email_poll", "schedule": 60.0},
            "integrations-housekeeping": {"task": "apps.integrations.tasks.housekeeping", "schedule": 3600.0},
        }
