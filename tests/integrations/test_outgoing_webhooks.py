"""Outgoing webhooks: Standard Webhooks signatures (published vectors from
standard-webhooks/standard-webhooks @ b2fa7b87, see tests/fixtures/README.md), the outbox
written with each conversation event, Celery delivery with retries, disabling, and SSRF refusal."""
from __future__ import annotations

import json
import socket

import pytest
from django.db import transaction

from apps.conversations import services
from apps.conversations.models import Contact, Status
from apps.integrations import webhooks
from apps.integrations.models import WebhookDelivery, WebhookEndpoint
from apps.integrations.netguard import UnsafeTarget, check_url
from apps.integrations.signing import standard_headers, standard_sign, standard_verify
from tests.factories import conversation_in

from .conftest import load_json


def test_signer_matches_published_vectors():
    data = load_json("webhook-signatures", "standard-webhooks-vectors.json")
    for v in data["vectors"]:
        assert standard_sign(v["secret"], v["webhook_id"], v["webhook_timestamp"], v["payload"]) == v["expected_signature"]
        headers = {"webhook-id": v["webhook_id"], "webhook-timestamp": str(v["webhook_timestamp"]),
                   "webhook-signature": v["expected_signature"]}
        assert standard_verify(v["secret"], headers, v["payload"], now=v["webhook_timestamp"])
        # without the whsec_ prefix too
        assert standard_sign(v["secret"][6:], v["webhook_id"], v["webhook_timestamp"], v["payload"]) == v["expected_signature"]


def test_verifier_negative_cases_from_the_suite():
    v = load_json("webhook-signatures", "standard-webhooks-vectors.json")["vectors"][0]
    ts = v["webhook_timestamp"]
    good = {"webhook-id": v["webhook_id"], "webhook-timestamp": str(ts), "webhook-signature": v["expected_signature"]}
    verify = lambda h, now=ts: standard_verify(v["secret"], h, v["payload"], now=now)  # noqa: E731
    for missing in good:
        assert not verify({k: x for k, x in good.items() if k != missing})
    assert not verify({**good, "webhook-timestamp": "hello"})
    assert not verify(good, now=ts + 301) and not verify(good, now=ts - 301)
    assert not verify({**good, "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="})
    assert not verify({**good, "webhook-signature": "v1,"})
    assert verify({**good, "webhook-signature": "v1,bm9wZQ== " + v["expected_signature"]})  # key rotation
    assert not verify({**good, "webhook-signature": "v2," + v["expected_signature"][3:]})
    with pytest.raises(ValueError):
        standard_sign("whsec_", "id", 1, "{}")


def test_ssrf_guard_refuses_private_targets(monkeypatch):
    for url in ("http://127.0.0.1/x", "http://localhost/x", "http://10.1.2.3/", "http://[::1]/", "http://169.254.169.254/",
                "http://192.168.0.10/", "ftp://example.org/", "http:///nohost"):
        with pytest.raises(UnsafeTarget):
            check_url(url)
    check_url("http://127.0.0.1/x", allow_private=True)

    # A name resolving to one public and one private address is refused (every address is checked).
    def fake_getaddrinfo(host, port, *a, **kw):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(UnsafeTarget):
        check_url("https://mixed.example/")


@pytest.mark.django_db
def test_outbox_rows_follow_events_and_messages(cast):
    ep = WebhookEndpoint.objects.create(url="https://hooks.example/in", is_active=True)
    only_csat = WebhookEndpoint.objects.create(url="https://hooks.example/csat", events=["csat.submitted"])
    WebhookEndpoint.objects.create(url="https://hooks.example/off", is_active=False)
    conv = conversation_in(cast, Status.ARCHIVED)
    services.conversation_rate(conversation=conv, score=5)
    services.conversation_reopen(conversation=conv, actor=cast.operator)
    types = list(WebhookDelivery.objects.filter(endpoint=ep).order_by("id").values_list("event_type", flat=True))
    assert types[0] == "conversation.created"
    for expected in ("message.created", "conversation.handed_off", "conversation.assigned", "conversation.resolved",
                     "csat.submitted", "conversation.reopened"):
        assert expected in types
    assert list(WebhookDelivery.objects.filter(endpoint=only_csat).values_list("event_type", flat=True)) == ["csat.submitted"]
    rated = WebhookDelivery.objects.filter(endpoint=ep, event_type="csat.submitted").get()
    assert rated.payload["data"]["event"]["score"] == 5 and rated.payload["data"]["conversation"]["id"] == conv.pk
    # Internal notes never leave.
    before = WebhookDelivery.objects.count()
    conv2 = conversation_in(cast, Status.IN_PROGRESS)
    n = WebhookDelivery.objects.count()
    services.message_send_human(conversation=conv2, user=cast.collab_a, body="nota", is_internal=True)
    assert WebhookDelivery.objects.count() == n > before


@pytest.mark.django_db
def test_rolled_back_transition_leaves_no_delivery(cast):
    WebhookEndpoint.objects.create(url="https://hooks.example/in")
    conv = conversation_in(cast, Status.UNASSIGNED)
    n = WebhookDelivery.objects.count()
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            services.conversation_pickup(conversation=conv, user=cast.collab_a)
            assert WebhookDelivery.objects.count() == n + 1
            raise RuntimeError("boom")
    assert WebhookDelivery.objects.count() == n


@pytest.mark.django_db
def test_delivery_signed_retried_and_logged(cast, stand_in, eager_celery, django_capture_on_commit_callbacks):
    ep = WebhookEndpoint.objects.create(url=stand_in.url + "/hook", allow_private_network=True,
                                        events=["conversation.resolved"])
    stand_in.responses = [(500, {"oops": True})]
    with django_capture_on_commit_callbacks(execute=True):
        conv = conversation_in(cast, Status.IN_PROGRESS)
        services.conversation_archive(conversation=conv, actor=cast.collab_a)  # enqueued on commit, sent eagerly
    d = WebhookDelivery.objects.get(endpoint=ep)
    assert d.status == "pending" and d.attempts == 1 and d.last_status_code == 500
    assert (d.next_attempt_at - d.created_at).total_seconds() >= webhooks.BACKOFF_SECONDS[0] - 1
    WebhookDelivery.objects.filter(pk=d.pk).update(next_attempt_at=d.created_at)  # time passes
    assert webhooks.webhooks_sweep() == 1
    d.refresh_from_db()
    assert d.status == "succeeded" and d.attempts == 2 and d.delivered_at
    req = stand_in.requests[-1]
    assert req["path"] == "/hook"
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert standard_verify(ep.secret, headers, req["body"].decode())
    assert headers["webhook-id"] == d.event_id and json.loads(req["body"])["type"] == "conversation.resolved"
    assert stand_in.requests[0]["headers"]["webhook-id"] == headers["webhook-id"]  # same id on retry
    ep.refresh_from_db()
    assert ep.consecutive_failures == 0
    # a duplicate task run after success sends nothing
    assert webhooks.webhook_deliver(delivery_id=d.pk) == "skipped"


@pytest.mark.django_db
def test_410_disables_endpoint(cast, stand_in, eager_celery, django_capture_on_commit_callbacks):
    ep = WebhookEndpoint.objects.create(url=stand_in.url, allow_private_network=True)
    stand_in.default = (410, {})
    with django_capture_on_commit_callbacks(execute=True):
        conversation_in(cast, Status.BOT)
    ep.refresh_from_db()
    assert not ep.is_active and "410" in ep.disabled_reason
    assert WebhookDelivery.objects.filter(endpoint=ep, status="failed").exists()


@pytest.mark.django_db
def test_repeated_failures_disable_endpoint(cast, stand_in, eager_celery, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    ep = WebhookEndpoint.objects.create(url=stand_in.url, allow_private_network=True, events=["conversation.created"])
    stand_in.default = (503, {})
    for n in range(3):  # three customers (one open chat per customer and channel)
        with django_capture_on_commit_callbacks(execute=True):
            services.conversation_start(contact=Contact.objects.create(name=f"C{n}"), channel=cast.channel)
    ep.refresh_from_db()
    assert not ep.is_active and ep.consecutive_failures == 3
    assert len(stand_in.requests) == 3


@pytest.mark.django_db
def test_private_target_refused_without_opt_in(cast, stand_in, eager_celery, django_capture_on_commit_callbacks):
    ep = WebhookEndpoint.objects.create(url=stand_in.url, events=["conversation.created"])
    with django_capture_on_commit_callbacks(execute=True):
        services.conversation_start(contact=cast.customer, channel=cast.channel)
    d = WebhookDelivery.objects.get(endpoint=ep)
    assert d.status == "failed" and d.last_error.startswith("refused target") and not stand_in.requests


def test_standard_headers_shape():
    h = standard_headers("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_1", "{}", timestamp=10)
    assert set(h) == {"webhook-id", "webhook-timestamp", "webhook-signature"} and h["webhook-signature"].startswith("v1,")


@pytest.mark.django_db
def test_delivery_connects_to_the_address_that_was_checked_not_a_rebound_one(cast, stand_in, monkeypatch):
    """DNS rebinding: the name answers a permitted address when checked and a forbidden one a moment
    later. The request must go to the checked address (Host header keeps the name)."""
    from apps.integrations import netguard

    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    port = stand_in.server.server_address[1]
    rebound_hits: list[str] = []

    class Rebound(BaseHTTPRequestHandler):  # a second receiver on another loopback address, same port
        def do_POST(self):  # noqa: N802
            rebound_hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    rebound = ThreadingHTTPServer(("127.0.0.2", port), Rebound)
    threading.Thread(target=rebound.serve_forever, daemon=True).start()
    real_getaddrinfo, answers = socket.getaddrinfo, []

    def rebinding_dns(host, port_, *args, **kwargs):
        if host != "hooks.example":
            return real_getaddrinfo(host, port_, *args, **kwargs)
        ip = "127.0.0.1" if not answers else "127.0.0.2"  # first answer checked, later ones rebound
        answers.append(ip)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port_))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    # For this test only, the stand-in's address counts as "public" (the real check refuses loopback).
    monkeypatch.setattr(netguard, "_is_public", lambda ip: str(ip) == "127.0.0.1")
    ep = WebhookEndpoint.objects.create(url=f"http://hooks.example:{port}/hook", events=["conversation.resolved"])
    conv = conversation_in(cast, Status.IN_PROGRESS)
    services.conversation_archive(conversation=conv, actor=cast.collab_a)
    d = WebhookDelivery.objects.get(endpoint=ep)
    try:
        assert webhooks.webhook_deliver(delivery_id=d.pk) == "succeeded"
    finally:
        rebound.shutdown()
        rebound.server_close()
    assert answers == ["127.0.0.1"]  # resolved once, by the check; the connection used that address
    assert len(stand_in.requests) == 1 and rebound_hits == []
    assert {k.lower(): v for k, v in stand_in.requests[0]["headers"].items()}["host"] == f"hooks.example:{port}"
