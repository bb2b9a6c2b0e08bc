"""Date filters accept any valid ISO 8601 offset and never reach the database out of its range."""
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value,status", [
    ("0102-09-08T15:59:19-19:17", 200),  # schemathesis found this one: a -19:17 offset
    ("2026-11-25T10:00:00+14:00", 200),
    ("2026-11-25", 200),  # a date alone means its midnight
    ("not-a-date", 400),
])
def test_created_before_filter(cast, value, status):
    client = APIClient()
    client.force_authenticate(cast.collab_a)
    response = client.get("/api/v1/conversations/", {"created_before": value, "limit": -196})
    assert response.status_code == status, response.content


def test_unconnected_channel_fails_clearly_without_calling_out(cast, monkeypatch):
    """The demo's WhatsApp number has no phone number id: replies are marked failed with a reason
    and nothing is sent over the network."""
    import httpx

    from apps.conversations import services
    from apps.conversations.models import Channel, Status
    from apps.integrations.outbound import deliver_message
    from tests.factories import conversation_in

    monkeypatch.setattr(httpx, "post", lambda *a, **k: (_ for _ in ()).throw(AssertionError("network call")))
    cast.channel.kind = Channel.Kind.WHATSAPP
    cast.channel.config = {}
    cast.channel.save()
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    services.message_receive(channel=cast.channel, contact=conv.contact, body="Hola?", conversation=conv)  # window open
    msg = services.message_send_human(conversation=conv, user=cast.collab_a, body="Hola")
    deliver_message(message_id=msg.pk)
    msg.refresh_from_db()
    assert msg.delivery_status == "failed" and "phone_number_id" in msg.meta["delivery_error"]
    note = conv.messages.filter(is_internal=True).last()
    assert note is not None and "phone_number_id" in note.body
