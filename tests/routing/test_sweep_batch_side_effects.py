"""The escalation sweep's side effects per batch: the customers' notices of one batch reach the
outbound workers as one delivery task (none for web chat, whose widget fetches them), each notice
is still delivered once, and the outgoing webhooks still get one row per notice."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from celery.signals import task_prerun

from apps.conversations import services as conv_services
from apps.conversations.models import Channel, Contact, ContactIdentity, Conversation, Message, Status
from apps.integrations.models import WebhookDelivery, WebhookEndpoint
from apps.routing import services
from apps.routing.models import Mode, Notification, Presence
from apps.routing.services import presence_set
from apps.routing.sweep import sweep
from tests.factories import conversation_in
# eager_celery: tasks run in-process (also on the PostgreSQL + Redis pass), so what ran is what was enqueued.
from tests.integrations.conftest import StandIn, eager_celery  # noqa: F401

from .conftest import online, routing

# Real commits: the batch is about what happens after each step commits (on_commit hooks).
pytestmark = pytest.mark.django_db(transaction=True)



def wa_ok(i: int) -> dict:
    return {"messaging_product": "whatsapp", "contacts": [{"input": "5491100000000", "wa_id": "5491100000000"}],
            "messages": [{"id": f"wamid.NOTICE{i}"}]}


@pytest.fixture
def tasks_run():
    ran: list[tuple[str, tuple]] = []

    def record(sender=None, args=None, **_kw):
        ran.append((sender.name, tuple(args or ())))

    task_prerun.connect(record, weak=False)
    yield ran
    task_prerun.disconnect(record)


@pytest.fixture
def provider(monkeypatch):
    monkeypatch.setenv("OUT_TEST_TOKEN", "EAAG-token")
    server = StandIn()
    server.responses = [(200, wa_ok(i)) for i in range(10)]
    yield server
    server.close()


def _whatsapp_waiting(cast, provider, n: int) -> list[Conversation]:
    """``n`` customers who wrote on WhatsApp and wait in Technical Support's queue."""
    channel = Channel.objects.create(name="WhatsApp", kind=Channel.Kind.WHATSAPP, default_department=cast.default,
                                     config={"phone_number_id": "1122334455667",
                                             "graph_base_url": provider.url + "/v21.0",
                                             "access_token_env": "OUT_TEST_TOKEN"})
    chats = []
    for i in range(n):
        phone = f"54911000000{i:02d}"
        contact = Contact.objects.create(name=f"Cliente {i}", language="es")
        ContactIdentity.objects.create(contact=contact, kind=channel.kind, value=phone)
        conv = conv_services.conversation_start(contact=contact, channel=channel, language="es")
        conv_services.message_receive(channel=channel, contact=contact, body="Hola", conversation=conv,
                                      meta={"from": phone}, external_id=f"wamid.IN{i}")
        conv_services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
        conv_services.conversation_enqueue(conversation=conv)
        chats.append(Conversation.objects.get(pk=conv.pk))
    return chats


def _arrive_then_wait(cast, chats: list[Conversation]) -> datetime:
    """The chats arrived while someone had room (nobody was told to wait), then that person left:
    their pick-up timers run out with nobody available. Returns when the last one was queued."""
    presence_set(user=cast.collab_a, status=Presence.OFFLINE)
    fresh = list(Conversation.objects.filter(pk__in=[c.pk for c in chats]))
    assert all(c.status == Status.UNASSIGNED for c in fresh) and not _notices(fresh)
    return max(c.queued_at for c in fresh)


def _notices(chats) -> list[Message]:
    return list(Message.objects.filter(conversation__in=chats, author_kind="system",
                                       meta__routing__in=["waiting", "unavailable"]).order_by("pk"))


def test_the_notices_of_one_batch_go_out_as_one_delivery_task_each_delivered_once(cast, eager_celery, tasks_run,
                                                                                   provider):
    routing(cast.dept_a, mode=Mode.MANUAL, pickup_minutes=5, pickup_auto_assign=False, pickup_notify=True)
    online(cast.collab_a, capacity=5)
    chats = _whatsapp_waiting(cast, provider, 3)
    start = _arrive_then_wait(cast, chats)
    tasks_run.clear()
    provider.requests.clear()

    stats = sweep(now=start + timedelta(minutes=6), assign=False)

    assert stats["claimed"] == 3 and stats["pickup:notified"] == 3
    notices = _notices(chats)
    # Nobody is available now: each customer hears it, in their language, with their place in line.
    assert len(notices) == 3 and all("Nadie de Technical Support" in m.body for m in notices), [m.body for m in notices]
    deliveries = [(name, args) for name, args in tasks_run if "deliver" in name]
    assert deliveries == [("apps.integrations.tasks.outbound_deliver_many", ([m.pk for m in notices],))]
    # Each notice reached the provider exactly once, and is marked sent.
    sent = [r for r in provider.requests if r["path"].endswith("/messages")]
    assert len(sent) == 3
    assert {m.delivery_status for m in Message.objects.filter(pk__in=[m.pk for m in notices])} == {"sent"}
    assert Notification.objects.filter(conversation__in=chats, kind="pickup_overdue").count() == 3 * len(
        services.operators_for(cast.dept_a.pk))


def test_web_chat_notices_enqueue_no_delivery_task(cast, eager_celery, tasks_run):
    routing(cast.dept_a, mode=Mode.MANUAL, pickup_minutes=5, pickup_auto_assign=False, pickup_notify=True)
    online(cast.collab_a, capacity=5)
    chats = [conversation_in(cast, Status.UNASSIGNED) for _ in range(3)]
    start = _arrive_then_wait(cast, chats)
    tasks_run.clear()

    sweep(now=start + timedelta(minutes=6), assign=False)

    assert len(_notices(chats)) == 3  # every customer is told, in the widget (which fetches it)
    assert [name for name, _args in tasks_run if "deliver" in name] == []


def test_each_notice_of_a_sweep_still_gets_its_outgoing_webhook_row(cast, eager_celery, provider):
    routing(cast.dept_a, mode=Mode.MANUAL, pickup_minutes=5, pickup_auto_assign=False, pickup_notify=True)
    online(cast.collab_a, capacity=5)
    chats = [conversation_in(cast, Status.UNASSIGNED) for _ in range(3)]
    start = _arrive_then_wait(cast, chats)
    endpoint = WebhookEndpoint.objects.create(description="CRM", url=provider.url + "/hook", events=["message.created"],
                                              is_active=True, allow_private_network=True)

    sweep(now=start + timedelta(minutes=6), assign=False)

    notices = _notices(chats)
    rows = WebhookDelivery.objects.filter(endpoint=endpoint, event_type="message.created")
    assert sorted(r.payload["data"]["message"]["id"] for r in rows) == [m.pk for m in notices]
