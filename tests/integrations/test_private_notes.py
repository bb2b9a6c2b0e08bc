"""A private note never reaches the customer, on any channel (issue 15).

Each test sends a note through the inbox's own form (POST is_internal=1, as the reply box does),
then a normal reply through the same form, and checks what the channel received: nothing for the
note, the reply for the reply (so the test fails if delivery were broken for everything).
"""
from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from apps.conversations import services
from apps.conversations.models import Channel, Message
from apps.integrations.models import WebhookDelivery, WebhookEndpoint
from apps.workspace import widget
from tests.factories import PASSWORD, conversation_in

from .test_email import smtp_server  # noqa: F401  (the local aiosmtpd fixture)
from .test_outbound_delivery import WA_OK, _channel, _open_conversation

pytestmark = pytest.mark.django_db

NOTE = "Nota interna: el cliente ya reinició el router, revisar la OLT"
REPLY = "Hola, ya estoy revisando tu conexión."


@pytest.fixture(autouse=True)
def _provider_token(monkeypatch):
    monkeypatch.setenv("OUT_TEST_TOKEN", "EAAG-token")


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """Through the reply box's endpoint; after-commit work (the delivery task) runs as in production."""
    def send(client, conv, body, note: bool):
        data = {"body": body, **({"is_internal": "1"} if note else {})}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("conversation-reply", args=[conv.pk]), data, HTTP_HX_REQUEST="true")
    return send


def _assigned(cast, conv):
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    services.conversation_enqueue(conversation=conv)
    services.conversation_assign(conversation=conv, assignee=cast.collab_a)


def _sent_texts(kind, stand_in, smtp) -> list[str]:
    if kind == Channel.Kind.EMAIL:
        return [m.content.decode("utf-8", "replace") for m in smtp.messages]
    out = []
    for req in stand_in.requests:
        body = json.loads(req["body"])
        out.append(json.dumps(body, ensure_ascii=False))
    return out


@pytest.mark.parametrize("kind", [Channel.Kind.WHATSAPP, Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM,
                                  Channel.Kind.EMAIL])
def test_a_note_is_never_sent_on_an_external_channel(cast, stand_in, smtp_server, kind, post):  # noqa: F811
    channel = _channel(cast, kind, stand_in, smtp_server)
    conv = _open_conversation(cast, channel, language="es")
    _assigned(cast, conv)
    stand_in.default = (200, WA_OK if kind == Channel.Kind.WHATSAPP else {"message_id": "m_OUT1"})
    client = Client()
    assert client.login(username=cast.collab_a.username, password=PASSWORD)
    assert post(client, conv, NOTE, note=True).status_code == 204
    note = Message.objects.get(conversation=conv, body=NOTE)
    assert note.is_internal and note.delivery_status == ""
    assert not any("OLT" in text for text in _sent_texts(kind, stand_in, smtp_server))
    assert post(client, conv, REPLY, note=False).status_code == 204
    texts = _sent_texts(kind, stand_in, smtp_server)
    assert any("revisando tu conexi" in text for text in texts)  # the channel works: only the note stayed home
    assert not any("OLT" in text for text in texts)


def test_a_note_never_reaches_the_web_chat_widget(cast, post):
    conv = conversation_in(cast, "in_progress", department=cast.dept_a, assignee=cast.collab_a)
    client = Client()
    assert client.login(username=cast.collab_b.username, password=PASSWORD)
    assert post(client, conv, NOTE, note=True).status_code == 404  # not visible to Sales: 404, no note
    client.logout()
    assert client.login(username=cast.collab_a.username, password=PASSWORD)
    assert post(client, conv, NOTE, note=True).status_code == 204
    assert post(client, conv, REPLY, note=False).status_code == 204
    visitor = widget.Visitor(channel_id=cast.channel.pk, visitor_id="v1", token="t", identity="v1",
                             contact_id=cast.customer.pk, has_identity=True)
    bodies = [m["body"] for m in widget.visitor_sync(visitor)["messages"]]
    assert REPLY in bodies and NOTE not in bodies


def test_a_note_is_not_an_outgoing_webhook_or_api_message(cast, post):
    WebhookEndpoint.objects.create(url="https://hooks.example/in", is_active=True)
    api = Channel.objects.create(name="API", kind=Channel.Kind.API, default_department=cast.default)
    conv = services.conversation_start(contact=cast.customer, channel=api, language="es")
    services.message_receive(channel=api, contact=cast.customer, body="Hola", conversation=conv)
    _assigned(cast, conv)
    before = WebhookDelivery.objects.count()
    client = Client()
    assert client.login(username=cast.collab_a.username, password=PASSWORD)
    assert post(client, conv, NOTE, note=True).status_code == 204
    assert not [d for d in WebhookDelivery.objects.all()[before:] if "OLT" in json.dumps(d.payload)]
    assert post(client, conv, REPLY, note=False).status_code == 204
    assert any("revisando" in json.dumps(d.payload, ensure_ascii=False) for d in WebhookDelivery.objects.all())
