from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    name = "apps.integrations"
    label = "integrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Periodic work for Celery beat (django-celery-beat's DatabaseScheduler imports these
        # entries into its tables): re-send due webhook deliveries, process stored inbound bodies that
        # no task processed, re-send unfinished outgoing messages, poll IMAP mailboxes.
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save

        from asisteclick.celery import app

        from .channels.common import channel_cache_clear
        from .subscribers import connect as connect_subscribers

        # The conversation core's domain events and channel policies (DESIGN.md invariant 5).
        connect_subscribers()

        # Cache invalidation only (no domain flow): the inbound lookup of channels by provider id.
        for signal in (post_save, post_delete):
            signal.connect(channel_cache_clear, sender="conversations.Channel",
                           dispatch_uid=f"integrations-channel-cache-{signal is post_save}")

        app.conf.beat_schedule = {
            **(app.conf.beat_schedule or {}),
            "integrations-webhooks-sweep": {"task": "apps.integrations.tasks.webhooks_sweep", "schedule": 60.0},
            "integrations-inbound-sweep": {"task": "apps.integrations.tasks.inbound_sweep", "schedule": 15.0,
                                           "options": {"expires": 15.0}},
            "integrations-outbound-sweep": {"task": "apps.integrations.tasks.outbound_sweep",
                                            "schedule": float(settings.OUTBOUND_SWEEP_SECONDS),
                                            "options": {"expires": float(settings.OUTBOUND_SWEEP_SECONDS)}},
            "integrations-media-sweep": {"task": "apps.integrations.tasks.media_sweep", "schedule": 60.0,
                                         "options": {"expires": 60.0}},
            "integrations-email-poll": {"task": "apps.integrations.tasks.email_poll", "schedule": 60.0},
            "integrations-housekeeping": {"task": "apps.integrations.tasks.housekeeping", "schedule": 3600.0},
        }
