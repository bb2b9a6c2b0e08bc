"""The webhook path enqueues stored bodies through a per-process coalescing publisher: one task per
burst instead of one per webhook; a batch processes each body, and one bad body does not hold up
the others (it stays for its retry and the sweep)."""
from __future__ import annotations

import json

import pytest

from apps.conversations.models import Channel, Message
from apps.integrations.batching import CoalescingPublisher
from apps.integrations.inbound import inbound_process_batch
from apps.integrations.models import InboundWebhook


def test_a_burst_is_published_as_few_tasks_and_a_broker_failure_loses_no_stored_row():
    published: list[list[int]] = []
    publisher = CoalescingPublisher(published.append, window=60, max_batch=40)
    for i in range(100):
        publisher.add(i)
    publisher.flush()
    assert published == [list(range(0, 40)), list(range(40, 80)), list(range(80, 100))]

    def broker_down(ids):
        raise ConnectionError("redis is gone")

    failing = CoalescingPublisher(broker_down, window=60)
    failing.add(1)
    assert failing.flush() == 1  # logged, not raised: the row is stored and the sweep processes it


def _body(n: int, text: str | None = "Hola") -> dict:
    msg = {"from": "5491100000001", "id": f"wamid.batch.{n}", "timestamp": "1697043223", "type": "text",
           "text": {"body": text}}
    return {"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": "777"},
        "contacts": [{"profile": {"name": "Ana"}, "wa_id": "5491100000001"}], "messages": [msg]}}]}]}


@pytest.mark.django_db
def test_a_batch_processes_every_body_in_order_and_a_bad_one_stays_for_the_sweep(cast):
    channel = Channel.objects.create(name="WA", kind=Channel.Kind.WHATSAPP, default_department=cast.default,
                                     config={"phone_number_id": "777"})
    rows = [InboundWebhook.objects.create(channel=channel, body_sha256=f"h{n}", payload=payload) for n, payload in
            enumerate([_body(0), {"object": "whatsapp_business_account", "entry": "broken"}, _body(2, "Chau")])]
    assert inbound_process_batch(inbound_ids=[r.pk for r in rows]) == 2
    bodies = list(Message.objects.filter(channel=channel).order_by("id").values_list("body", flat=True))
    assert bodies == ["Hola", "Chau"]
    bad = InboundWebhook.objects.get(pk=rows[1].pk)
    assert bad.processed_at is None and bad.error and bad.claimed_until is None
    assert json.dumps(bad.payload)  # kept as received
