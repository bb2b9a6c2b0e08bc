"""WhatsApp Cloud API channel.

Webhook bodies: tests/fixtures/whatsapp-cloud/*.json, written from Meta's documented webhook
shapes; handshake and send shapes from outbound_and_handshake.json; signature vectors:
x-hub-signature-256-vectors.json (GitHub's published vector plus Meta-style vectors computed with
the standard library over our bodies). See tests/fixtures/README.md.
"""
from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from apps.conversations import services
from apps.conversations.models import Channel, Contact, ContactIdentity, Conversation, Message
from apps.integrations.channels import whatsapp
from apps.integrations.inbound import inbound_process
from apps.integrations.models import InboundWebhook
from apps.integrations.outbound import deliver_message
from apps.integrations.signing import hub_signature, hub_signature_valid

from .conftest import fixture_path, load_json

SECRET = "test_app_secret_0123456789abcdef"
URL = "/webhooks/whatsapp/"


def all_bodies():
    folder = fixture_path("whatsapp-cloud")
    for path in sorted(folder.glob("*.json")):
        if path.name == "outbound_and_handshake.json":
            continue
        for name, body in json.loads(path.read_text()).items():
            yield f"{path.stem}#{name}", body


@pytest.fixture
def wa_channel(cast, monkeypatch, stand_in):
    monkeypatch.setenv("WA_TEST_SECRET", SECRET)
    monkeypatch.setenv("WA_TEST_VERIFY", "verify-me")
    monkeypatch.setenv("WA_TEST_TOKEN", "EAAG-token")
    return Channel.objects.create(
        name="WhatsApp", kind=Channel.Kind.WHATSAPP, default_department=cast.default,
        config={"phone_number_id": "1122334455667", "app_secret_env": "WA_TEST_SECRET",
                "verify_token_env": "WA_TEST_VERIFY", "access_token_env": "WA_TEST_TOKEN",
                "graph_base_url": stand_in.url + "/v21.0"})


def post(raw: bytes, secret: str = SECRET, **extra):
    return Client().post(URL, data=raw, content_type="application/json",
                         HTTP_X_HUB_SIGNATURE_256=hub_signature(secret, raw), **extra)


def test_signature_vectors():
    data = load_json("webhook-signatures", "x-hub-signature-256-vectors.json")
    gh = data["github_published_vector"]
    assert hub_signature(gh["secret"], gh["payload"].encode()) == gh["x_hub_signature_256"]
    for v in data["generated_meta_style_vectors"]:
        assert hub_signature_valid(v["app_secret"], v["raw_body"].encode(), v["x_hub_signature_256"])
    escaped, unescaped = data["generated_meta_style_vectors"][2:4]
    # Re-serialising the JSON changes the bytes: only the raw body verifies.
    assert not hub_signature_valid(SECRET, json.dumps(json.loads(unescaped["raw_body"]), ensure_ascii=False).encode()
                                   .replace(b": ", b":"), escaped["x_hub_signature_256"])
    assert not hub_signature_valid(SECRET, b"{}", None) and not hub_signature_valid(None, b"{}", "sha256=00")


def test_every_fixture_body_parses():
    kinds = {}
    for name, body in all_bodies():
        items = whatsapp.parse(body)
        assert items, name
        kinds[name] = {i.kind for i in items}
    assert kinds["message#text"] == {"message"}
    assert kinds["message_status#read"] == {"status"}
    assert kinds["system#phone_number_change"] == {"identity"}
    assert kinds["outgoing_message#text"] == {"ignored"}
    items = {n: whatsapp.parse(b)[0] for n, b in all_bodies()}
    assert items["message#text"].body == "Body Text" and items["message#text"].user_id == "US.13491208655302741918"
    assert items["message#image"].meta["media"]["mime_type"] == "image/jpeg"
    assert "Facebook HQ" in items["message#chosen_location"].body
    assert items["message#chosen_location"].meta["location"]["latitude"] == 37.4611978
    assert items["callback_button#button"].body == "title"
    assert items["callback_button#button"].meta["interactive"]["id"] == "callback_data"
    assert items["callback_selection#description"].meta["interactive"]["description"] == "description"
    assert items["callback_button#quick_reply_without_context"].user_id == "US.13491208655302741918"
    assert items["message_status#failed"].status == "failed"


def test_handshake(wa_channel):
    ok = Client().get(URL, {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "verify-me"})
    assert ok.status_code == 200 and ok.content == b"1158201444" and ok["Content-Type"].startswith("text/plain")
    assert Client().get(URL, {"hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "nope"}).status_code == 403
    assert Client().get(URL, {"hub.mode": "unsubscribe", "hub.challenge": "1",
                              "hub.verify_token": "verify-me"}).status_code == 403


@pytest.mark.django_db
def test_inbound_text_end_to_end_and_duplicate(wa_channel, eager_celery, django_capture_on_commit_callbacks):
    raw = json.dumps(load_json("whatsapp-cloud", "message.json")["text"]).encode()
    with django_capture_on_commit_callbacks(execute=True):  # store, then the Celery task after commit
        resp = post(raw)
    assert resp.status_code == 200 and resp.json()["status"] == "accepted"
    msg = Message.objects.get(channel=wa_channel, external_id="wamid.xyzxyz")
    assert msg.body == "Body Text" and msg.author_kind == "customer"
    ident_values = set(ContactIdentity.objects.filter(contact=msg.conversation.contact).values_list("value", flat=True))
    assert ident_values == {"972987654321", "US.13491208655302741918"}
    assert msg.conversation.contact.name == "Test Name"
    assert post(raw).json()["status"] == "duplicate"
    # Same message id in a different body (Meta retry with another envelope): still one message.
    other = json.loads(raw)
    other["entry"][0]["id"] = "other-envelope"
    with django_capture_on_commit_callbacks(execute=True):
        assert post(json.dumps(other).encode()).status_code == 200
    assert Message.objects.filter(external_id="wamid.xyzxyz").count() == 1
    assert InboundWebhook.objects.filter(processed_at__isnull=False).count() == 2


@pytest.mark.django_db
def test_bsuid_only_message_finds_the_same_contact(wa_channel):
    bodies = load_json("whatsapp-cloud", "message.json")
    row = InboundWebhook.objects.create(channel=wa_channel, body_sha256="a", payload=bodies["text"])
    inbound_process(inbound_id=row.pk)
    contact = Contact.objects.get(identities__value="972987654321")
    quick = load_json("whatsapp-cloud", "callback_button.json")["quick_reply_without_context"]
    row2 = InboundWebhook.objects.create(channel=wa_channel, body_sha256="b", payload=quick)
    inbound_process(inbound_id=row2.pk)
    assert Message.objects.get(external_id="wamid.xsidjx").conversation.contact == contact
    assert Contact.objects.count() == 3  # the cast's two customers plus this one


@pytest.mark.django_db
def test_all_fixture_bodies_process_without_error(wa_channel):
    for i, (name, body) in enumerate(all_bodies()):
        body = json.loads(json.dumps(body).replace("<WHATSAPP_USER_PHONE_NUMBER>", "5491100000000"))
        row = InboundWebhook.objects.create(channel=wa_channel, body_sha256=str(i), payload=body)
        inbound_process(inbound_id=row.pk)
        row.refresh_from_db()
        assert row.processed_at and not row.error, name


@pytest.mark.django_db
def test_statuses_update_delivery_status_without_downgrade(wa_channel, cast):
    conv = services.conversation_start(contact=cast.customer, channel=wa_channel)
    msg = services.message_post_agent(conversation=conv, body="hola")
    Message.objects.filter(pk=msg.pk).update(external_id="wamid.xyzxyz", delivery_status="sent")
    statuses = load_json("whatsapp-cloud", "message_status.json")
    for name, expected in (("delivered", "delivered"), ("read", "read"), ("sent", "read"), ("failed", "failed")):
        row = InboundWebhook.objects.create(channel=wa_channel, body_sha256=name, payload=statuses[name])
        inbound_process(inbound_id=row.pk)
        msg.refresh_from_db()
        assert msg.delivery_status == expected, name
    assert msg.meta["delivery_errors"][0]["code"] == 130472


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["forged", "malformed", "unknown_phone", "oversized", "not_whatsapp", "no_signature"])
def test_bad_requests_are_4xx_and_store_nothing(wa_channel, settings, case):
    raw = json.dumps(load_json("whatsapp-cloud", "message.json")["text"]).encode()
    if case == "forged":
        resp = post(raw, secret="wrong-secret")
        expected = (401, "invalid_signature")
    elif case == "no_signature":
        resp = Client().post(URL, data=raw, content_type="application/json")
        expected = (401, "invalid_signature")
    elif case == "malformed":
        resp = post(b'{"object": "whatsapp_business_account", "entry": [')
        expected = (400, "malformed_json")
    elif case == "unknown_phone":
        resp = post(raw.replace(b"1122334455667", b"9999999999999"))
        expected = (404, "unknown_phone_number_id")
    elif case == "not_whatsapp":
        resp = post(b'{"object": "page", "entry": []}')
        expected = (400, "invalid_payload")
    else:
        settings.INBOUND_WEBHOOK_MAX_BYTES = 1024
        resp = post(raw + b" " * 2048)
        expected = (413, "payload_too_large")
    assert (resp.status_code, resp.json()["error"]["code"]) == expected
    assert resp.json()["error"]["message"]
    assert not InboundWebhook.objects.exists() and not Message.objects.filter(channel=wa_channel).exists()


@pytest.mark.django_db
def test_outbound_graph_api_shape_and_window(wa_channel, cast, stand_in):
    row = InboundWebhook.objects.create(channel=wa_channel, body_sha256="t",
                                        payload=load_json("whatsapp-cloud", "message.json")["text"])
    inbound_process(inbound_id=row.pk)
    conv = Message.objects.get(external_id="wamid.xyzxyz").conversation
    expected = load_json("whatsapp-cloud", "outbound_and_handshake.json")
    stand_in.default = (200, expected["send_success_response"])
    reply = services.message_post_agent(conversation=conv, body="Hola, ¿en qué te ayudo?")
    deliver_message(message_id=reply.pk)
    reply.refresh_from_db()
    assert reply.external_id == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBIFAKEFAKEFAKEA" and reply.delivery_status == "sent"
    req = stand_in.requests[-1]
    assert req["path"] == "/v21.0/1122334455667/messages"
    assert req["headers"]["Authorization"] == "Bearer EAAG-token"
    sent = json.loads(req["body"])
    shape = expected["send_text_request"]
    # The documented shape plus our idempotency key, which the Cloud API echoes in status webhooks.
    assert set(sent) == set(shape) - {"_http"} | {"biz_opaque_callback_data"} and sent["to"] == "972987654321"
    assert sent["biz_opaque_callback_data"] == req["headers"]["Idempotency-Key"]
    assert sent["text"]["body"].startswith("🤖 ") and sent["text"]["body"].endswith(": Hola, ¿en qué te ayudo?")
    # A reply written while the window was open but delivered after it closed: nothing is sent and
    # the human sees why (the service refuses new replies up front: tests/integrations/test_reply_window.py).
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    services.conversation_enqueue(conversation=conv)
    services.conversation_assign(conversation=conv, assignee=cast.collab_a)
    n = len(stand_in.requests)
    late = services.message_send_human(conversation=conv, user=cast.collab_a, body="¿Seguís ahí?")
    Conversation.objects.filter(pk=conv.pk).update(last_customer_message_at=timezone.now() - timedelta(hours=25))
    deliver_message(message_id=late.pk)
    late.refresh_from_db()
    assert late.delivery_status == "failed" and "24" in late.meta["delivery_error"]
    assert len(stand_in.requests) == n
    note = Message.objects.filter(conversation=conv, author_kind="system", is_internal=True).last()
    assert note and "24" in note.body
    # The API refuses up front with a clear error.
    from .conftest import token_client

    resp = token_client(cast.collab_a).post(f"/api/v1/conversations/{conv.pk}/messages/", {"body": "hola"}, format="json")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "window_closed"


@pytest.mark.django_db
def test_outbound_provider_error_is_visible(wa_channel, cast, stand_in):
    conv = services.conversation_start(contact=cast.customer, channel=wa_channel)
    services.message_receive(channel=wa_channel, contact=cast.customer, body="hola", conversation=conv)
    stand_in.default = (400, {"error": {"message": "(#131047) Re-engagement message", "code": 131047}})
    msg = services.message_post_agent(conversation=conv, body="respuesta")
    deliver_message(message_id=msg.pk)
    msg.refresh_from_db()
    assert msg.delivery_status == "failed" and "131047" in msg.meta["delivery_error"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_webhook_replayed_five_times_concurrently_creates_one_message(wa_channel, eager_celery):
    """Real threads on PostgreSQL: 5 identical deliveries and 5 re-enveloped ones, all at once."""
    body = load_json("whatsapp-cloud", "message.json")["text"]
    raws = [json.dumps(body).encode()] * 5 + [json.dumps(body, indent=i).encode() for i in range(1, 6)]
    barrier = threading.Barrier(len(raws))
    codes: list[int] = []

    def deliver(raw):
        try:
            barrier.wait()
            codes.append(post(raw).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver, args=(r,)) for r in raws]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * len(raws)
    assert Message.objects.filter(channel=wa_channel, external_id="wamid.xyzxyz").count() == 1
    assert ContactIdentity.objects.filter(value="972987654321").count() == 1
    assert InboundWebhook.objects.count() == 6  # one per distinct body
