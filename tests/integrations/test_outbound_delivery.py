"""Outgoing delivery: claimed before the provider is called (a duplicate task run never sends twice;
a crashed worker's lease expires), AI Agent messages marked as AI on every external channel in
the conversation's language, and the delivery status shown in the inbox."""
from __future__ import annotations

import email
import email.policy
import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.conversations import services
from apps.conversations.models import Channel, ContactIdentity, Conversation, Message, Status
from apps.integrations import outbound
from apps.integrations.channels import whatsapp
from apps.integrations.models import OutboundClaim
from apps.integrations.outbound import deliver_message
from tests.factories import conversation_in

from .test_email import smtp_server  # noqa: F401  (the local aiosmtpd fixture)

pytestmark = pytest.mark.django_db

WA_OK = {"messaging_product": "whatsapp", "contacts": [{"input": "5491100000000", "wa_id": "5491100000000"}],
         "messages": [{"id": "wamid.OUT1"}]}


@pytest.fixture(autouse=True)
def _provider_token(monkeypatch):
    monkeypatch.setenv("OUT_TEST_TOKEN", "EAAG-token")


def _channel(cast, kind: str, stand_in=None, smtp=None) -> Channel:
    config = {Channel.Kind.WHATSAPP: {"phone_number_id": "1122334455667"},
              Channel.Kind.MESSENGER: {"page_id": "111111111111111"},
              Channel.Kind.INSTAGRAM: {"ig_id": "17841400000000000"},
              Channel.Kind.EMAIL: {"address": "care@example.com", "smtp_host": "127.0.0.1",
                                   "smtp_port": getattr(smtp, "port", 25)}}[kind]
    if stand_in is not None:
        config.update(graph_base_url=stand_in.url + "/v21.0", access_token_env="OUT_TEST_TOKEN")
    return Channel.objects.create(name=kind, kind=kind, default_department=cast.default, config=config)


def _open_conversation(cast, channel: Channel, *, language: str) -> Conversation:
    """The customer wrote a minute ago (every messaging window is open)."""
    contact = cast.customer
    contact.email = "carla@cliente.com"
    contact.save()
    ContactIdentity.objects.get_or_create(contact=contact, kind=channel.kind, value="5491100000000")
    conv = services.conversation_start(contact=contact, channel=channel, language=language)
    services.message_receive(channel=channel, contact=contact, body="Hola", conversation=conv,
                             meta={"from": "5491100000000", "email_from": "carla@cliente.com"},
                             external_id=f"in-{channel.kind}")
    return Conversation.objects.get(pk=conv.pk)


def _assigned_whatsapp_chat(cast, stand_in) -> Conversation:
    conv = _open_conversation(cast, _channel(cast, Channel.Kind.WHATSAPP, stand_in), language="es")
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    services.conversation_enqueue(conversation=conv)
    services.conversation_assign(conversation=conv, assignee=cast.collab_a)
    return conv


# --- exactly one provider call per message ----------------------------------------------------------

def test_a_duplicate_delivery_while_the_first_is_sending_calls_the_provider_once(cast, stand_in, monkeypatch):
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    stand_in.default = (200, WA_OK)
    msg = services.message_post_agent(conversation=conv, body="Te ayudo")
    real_send, inner = whatsapp.send, []

    def send_with_a_duplicate_task_racing(message, key=""):
        if not inner:  # the second task run starts while the first is talking to the provider
            inner.append(deliver_message(message_id=message.pk))
        return real_send(message, key)

    monkeypatch.setattr(whatsapp, "send", send_with_a_duplicate_task_racing)
    assert deliver_message(message_id=msg.pk) == "sent"
    assert inner == ["busy"]
    assert deliver_message(message_id=msg.pk) == "skipped"  # and a late duplicate after the send
    assert len(stand_in.requests) == 1
    msg.refresh_from_db()
    assert msg.external_id == "wamid.OUT1" and msg.delivery_status == "sent"


def test_a_duplicate_delivery_after_a_refusal_neither_resends_nor_repeats_the_note(cast, stand_in):
    conv = _assigned_whatsapp_chat(cast, stand_in)
    stand_in.default = (400, {"error": {"message": "Recipient phone number not in allowed list", "code": 131030}})
    msg = services.message_send_human(conversation=conv, user=cast.collab_a, body="Hola")
    assert deliver_message(message_id=msg.pk) == "failed"
    assert deliver_message(message_id=msg.pk) == "skipped"
    assert outbound.outbound_sweep(now=timezone.now() + timedelta(hours=1)) == 0
    assert len(stand_in.requests) == 1
    assert conv.messages.filter(author_kind="system", is_internal=True).count() == 1


def test_a_crashed_workers_claim_expires_and_a_live_one_is_respected(cast, stand_in):
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    stand_in.default = (200, WA_OK)
    msg = services.message_post_agent(conversation=conv, body="Te ayudo")
    OutboundClaim.objects.filter(message=msg).update(claimed_until=timezone.now() + outbound.CLAIM_LEASE)
    assert deliver_message(message_id=msg.pk) == "busy" and not stand_in.requests
    OutboundClaim.objects.filter(message=msg).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert deliver_message(message_id=msg.pk) == "sent" and len(stand_in.requests) == 1
    claim = OutboundClaim.objects.get(message=msg)
    assert claim.finished_at is not None and claim.attempts == 1


# --- at least once: the outbox row, retries with backoff, the sweep ------------------------------------

def test_every_outgoing_message_on_a_pushed_channel_gets_its_outbox_row_in_the_same_transaction(cast, stand_in):
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    ai = services.message_post_agent(conversation=conv, body="Te ayudo")
    claim = OutboundClaim.objects.get(message=ai)
    assert claim.claimed_until is None and claim.finished_at is None and len(claim.idempotency_key) == 32
    note = services.message_post_system(conversation=conv, body="nota", internal=True)
    assert not OutboundClaim.objects.filter(message=note).exists()
    assert not OutboundClaim.objects.filter(message__author_kind="customer").exists()
    webchat = conversation_in(cast, Status.BOT)
    reply = services.message_post_agent(conversation=webchat, body="Hola")
    assert not OutboundClaim.objects.filter(message=reply).exists()


def test_the_sweep_sends_a_message_whose_task_was_lost_and_only_once(cast, stand_in):
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    stand_in.default = (200, WA_OK)
    msg = services.message_post_agent(conversation=conv, body="Te ayudo")  # its task never ran
    assert outbound.outbound_sweep() == 0  # its task may still be on its way (waiting in a backlog)
    later = timezone.now() + outbound.queued_max() + timedelta(seconds=1)
    assert outbound.outbound_sweep(now=later) == 1  # eager Celery: sent inside the sweep
    msg.refresh_from_db()
    assert msg.external_id == "wamid.OUT1" and msg.delivery_status == "sent"
    body = json.loads(stand_in.requests[0]["body"])
    key = OutboundClaim.objects.get(message=msg).idempotency_key
    assert body["biz_opaque_callback_data"] == key and stand_in.requests[0]["headers"]["Idempotency-Key"] == key
    assert outbound.outbound_sweep(now=later + timedelta(hours=1)) == 0
    assert len(stand_in.requests) == 1


def _backoff_over(msg):
    """The backoff is over and the retry's own task was lost: the sweep is what sends it."""
    past = timezone.now() - timedelta(seconds=1)
    OutboundClaim.objects.filter(message=msg).update(claimed_until=past, enqueued_at=past - outbound.queued_max())


@pytest.fixture
def broker(monkeypatch):
    """The outbound queue: tasks put on it by the sweep are kept (a backlog), not run."""
    queued = []
    monkeypatch.setattr("apps.integrations.tasks.outbound_deliver.delay", lambda *args: queued.append(args))
    return queued


def test_the_sweep_leaves_a_send_waiting_in_a_backlog_alone(cast, stand_in, broker):
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    msg = services.message_post_agent(conversation=conv, body="Te ayudo")  # queued with the message
    start = timezone.now()
    for seconds in range(0, 600, 15):  # every beat sweep for ten minutes while its task waits
        assert outbound.outbound_sweep(now=start + timedelta(seconds=seconds)) == 0
    assert broker == [] and not stand_in.requests
    claim = OutboundClaim.objects.get(message=msg)
    assert claim.enqueues == 1 and claim.claimed_until is None


def test_a_send_queued_long_ago_and_never_claimed_is_queued_again_once_per_stale_period(cast, stand_in, broker,
                                                                                       settings):
    settings.OUTBOUND_QUEUED_MAX_SECONDS = 300  # configurable
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    msg = services.message_post_agent(conversation=conv, body="Te ayudo")
    lost = timezone.now() + timedelta(seconds=301)  # its task was lost (broker flushed)
    assert outbound.outbound_sweep(now=lost - timedelta(seconds=2)) == 0
    assert outbound.outbound_sweep(now=lost) == 1 and broker == [(msg.pk,)]
    for seconds in (15, 30, 60, 290):  # the next sweeps while that task waits in the queue
        assert outbound.outbound_sweep(now=lost + timedelta(seconds=seconds)) == 0
    assert outbound.outbound_sweep(now=lost + timedelta(seconds=301)) == 1  # lost again
    assert broker == [(msg.pk,), (msg.pk,)] and not stand_in.requests
    assert OutboundClaim.objects.get(message=msg).enqueues == 3  # with the message, then two sweeps


def test_a_worker_killed_between_its_claim_and_the_provider_call_is_redelivered_when_the_lease_expires(
        cast, stand_in, broker, monkeypatch, caplog):
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    stand_in.default = (200, WA_OK)
    msg = services.message_post_agent(conversation=conv, body="Te ayudo")

    class Killed(BaseException):  # kill -9: nothing after this point runs, no handler sees it
        pass

    def killed(message, key=""):
        raise Killed

    real_send = whatsapp.send
    monkeypatch.setattr(whatsapp, "send", killed)
    with pytest.raises(Killed):
        deliver_message(message_id=msg.pk)  # the task queued with the message reached a worker
    monkeypatch.setattr(whatsapp, "send", real_send)  # the worker restarted
    claim = OutboundClaim.objects.get(message=msg)
    assert claim.enqueued_at is None and claim.provider_called_at is not None and not stand_in.requests
    now = timezone.now()
    assert outbound.outbound_sweep(now=now + timedelta(seconds=60)) == 0  # the lease still runs
    expired = now + outbound.CLAIM_LEASE + timedelta(seconds=1)  # well before OUTBOUND_QUEUED_MAX_SECONDS
    assert expired < claim.created_at + outbound.queued_max()
    assert outbound.outbound_sweep(now=expired) == 1 and broker == [(msg.pk,)]
    assert outbound.outbound_sweep(now=expired + timedelta(seconds=15)) == 0  # its redelivery is on its way
    OutboundClaim.objects.filter(message=msg).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert deliver_message(message_id=msg.pk) == "sent"  # the redelivered task runs
    assert deliver_message(message_id=msg.pk) == "skipped"  # a late duplicate of it sends nothing
    assert len(stand_in.requests) == 1
    msg.refresh_from_db()
    assert msg.external_id == "wamid.OUT1"
    assert outbound.outbound_sweep(now=expired + timedelta(hours=1)) == 0


def test_a_backlog_of_sends_gets_one_task_each_from_the_sweep_while_it_drains(cast, stand_in, broker):
    """The full-scale fault bench queued 936 delivery tasks for 504 sends: count them here."""
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    stand_in.responses = [(200, {"messages": [{"id": f"wamid.B{i}"}]}) for i in range(6)]
    sends = [services.message_post_agent(conversation=conv, body=f"Respuesta {i}") for i in range(6)]
    start = timezone.now()
    # The backlog drains slowly: one send reaches a worker per minute, while beat sweeps every 15 s.
    for tick in range(0, 6 * 60, 15):
        if tick % 60 == 0:
            assert deliver_message(message_id=sends[tick // 60].pk) == "sent"
        outbound.outbound_sweep(now=start + timedelta(seconds=tick))
    assert broker == [] and len(stand_in.requests) == 6
    assert sum(OutboundClaim.objects.filter(message__in=sends).values_list("enqueues", flat=True)) == 6


def test_a_transient_failure_is_retried_with_backoff_until_it_is_sent(cast, stand_in):
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    stand_in.responses = [(500, {"error": {"message": "temporarily unavailable", "code": 2}}),
                          (400, {"error": {"message": "Rate limit hit", "code": 130429}})]
    stand_in.default = (200, WA_OK)
    msg = services.message_post_agent(conversation=conv, body="Te ayudo")
    assert deliver_message(message_id=msg.pk) == "retry"
    claim = OutboundClaim.objects.get(message=msg)
    first_wait = (claim.claimed_until - timezone.now()).total_seconds()
    assert 3 < first_wait < 7 and "temporarily unavailable" in claim.last_error and claim.finished_at is None
    assert deliver_message(message_id=msg.pk) == "busy"  # not before the backoff is over
    assert outbound.outbound_sweep() == 0
    _backoff_over(msg)
    assert outbound.outbound_sweep() == 1  # a throttled answer (400 with code 130429): retry again
    claim.refresh_from_db()
    assert claim.attempts == 2 and (claim.claimed_until - timezone.now()).total_seconds() > first_wait
    _backoff_over(msg)
    assert outbound.outbound_sweep() == 1
    msg.refresh_from_db()
    assert msg.delivery_status == "sent" and len(stand_in.requests) == 3
    assert not conv.messages.filter(author_kind="system", is_internal=True).exists()


def test_after_the_last_attempt_the_human_sees_why(cast, stand_in, settings):
    settings.OUTBOUND_MAX_ATTEMPTS = 2
    conv = _assigned_whatsapp_chat(cast, stand_in)
    stand_in.default = (503, {"error": {"message": "down", "code": 2}})
    msg = services.message_send_human(conversation=conv, user=cast.collab_a, body="Hola")
    assert deliver_message(message_id=msg.pk) == "retry"
    OutboundClaim.objects.filter(message=msg).update(claimed_until=timezone.now())
    assert deliver_message(message_id=msg.pk) == "failed"
    msg.refresh_from_db()
    assert msg.delivery_status == "failed" and conv.messages.filter(author_kind="system", is_internal=True).count() == 1


def _crash_after_the_provider_answered(msg):
    """The state a worker killed between the provider's answer and our save leaves behind."""
    OutboundClaim.objects.filter(message=msg).update(
        claimed_until=timezone.now() - timedelta(seconds=1), provider_called_at=timezone.now() - timedelta(minutes=3),
        attempts=1)


def test_a_redelivery_in_doubt_reuses_the_key_so_an_idempotent_provider_sends_once(cast, stand_in, caplog):
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    channel.config["provider_idempotency"] = True
    channel.save()
    conv = _open_conversation(cast, channel, language="es")
    stand_in.default = (200, WA_OK)
    msg = services.message_post_agent(conversation=conv, body="Te ayudo")
    key = OutboundClaim.objects.get(message=msg).idempotency_key
    _crash_after_the_provider_answered(msg)
    assert deliver_message(message_id=msg.pk) == "sent"
    assert stand_in.requests[-1]["headers"]["Idempotency-Key"] == key
    msg.refresh_from_db()
    assert "delivery_in_doubt" not in msg.meta and "possibly sent already" not in caplog.text


def test_a_redelivery_in_doubt_without_provider_idempotency_is_logged_and_a_duplicate_detected(cast, stand_in, caplog):
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    stand_in.default = (200, {"messages": [{"id": "wamid.SECOND"}]})
    msg = services.message_post_agent(conversation=conv, body="Te ayudo")
    key = OutboundClaim.objects.get(message=msg).idempotency_key
    _crash_after_the_provider_answered(msg)
    assert deliver_message(message_id=msg.pk) == "sent"
    assert "possibly sent already" in caplog.text
    msg.refresh_from_db()
    assert msg.meta["delivery_in_doubt"] and msg.external_id == "wamid.SECOND"
    # The first send's status webhook arrives later carrying our key: a duplicate, detected.
    assert not whatsapp.apply_status(channel=channel, external_id="wamid.FIRST", status="delivered", key=key)
    msg.refresh_from_db()
    assert msg.meta["duplicate_sends"] == ["wamid.FIRST"] and msg.delivery_status == "sent"
    assert "delivered twice" in caplog.text


def test_a_status_webhook_with_our_key_adopts_a_send_whose_save_was_lost_so_the_sweep_does_not_resend(cast, stand_in):
    channel = _channel(cast, Channel.Kind.WHATSAPP, stand_in)
    conv = _open_conversation(cast, channel, language="es")
    msg = services.message_post_agent(conversation=conv, body="Te ayudo")
    key = OutboundClaim.objects.get(message=msg).idempotency_key
    _crash_after_the_provider_answered(msg)
    assert whatsapp.apply_status(channel=channel, external_id="wamid.FIRST", status="delivered", key=key)
    msg.refresh_from_db()
    assert msg.external_id == "wamid.FIRST" and msg.delivery_status == "delivered"
    assert outbound.outbound_sweep(now=timezone.now() + timedelta(hours=1)) == 0
    assert deliver_message(message_id=msg.pk) == "skipped" and not stand_in.requests


# --- AI Agent messages say so, on every channel, in the customer's language --------------------------

EXPECTED_LABEL = {"es": "🤖 Asistente virtual (IA): ", "en": "🤖 Virtual assistant (AI): "}


def _sent_text(kind: str, stand_in, smtp) -> str:
    if kind == Channel.Kind.EMAIL:
        sent = email.message_from_bytes(smtp.messages[-1].content, policy=email.policy.default)
        return sent.get_content().strip()
    body = json.loads(stand_in.requests[-1]["body"])
    return body["text"]["body"] if kind == Channel.Kind.WHATSAPP else body["message"]["text"]


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("kind", [Channel.Kind.WHATSAPP, Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM,
                                  Channel.Kind.EMAIL])
def test_ai_agent_messages_are_marked_as_ai_on_every_channel(cast, stand_in, smtp_server, kind, language):  # noqa: F811
    channel = _channel(cast, kind, stand_in, smtp_server)
    conv = _open_conversation(cast, channel, language=language)
    stand_in.default = (200, WA_OK if kind == Channel.Kind.WHATSAPP else {"message_id": "m_OUT1"})
    ai = services.message_post_agent(conversation=conv, body="Tu pedido sale hoy.")
    assert deliver_message(message_id=ai.pk) == "sent"
    assert _sent_text(kind, stand_in, smtp_server) == EXPECTED_LABEL[language] + "Tu pedido sale hoy."
    ai.refresh_from_db()
    assert ai.body == "Tu pedido sale hoy."  # the stored message (and the inbox) keep the plain text
    # A human's reply goes out as written.
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    services.conversation_enqueue(conversation=conv)
    services.conversation_assign(conversation=conv, assignee=cast.collab_a)
    stand_in.default = (200, {"messages": [{"id": "wamid.OUT2"}]} if kind == Channel.Kind.WHATSAPP
                        else {"message_id": "m_OUT2"})
    human = services.message_send_human(conversation=conv, user=cast.collab_a, body="Soy Ana, del equipo.")
    assert deliver_message(message_id=human.pk) == "sent"
    assert _sent_text(kind, stand_in, smtp_server) == "Soy Ana, del equipo."


# --- the inbox shows what the channel reported ---------------------------------------------------------

def test_inbox_shows_delivery_status_of_outbound_replies_as_labelled_text(cast):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    human = conv.messages.get(author_kind="human")
    ai = services.message_post_agent(conversation=conv, body="Respuesta de la IA")
    failed = services.message_send_human(conversation=conv, user=cast.collab_a, body="No llega")
    note = services.message_send_human(conversation=conv, user=cast.collab_a, body="nota", is_internal=True)
    Message.objects.filter(pk=human.pk).update(delivery_status="read")
    Message.objects.filter(pk=ai.pk).update(delivery_status="delivered")
    Message.objects.filter(pk=failed.pk).update(delivery_status="failed", meta={"delivery_error": "sin conexión"})
    Message.objects.filter(pk=note.pk).update(delivery_status="sent")  # never shown for a note
    Message.objects.filter(conversation=conv, author_kind="customer").update(delivery_status="read")
    client = Client()
    client.force_login(cast.collab_a)
    html = client.get(reverse("workspace-conversation-messages", args=[conv.pk])).content.decode()

    def item(pk):
        start = html.index(f'id="msg-{pk}"')
        return html[start:html.index("</li>", start)]

    assert '<span class="visually-hidden">Estado de entrega: </span>Leído' in item(human.pk)
    assert "Entregado" in item(ai.pk) and 'data-delivery-status="delivered"' in item(ai.pk)
    assert "No entregado" in item(failed.pk) and "sin conexión" in item(failed.pk)
    assert "data-delivery-status" not in item(note.pk)
    customer = conv.messages.filter(author_kind="customer").first()
    assert "data-delivery-status" not in item(customer.pk)
    # The same list is included in the conversation page.
    page = client.get(reverse("conversation-detail", args=[conv.pk])).content.decode()
    assert "Estado de entrega:" in page
