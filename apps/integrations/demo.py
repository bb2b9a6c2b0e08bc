"""Demo data for integrations (idempotent): an API channel, and the WhatsApp channel's config
naming the environment variables that hold its secrets (values never live in the database)."""
from __future__ import annotations


def seed(out) -> None:
    from apps.conversations.models import Channel
    from apps.conversations.demo import log
    from apps.departments.models import Department

    default = Department.objects.filter(is_default=True).first()
    channel, created = Channel.objects.get_or_create(
        kind=Channel.Kind.API, name="API (integraciones)", defaults={"default_department": default, "config": {}})
    if created:
        log(out, f"integrations: API channel #{channel.pk} (POST /api/v1/channels/{channel.pk}/inbound/)\n")
    for wa in Channel.objects.filter(kind=Channel.Kind.WHATSAPP):
        if not wa.config:
            wa.config = {"phone_number_id": "", "app_secret_env": "WHATSAPP_APP_SECRET",
                         "verify_token_env": "WHATSAPP_VERIFY_TOKEN", "access_token_env": "WHATSAPP_ACCESS_TOKEN"}
            wa.save(update_fields=["config"])
