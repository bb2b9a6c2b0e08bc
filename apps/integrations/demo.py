"""Demo data for integrations: an API channel (idempotent). WhatsApp/Messenger/email channels need
real provider ids and secrets, so the demo only shows where they go."""
from __future__ import annotations


def seed(out) -> None:
    from apps.conversations.models import Channel
    from apps.departments.models import Department

    default = Department.objects.filter(is_default=True).first()
    channel, created = Channel.objects.get_or_create(
        kind=Channel.Kind.API, name="API (integraciones)",
        defaults={"default_department": default, "config": {}})
    if created:
        out.write(f"integrations: API channel #{channel.pk} (POST /api/v1/channels/{channel.pk}/inbound/)\n")
