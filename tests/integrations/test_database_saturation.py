"""When the database cannot take a webhook's write, the provider gets 503 + Retry-After (it retries)
rather than a 500, and the retried delivery is stored once. Real PostgreSQL: another session holds
the inbox table locked and the server cancels the webhook's waiting INSERT."""
from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection, connections
from django.test import Client

from apps.conversations.models import Channel, Message
from apps.integrations.models import InboundWebhook
from apps.integrations.signing import hub_signature

SECRET = "saturation-secret"


def _body() -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": "5550001"},
            "contacts": [{"profile": {"name": "Sol"}, "wa_id": "5491155500001"}],
            "messages": [{"from": "5491155500001", "id": "wamid.saturation.1", "timestamp": "1697043223",
                          "type": "text", "text": {"body": "Hola"}}]}}]}]}).encode()


def _post(raw: bytes):
    return Client().post("/webhooks/whatsapp/", data=raw, content_type="application/json",
                         HTTP_X_HUB_SIGNATURE_256=hub_signature(SECRET, raw))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_webhook_the_database_cannot_store_gets_503_and_its_retry_is_stored_once(cast, monkeypatch, eager_celery):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    monkeypatch.setenv("SAT_SECRET", SECRET)
    channel = Channel.objects.create(name="WA", kind=Channel.Kind.WHATSAPP, default_department=cast.default,
                                     config={"phone_number_id": "5550001", "app_secret_env": "SAT_SECRET"})
    locked, release = threading.Event(), threading.Event()

    def hold_the_table():
        conn = connections.create_connection("default")
        try:
            with conn.cursor() as cur:
                cur.execute("BEGIN")
                cur.execute("LOCK TABLE integrations_inboundwebhook IN ACCESS EXCLUSIVE MODE")
                locked.set()
                # Cancel the webhook's INSERT as soon as it waits on the lock (what a statement
                # timeout or an operator's pg_cancel_backend does on a saturated server).
                for _ in range(500):
                    cur.execute("SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                " AND datname = current_database() AND pid <> pg_backend_pid()")
                    if cur.fetchone():
                        break
                    time.sleep(0.02)
                release.wait(10)
                cur.execute("ROLLBACK")
        finally:
            conn.close()

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    assert locked.wait(10)
    raw = _body()
    resp = _post(raw)
    release.set()
    holder.join()
    assert resp.status_code == 503, resp.content
    assert resp["Retry-After"] == "5" and resp.json()["detail"]  # a clear message (in the site language)
    assert not InboundWebhook.objects.exists()
    # Meta retries the same body: stored and processed once.
    assert _post(raw).status_code == 200 and _post(raw).status_code == 200
    assert InboundWebhook.objects.filter(channel=channel).count() == 1
    assert Message.objects.filter(channel=channel, external_id="wamid.saturation.1").count() == 1
