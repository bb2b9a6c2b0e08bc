"""Idempotency keys survive a crash: a request that died before answering does not block its key
for a day (the record is abandoned after a minute), and opening a conversation is one
transaction (a crash halfway leaves no contact or conversation behind)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations import services
from apps.conversations.models import Channel, Contact, Conversation, Message
from apps.integrations.api.base import IDEMPOTENCY_ABANDONED_AFTER
from apps.integrations.models import IdempotencyRecord

from .conftest import token_client

pytestmark = pytest.mark.django_db
URL = "/api/v1/conversations/"


@pytest.fixture
def api_channel(cast):
    return Channel.objects.create(name="API", kind=Channel.Kind.API, default_department=cast.default)


def test_a_crash_mid_create_stores_nothing_and_the_key_can_be_retried_after_a_minute(cast, api_channel, monkeypatch):
    client = token_client(cast.operator)
    client.raise_request_exception = False
    body = {"channel": api_channel.pk, "body": "hola", "contact": {"name": "Crashy"}}

    def worker_dies(**kwargs):
        raise RuntimeError("worker killed mid-request")

    with monkeypatch.context() as m:
        m.setattr(services, "message_receive", worker_dies)
        crashed = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-crash")
    assert crashed.status_code == 500
    # One transaction: no contact, no conversation without its first message.
    assert not Contact.objects.filter(name="Crashy").exists()
    assert not Conversation.objects.filter(contact__name="Crashy").exists()
    record = IdempotencyRecord.objects.get(key="k-crash")
    assert record.status_code is None  # the crash left the key "in progress"
    # Right away, a retry still sees a request in progress ...
    busy = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-crash")
    assert busy.status_code == 409 and busy.json()["error"]["code"] == "idempotency_in_progress"
    # ... but after a minute the record counts as abandoned and the retry runs.
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - IDEMPOTENCY_ABANDONED_AFTER - timedelta(seconds=1))
    retry = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-crash")
    assert retry.status_code == 201, retry.json()
    conv = Conversation.objects.get(contact__name="Crashy")
    assert Message.objects.filter(conversation=conv, author_kind="customer", body="hola").count() == 1
    record.refresh_from_db()
    assert record.status_code == 201 and record.response_body["id"] == conv.pk
    # And from now on the stored answer is replayed.
    replay = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-crash")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert Conversation.objects.filter(contact__name="Crashy").count() == 1


def test_an_abandoned_key_with_another_body_is_still_refused(cast, api_channel):
    client = token_client(cast.operator)
    record = IdempotencyRecord.objects.create(user=cast.operator, key="k-old", request_hash="0" * 64)
    IdempotencyRecord.objects.filter(pk=record.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    resp = client.post(URL, {"channel": api_channel.pk, "body": "hola", "contact": {"name": "X"}}, format="json",
                       HTTP_IDEMPOTENCY_KEY="k-old")
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "idempotency_key_reused"
    assert not Contact.objects.filter(name="X").exists()
