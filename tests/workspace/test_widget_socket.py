"""The customer's web chat socket: origins, visitor binding, idempotent sends, catch-up, CSAT, limits."""
from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from apps.conversations import services
from apps.conversations.models import Contact, Conversation, Message, Status
from apps.workspace import widget
from apps.workspace.consumers import WidgetConsumer

pytestmark = pytest.mark.django_db(transaction=True)

KEY = "pk-test-widget"
SHOP = "https://shop.example"


@pytest.fixture
def webchat(cast):
    cast.channel.config = {"public_key": KEY, "allowed_origins": [SHOP]}
    cast.channel.save(update_fields=["config"])
    return cast


def _comm(origin=SHOP, key=KEY):
    headers = [(b"origin", origin.encode())] if origin else []
    return WebsocketCommunicator(WidgetConsumer.as_asgi(), f"/ws/widget/?key={key}", headers=headers)


async def _hello(comm, **hello):
    ok, _ = await comm.connect()
    assert ok
    await comm.send_json_to({"type": "hello", **hello})
    return await comm.receive_json_from()


async def _until(comm, kind, limit=20):
    for _ in range(limit):
        msg = await comm.receive_json_from(timeout=15)  # the first agent turn loads the embedding model
        if msg["type"] == kind:
            return msg
    raise AssertionError(f"no {kind}")


def test_origin_and_key_are_checked_before_the_handshake(webchat):
    """A foreign origin, no origin or an unknown key is refused; this server's own host is fine;
    and nothing but hello is answered before the visitor is known."""
    async def connects(origin, key=KEY):
        comm = _comm(origin, key)
        ok, _ = await comm.connect()
        if ok:
            await comm.disconnect()
        return ok

    async def run():
        refused = [await connects("https://evil.example"), await connects(None), await connects(SHOP, "no-such-key")]
        allowed = [await connects(SHOP), await connects("http://localhost:8000")]
        comm = _comm()
        await comm.connect()
        await comm.send_json_to({"type": "sync", "after": 0})
        early = await comm.receive_json_from()
        await comm.disconnect()
        return refused, allowed, early

    refused, allowed, early = async_to_sync(run)()
    assert refused == [False, False, False]
    assert allowed == [True, True]
    assert early["code"] == "unauthorized"


def test_visitor_chats_resends_idempotently_and_catches_up(webchat):
    async def run():
        comm = _comm()
        welcome = await _hello(comm)
        assert welcome["type"] == "welcome" and welcome["token"]
        await comm.send_json_to({"type": "send", "body": "<script>alert(1)</script> hola", "client_id": "c1"})
        ack = await _until(comm, "ack")
        # the same message again (as after a dropped connection): no duplicate
        await comm.send_json_to({"type": "send", "body": "<script>alert(1)</script> hola", "client_id": "c1"})
        ack2 = await _until(comm, "ack")
        await comm.disconnect()

        # a new connection with the token is the same visitor and catches up after its last id
        comm2 = _comm()
        again = await _hello(comm2, token=welcome["token"])
        await comm2.send_json_to({"type": "sync", "after": 0})
        synced = await _until(comm2, "messages")
        await comm2.send_json_to({"type": "sync", "after": synced["messages"][-1]["id"]})
        empty = await _until(comm2, "messages")
        await comm2.disconnect()
        return welcome, ack, ack2, again, synced, empty

    welcome, ack, ack2, again, synced, empty = async_to_sync(run)()
    assert ack["id"] == ack2["id"]
    assert Message.objects.filter(author_kind="customer").count() == 1
    contact = Message.objects.get(pk=ack["id"]).conversation.contact
    assert contact.identities.get().value.startswith(f"{webchat.channel.pk}:anon:")
    first = synced["messages"][0]
    assert first == {**first, "kind": "customer", "body": "<script>alert(1)</script> hola", "client_id": "c1"}
    # the placeholder (or real) agent took its turn: the chat has a state the widget can show
    assert synced["state"]["conversation"] == first["conversation"]
    assert empty["messages"] == []


def test_token_binds_visitor_to_own_conversations_only(webchat):
    other = conversation_other(webchat)

    async def run():
        comm = _comm()
        await _hello(comm)
        await comm.send_json_to({"type": "sync", "after": 0})
        mine = await _until(comm, "messages")
        await comm.send_json_to({"type": "rate", "conversation": other.pk, "score": 5})
        refused = await _until(comm, "error")
        await comm.disconnect()
        # a forged token is just a new visitor, never someone else's conversations
        comm2 = _comm()
        await _hello(comm2, token="forged:token")
        await comm2.send_json_to({"type": "sync", "after": 0})
        forged = await _until(comm2, "messages")
        await comm2.disconnect()
        return mine, refused, forged

    mine, refused, forged = async_to_sync(run)()
    assert mine["messages"] == [] and mine["state"] is None
    assert refused["code"] == "not_found"
    assert forged["messages"] == []
    assert Conversation.objects.get(pk=other.pk).csat_score is None


def conversation_other(cast):
    from tests.factories import conversation_in

    return conversation_in(cast, Status.ARCHIVED, department=cast.dept_a)


def test_internal_notes_never_reach_the_widget_and_human_replies_are_labelled(webchat):
    async def run():
        comm = _comm()
        await _hello(comm)
        await comm.send_json_to({"type": "send", "body": "necesito una persona", "client_id": "x1"})
        ack = await _until(comm, "ack")
        conv_id = (await database_sync_to_async(Message.objects.get)(pk=ack["id"])).conversation_id

        def human_side():
            conv = Conversation.objects.get(pk=conv_id)
            if conv.status == Status.BOT:
                services.conversation_escalate(conversation=conv, department=webchat.dept_a, trigger="explicit_request")
            conv.refresh_from_db()
            if conv.status == Status.TRANSFER:
                services.conversation_enqueue(conversation=conv)
            services.conversation_transfer(conversation=conv, department=webchat.dept_a, actor=webchat.operator,
                                           reason="tech") if conv.department_id != webchat.dept_a.pk else None
            conv.refresh_from_db()
            if conv.status == Status.TRANSFER:
                services.conversation_enqueue(conversation=conv)
            services.conversation_pickup(conversation=conv_id, user=webchat.collab_a)
            services.message_send_human(conversation=conv_id, user=webchat.collab_a, body="secreto", is_internal=True)
            services.message_send_human(conversation=conv_id, user=webchat.collab_a, body="Hola, soy Collab_A")

        await database_sync_to_async(human_side)()
        signal = await _until(comm, "signal")
        await comm.send_json_to({"type": "sync", "after": ack["id"]})
        synced = await _until(comm, "messages")
        await comm.disconnect()
        return signal, synced

    signal, synced = async_to_sync(run)()
    assert set(signal) <= {"type", "what", "conversation", "by"}
    bodies = [(m["kind"], m["body"]) for m in synced["messages"]]
    assert ("human", "Hola, soy Collab_A") in bodies
    assert all(body != "secreto" for _, body in bodies)
    human = next(m for m in synced["messages"] if m["kind"] == "human")
    assert human["author"] == "Collab_A"
    assert synced["state"]["status"] == Status.IN_PROGRESS and synced["state"]["agent"] == "Collab_A"


def test_csat_after_archive(webchat):
    async def run():
        comm = _comm()
        await _hello(comm)
        await comm.send_json_to({"type": "send", "body": "hola", "client_id": "r1"})
        ack = await _until(comm, "ack")

        def archive():
            conv = Message.objects.get(pk=ack["id"]).conversation
            services.conversation_archive(conversation=conv, actor=webchat.operator)
            return conv.pk

        conv_id = await database_sync_to_async(archive)()
        await comm.send_json_to({"type": "sync", "after": 0})
        synced = await _until(comm, "messages")
        await comm.send_json_to({"type": "rate", "conversation": conv_id, "score": 9})
        bad = await _until(comm, "error")
        await comm.send_json_to({"type": "rate", "conversation": conv_id, "score": 4, "comment": "bien"})
        rated = await _until(comm, "rated")
        await comm.send_json_to({"type": "rate", "conversation": conv_id, "score": 1})
        twice = await _until(comm, "error")
        await comm.disconnect()
        return conv_id, synced, bad, rated, twice

    conv_id, synced, bad, rated, twice = async_to_sync(run)()
    assert synced["state"]["can_rate"] is True
    assert bad["code"] == "invalid_input" and twice["code"] == "already_taken"
    conv = Conversation.objects.get(pk=conv_id)
    assert (conv.csat_score, conv.csat_comment) == (4, "bien")


def test_identified_visitor_needs_a_valid_hmac(webchat, monkeypatch):
    monkeypatch.setenv(f"WEBCHAT_SECRET_{webchat.channel.pk}", "s3cret")
    good = widget.identity_signature("s3cret", "FS-1001")

    async def run():
        bad_comm = _comm()
        refused = await _hello(bad_comm, customer_id="FS-1001", signature="0" * 64)
        ok_comm = _comm()
        welcome = await _hello(ok_comm, customer_id="FS-1001", signature=good, name="Ana")
        await ok_comm.disconnect()
        return refused, welcome

    refused, welcome = async_to_sync(run)()
    assert refused["type"] == "error" and refused["code"] == "unauthorized"
    assert welcome["type"] == "welcome"
    assert Contact.objects.get(external_ref="FS-1001").identities.get().value == f"{webchat.channel.pk}:id-FS-1001"


def test_messages_are_rate_limited_per_visitor(webchat, monkeypatch):
    monkeypatch.setattr(widget, "MESSAGES_PER_MINUTE", 3)

    async def run():
        comm = _comm()
        await _hello(comm)
        replies = []
        for i in range(5):
            await comm.send_json_to({"type": "send", "body": f"m{i}", "client_id": f"k{i}"})
            while True:
                msg = await comm.receive_json_from(timeout=15)  # the first agent turn loads the embedding model
                if msg["type"] in ("ack", "error"):
                    replies.append(msg)
                    break
        await comm.disconnect()
        return replies

    replies = async_to_sync(run)()
    assert [r["type"] for r in replies] == ["ack", "ack", "ack", "error", "error"]
    assert replies[-1]["code"] == "rate_limited"
    assert Message.objects.filter(author_kind="customer").count() == 3


def test_asgi_router_lets_listed_sites_reach_the_widget_but_not_the_staff_socket(webchat):
    """Through the project's real ASGI app: the widget checks its channel's origins, while staff
    sockets keep the ALLOWED_HOSTS origin check (a customer site can never open /ws/staff/)."""
    from asisteclick.asgi import application

    async def connects(path, origin):
        comm = WebsocketCommunicator(application, path, headers=[(b"origin", origin.encode()), (b"host", b"localhost")])
        ok, _ = await comm.connect()
        if ok:
            await comm.disconnect()
        return ok

    async def run():
        return (await connects(f"/ws/widget/?key={KEY}", SHOP),
                await connects(f"/ws/widget/?key={KEY}", "https://evil.example"),
                await connects("/ws/staff/", SHOP))

    assert async_to_sync(run)() == (True, False, False)
