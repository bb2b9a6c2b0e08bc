"""The customer's web chat socket: origins, visitor binding, idempotent sends, catch-up, CSAT, limits."""
from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import translation

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
    headers.append((b"host", b"localhost:8000"))  # this server, as the browser addressed it
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
    assert set(signal) <= {"type", "what", "conversation", "by", "at"}
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
        after_hello = await database_sync_to_async(Contact.objects.filter(external_ref="FS-1001").count)()
        await ok_comm.send_json_to({"type": "send", "body": "hola", "client_id": "i1"})
        await _until(ok_comm, "ack")
        await ok_comm.disconnect()
        return refused, welcome, after_hello

    refused, welcome, after_hello = async_to_sync(run)()
    assert refused["type"] == "error" and refused["code"] == "unauthorized"
    assert welcome["type"] == "welcome"
    assert after_hello == 0  # verified, but nothing written until the customer writes
    contact = Contact.objects.get(external_ref="FS-1001")
    assert contact.name == "Ana"
    assert contact.identities.get().value == f"{webchat.channel.pk}:id-FS-1001"


def test_identified_visitor_known_elsewhere_is_linked_on_first_message(webchat, monkeypatch):
    """A customer the platform already knows (same external ref) keeps one Contact."""
    monkeypatch.setenv(f"WEBCHAT_SECRET_{webchat.channel.pk}", "s3cret")
    known = Contact.objects.create(name="Ana Known", external_ref="FS-2002")
    good = widget.identity_signature("s3cret", "FS-2002")

    async def run():
        comm = _comm()
        await _hello(comm, customer_id="FS-2002", signature=good)
        linked_early = await database_sync_to_async(known.identities.count)()
        await comm.send_json_to({"type": "send", "body": "hola", "client_id": "k1"})
        ack = await _until(comm, "ack")
        await comm.disconnect()
        return linked_early, ack

    linked_early, ack = async_to_sync(run)()
    assert linked_early == 0
    assert Message.objects.get(pk=ack["id"]).conversation.contact_id == known.pk
    assert Contact.objects.filter(external_ref="FS-2002").count() == 1
    assert known.identities.get().value == f"{webchat.channel.pk}:id-FS-2002"


def test_page_views_create_no_contact_until_the_first_message(webchat):
    """Hello on every page load only issues or verifies the token; the first send creates exactly one
    Contact; a reconnect with the token reuses it."""
    from apps.conversations.models import ContactIdentity

    before = (Contact.objects.count(), ContactIdentity.objects.count())

    def counts():
        return Contact.objects.count(), ContactIdentity.objects.count()

    async def run():
        seen = {}
        for i in range(3):  # three page views, no message
            comm = _comm()
            welcome = await _hello(comm, name="Visitante")
            assert welcome["type"] == "welcome"
            await comm.send_json_to({"type": "sync", "after": 0})
            synced = await _until(comm, "messages")
            assert synced == {**synced, "messages": [], "state": None}
            await comm.disconnect()
        seen["pages"] = await database_sync_to_async(counts)()
        comm = _comm()
        welcome = await _hello(comm)
        seen["hello"] = await database_sync_to_async(counts)()
        await comm.send_json_to({"type": "send", "body": "hola", "client_id": "f1"})
        first = await _until(comm, "ack")
        await comm.send_json_to({"type": "send", "body": "¿siguen ahí?", "client_id": "f2"})
        second = await _until(comm, "ack")
        seen["sent"] = await database_sync_to_async(counts)()
        await comm.disconnect()
        again = _comm()
        await _hello(again, token=welcome["token"])
        await again.send_json_to({"type": "send", "body": "volví", "client_id": "f3"})
        third = await _until(again, "ack")
        await again.send_json_to({"type": "sync", "after": 0})
        synced = await _until(again, "messages")
        await again.disconnect()
        seen["reconnected"] = await database_sync_to_async(counts)()
        return seen, first, second, third, synced

    seen, first, second, third, synced = async_to_sync(run)()
    assert seen["pages"] == before and seen["hello"] == before
    assert seen["sent"] == (before[0] + 1, before[1] + 1)
    assert seen["reconnected"] == seen["sent"]
    contacts = {Message.objects.get(pk=a["id"]).conversation.contact_id for a in (first, second, third)}
    assert len(contacts) == 1
    assert {m["client_id"] for m in synced["messages"] if m["kind"] == "customer"} == {"f1", "f2", "f3"}


def _comm_lang(lang, origin=SHOP, key=KEY):
    return WebsocketCommunicator(WidgetConsumer.as_asgi(), f"/ws/widget/?key={key}&lang={lang}",
                                 headers=[(b"origin", origin.encode())])


def test_replies_to_the_customer_follow_page_then_conversation_language(webchat):
    """No language is active in a consumer: errors are rendered in the page's language, and once
    the conversation has a language, in that one (and the sync state says which)."""
    async def run():
        out = {}
        for lang in ("en", "es"):
            comm = _comm_lang(lang)
            await comm.connect()
            await comm.send_json_to({"type": "sync", "after": 0})
            out[f"early-{lang}"] = await comm.receive_json_from()
            await comm.disconnect()
        comm = _comm_lang("en")
        await comm.connect()
        await comm.send_json_to({"type": "hello", "language": "en-GB"})
        await comm.receive_json_from()
        await comm.send_json_to({"type": "send", "body": "hello", "client_id": "bad id!"})
        out["page"] = await _until(comm, "error")
        await comm.send_json_to({"type": "send", "body": "hello there", "client_id": "e1"})
        ack = await _until(comm, "ack")
        conv = await database_sync_to_async(lambda: Message.objects.get(pk=ack["id"]).conversation)()
        out["stored"] = conv.language
        # The customer turns out to write Spanish (as the AI Agent detects): the chat continues in it.
        await database_sync_to_async(services.conversation_set_language)(conversation=conv, language="es")
        await comm.send_json_to({"type": "sync", "after": 0})
        out["state"] = (await _until(comm, "messages"))["state"]
        await comm.send_json_to({"type": "rate", "conversation": conv.pk, "score": 3})
        out["conversation"] = await _until(comm, "error")
        await comm.disconnect()
        return out

    out = async_to_sync(run)()
    assert out["early-en"]["message"] == "Say hello first."
    assert out["early-es"]["message"] == "Primero hay que saludar (hello)."
    assert out["page"]["message"] == "Invalid message id."
    assert out["stored"] == "en"  # the page's language, until the agent detects another
    assert out["state"]["language"] == "es"
    with translation.override("es"):
        spanish = translation.gettext("Only a finished conversation can be rated.")
    assert spanish != "Only a finished conversation can be rated."  # the catalogue has it
    assert (out["conversation"]["code"], out["conversation"]["message"]) == ("illegal_transition", spanish)


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

