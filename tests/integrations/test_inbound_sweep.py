"""The inbound inbox is restart-safe: a stored body that no task processed (lost enqueue, Redis
flush, crashed worker) becomes messages through ``inbound_sweep``, exactly once; the task
retries with backoff; rows are claimed with a lease."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.conversations.models import Channel, Message
from apps.integrations import tasks
from apps.integrations.channels import whatsapp
from apps.integrations.inbound import CLAIM_LEASE, MAX_ATTEMPTS, inbound_process, inbound_sweep
from apps.integrations.models import InboundWebhook
from apps.integrations.signing import hub_signature

from .conftest import load_json

pytestmark = pytest.mark.django_db
SECRET = "sweep-secret"


@pytest.fixture
def wa(cast, monkeypatch):
    monkeypatch.setenv("WA_SWEEP_SECRET", SECRET)
    return Channel.objects.create(name="WA", kind=Channel.Kind.WHATSAPP, default_department=cast.default,
                                  config={"phone_number_id": "1122334455667", "app_secret_env": "WA_SWEEP_SECRET"})


def _stored(channel, *, age=timedelta(minutes=5), digest="d1", **fields) -> InboundWebhook:
    """A verified body stored by the webhook view whose enqueue never ran."""
    row = InboundWebhook.objects.create(channel=channel, body_sha256=digest,
                                        payload=load_json("whatsapp-cloud", "message.json")["text"])
    InboundWebhook.objects.filter(pk=row.pk).update(created_at=timezone.now() - age, **fields)
    return row


def test_stored_but_never_processed_row_becomes_one_message_even_if_the_sweep_runs_twice(wa):
    row = _stored(wa)
    assert not Message.objects.filter(channel=wa).exists()
    assert inbound_sweep() == 1
    assert inbound_sweep() == 0
    assert Message.objects.filter(channel=wa, external_id="wamid.xyzxyz").count() == 1
    row.refresh_from_db()
    assert row.processed_at is not None and row.claimed_until is None and row.attempts == 1 and not row.error


def test_sweep_leaves_fresh_rows_and_live_claims_alone_but_takes_over_expired_ones(wa):
    fresh = _stored(wa, age=timedelta(seconds=1), digest="fresh")  # its on-commit task is about to run
    held = _stored(wa, digest="held", claimed_until=timezone.now() + timedelta(minutes=1))  # a worker is on it
    assert inbound_sweep() == 0
    assert InboundWebhook.objects.filter(processed_at__isnull=True).count() == 2
    # The worker holding ``held`` crashed: its lease runs out and the sweep processes the row.
    InboundWebhook.objects.filter(pk=held.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert inbound_sweep() == 1
    held.refresh_from_db()
    fresh.refresh_from_db()
    assert held.processed_at and fresh.processed_at is None
    assert Message.objects.filter(channel=wa, external_id="wamid.xyzxyz").count() == 1


def test_a_claimed_row_is_not_processed_by_a_second_worker(wa):
    row = _stored(wa)
    InboundWebhook.objects.filter(pk=row.pk).update(claimed_until=timezone.now() + CLAIM_LEASE)
    assert inbound_process(inbound_id=row.pk) is None
    assert not Message.objects.filter(channel=wa).exists()


def test_task_retries_with_backoff_until_the_body_is_processed(wa, monkeypatch):
    assert tasks.inbound_process.max_retries >= 3 and tasks.inbound_process.retry_backoff
    row = _stored(wa)
    real = whatsapp.process
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        return real(**kwargs)

    monkeypatch.setattr(whatsapp, "process", flaky)
    tasks.inbound_process.apply(args=(row.pk,))  # in-process: Celery runs the retry right away
    row.refresh_from_db()
    assert len(calls) == 2 and row.processed_at and row.attempts == 2 and not row.error
    assert Message.objects.filter(channel=wa, external_id="wamid.xyzxyz").count() == 1


def test_failure_is_recorded_and_released_and_the_sweep_gives_up_after_max_attempts(wa, monkeypatch):
    row = _stored(wa)
    monkeypatch.setattr(whatsapp, "process", lambda **kw: (_ for _ in ()).throw(ValueError("bad body")))
    with pytest.raises(ValueError):
        inbound_process(inbound_id=row.pk)
    row.refresh_from_db()
    assert row.claimed_until is None and row.attempts == 1 and "bad body" in row.error
    for _ in range(MAX_ATTEMPTS + 2):
        inbound_sweep()
    row.refresh_from_db()
    assert row.attempts == MAX_ATTEMPTS and row.processed_at is None  # left for a human, error kept


def test_broker_down_still_answers_200_and_the_sweep_catches_up(wa, monkeypatch, django_capture_on_commit_callbacks):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.inbound_process, "delay", broker_down)
    raw = json.dumps(load_json("whatsapp-cloud", "message.json")["text"]).encode()
    with django_capture_on_commit_callbacks(execute=True):
        resp = Client().post("/webhooks/whatsapp/", data=raw, content_type="application/json",
                             HTTP_X_HUB_SIGNATURE_256=hub_signature(SECRET, raw))
    assert resp.status_code == 200 and resp.json()["status"] == "accepted"
    assert not Message.objects.filter(channel=wa).exists()
    InboundWebhook.objects.update(created_at=timezone.now() - timedelta(minutes=2))
    assert inbound_sweep() == 1
    assert Message.objects.filter(channel=wa, external_id="wamid.xyzxyz").count() == 1


def test_beat_runs_the_inbound_sweep():
    from asisteclick.celery import app

    assert any(e["task"] == "apps.integrations.tasks.inbound_sweep" for e in app.conf.beat_schedule.values())
