"""Messenger and Instagram: entry[].messaging[] events, echoes, deliveries, reads, the Send API.

Bodies from tests/fixtures/meta-constructed/examples.json (written from Meta's documented
Messenger/Instagram webhook and Send API shapes) and instagram/instagram_message_events.json
(Instagram messaging events without the "object" key). See tests/fixtures/README.md."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.conversations import services
from apps.conversations.models import Channel, Message
from apps.integrations.channels import meta
from apps.integrations.inbound import inbound_process
from apps.integrations.models import InboundWebhook
from apps.integrations.outbound import deliver_message
from apps.integrations.signing import hub_signature

from .conftest import load_json

SECRET = "meta-app-secret"


@pytest.fixture
def channels(cast, monkeypatch, stand_in):
    monkeypatch.setenv("META_TEST_SECRET", SECRET)
    monkeypatch.setenv("META_TEST_TOKEN", "PAGE-TOKEN")
    common = {"app_secret_env": "META_TEST_SECRET", "access_token_env": "META_TEST_TOKEN",
              "verify_token_env": "META_TEST_SECRET", "graph_base_url": stand_in.url + "/v21.0"}
    fb = Channel.objects.create(name="FB", kind=Channel.Kind.MESSENGER, default_department=cast.default,
                                config={"page_id": "111111111111111", **common})
    ig = Channel.objects.create(name="IG", kind=Channel.Kind.INSTAGRAM, default_department=cast.default,
                                config={"ig_id": "17841400000000000", **common})
    return fb, ig


def send(url, body, secret=SECRET):
    raw = json.dumps(body).encode()
    return Client().post(url, data=raw, content_type="application/json",
                         HTTP_X_HUB_SIGNATURE_256=hub_signature(secret, raw))


def test_all_fixtures_parse():
    examples = load_json("meta-constructed", "examples.json")
    for name, body in examples.items():
        if isinstance(body, dict) and "entry" in body:
            assert meta.parse(body), name
    for name, body in load_json("instagram", "instagram_message_events.json").items():
        meta.parse(body, default_object="instagram")  # no "object" key in these renders
    events = meta.parse(examples["messenger_quick_reply_and_postback"])
    assert [e.kind for e in events] == ["message", "message"]
    assert events[0].meta["quick_reply"]["payload"] == "CONFIRM_YES" and events[1].body == "Talk to agent"
    assert [e.kind for e in meta.parse(examples["messenger_delivery_and_read"])] == ["delivery", "read"]
    assert meta.parse(examples["instagram_echo"])[0].kind == "echo"
    assert meta.parse(examples["instagram_unsend"])[0].kind == "deleted"


@pytest.mark.django_db
def test_messenger_inbound_batched_echo_delivery_read(channels, stand_in, eager_celery,
                                                      django_capture_on_commit_callbacks):
    fb, _ig = channels
    ex = load_json("meta-constructed", "examples.json")

    def send_now(url, body):
        with django_capture_on_commit_callbacks(execute=True):  # the Celery task runs after commit
            return send(url, body)

    assert send_now("/webhooks/messenger/", ex["messenger_text"]).status_code == 200
    assert send_now("/webhooks/messenger/", ex["messenger_batched_two_entries"]).status_code == 200
    bodies = list(Message.objects.filter(channel=fb, author_kind="customer").order_by("id")
                  .values_list("body", flat=True))
    assert bodies == ["Hi, where is my order #1001?", "first", "second"]  # the AI Agent's replies aside
    conv = Message.objects.get(external_id="m_AAAA1").conversation
    assert conv.messages.filter(author_kind="customer").count() == 3
    # Our reply through the Send API, then Meta's delivery and read receipts.
    stand_in.default = (200, {"recipient_id": "2222222222222222", "message_id": "m_AAAA4"})
    with django_capture_on_commit_callbacks(execute=True):  # delivery is enqueued on commit
        reply = services.message_post_agent(conversation=conv, body="Your order shipped today.")
    stored = conv.messages.count()
    assert send_now("/webhooks/messenger/", ex["messenger_echo_of_page_reply"]).status_code == 200
    assert conv.messages.count() == stored  # the echo of our own send is not stored twice
    reply.refresh_from_db()
    assert reply.external_id == "m_AAAA4" and reply.delivery_status == "sent"
    req = json.loads(stand_in.requests[-1]["body"])
    assert req == {"recipient": {"id": "2222222222222222"}, "messaging_type": "RESPONSE",
                   "message": {"text": req["message"]["text"]}}
    assert req["message"]["text"].startswith("🤖 ") and req["message"]["text"].endswith(": Your order shipped today.")
    assert stand_in.requests[-1]["path"] == "/v21.0/111111111111111/messages"
    delivery = json.loads(json.dumps(ex["messenger_delivery_and_read"]))
    delivery["entry"][0]["messaging"] = delivery["entry"][0]["messaging"][:1]
    send_now("/webhooks/messenger/", delivery)
    reply.refresh_from_db()
    assert reply.delivery_status == "delivered"
    read = json.loads(json.dumps(ex["messenger_delivery_and_read"]))
    read["entry"][0]["messaging"] = read["entry"][0]["messaging"][1:]
    read["entry"][0]["messaging"][0]["read"]["watermark"] = 99999999999999
    send_now("/webhooks/messenger/", read)
    reply.refresh_from_db()
    assert reply.delivery_status == "read"


@pytest.mark.django_db
def test_instagram_inbound_and_outbound(channels, stand_in):
    _fb, ig = channels
    ex = load_json("meta-constructed", "examples.json")
    assert send("/webhooks/instagram/", ex["instagram_text"]).status_code == 200
    row = InboundWebhook.objects.get(channel=ig)
    inbound_process(inbound_id=row.pk)
    msg = Message.objects.get(channel=ig)
    assert msg.body == "Do you ship to Canada?"
    stand_in.default = (200, {"recipient_id": "3333333333333333", "message_id": "ig-out-1"})
    reply = services.message_post_agent(conversation=msg.conversation, body="Thanks!")
    deliver_message(message_id=reply.pk)
    reply.refresh_from_db()
    assert reply.external_id == "ig-out-1"
    assert json.loads(stand_in.requests[-1]["body"])["recipient"] == {"id": "3333333333333333"}


@pytest.mark.django_db
def test_meta_rejections_store_nothing(channels):
    ex = load_json("meta-constructed", "examples.json")
    assert send("/webhooks/messenger/", ex["messenger_text"], secret="forged").status_code == 401
    assert send("/webhooks/messenger/", ex["instagram_text"]).status_code == 400  # wrong object for this URL
    unknown = json.loads(json.dumps(ex["messenger_text"]).replace("111111111111111", "999"))
    assert send("/webhooks/messenger/", unknown).status_code == 404
    bad = Client().post("/webhooks/instagram/", data=b"{nope", content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed_json"
    assert not InboundWebhook.objects.exists()
