"""The role matrix, extended to websockets: who hears about which conversation.

Signals are sent by the core services to the audience from ``access.conversation_audience``;
these tests connect real consumers (WebsocketCommunicator, in-memory layer) and check that a
Collaborator of another department hears nothing, and that typing indicators follow the same rule.
"""
from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from apps.conversations import services
from apps.conversations.models import Status
from apps.workspace import presence
from apps.workspace.consumers import StaffConsumer
from tests.factories import conversation_in

pytestmark = pytest.mark.django_db(transaction=True)


def _communicator(user):
    comm = WebsocketCommunicator(StaffConsumer.as_asgi(), "/ws/staff/")
    comm.scope["user"] = user
    return comm


async def _drain(comm, timeout=0.3) -> list[dict]:
    got = []
    while not await comm.receive_nothing(timeout=timeout):
        got.append(await comm.receive_json_from())
    return got


def test_anonymous_staff_socket_is_refused():
    async def run():
        comm = _communicator(AnonymousUser())
        connected, code = await comm.connect()
        assert not connected
    async_to_sync(run)()


def test_collaborator_hears_only_own_departments(cast):
    """collab_b (Sales) gets no signal about a Technical Support chat; collab_a, collab_ab and the operator do."""
    async def run():
        users = {"a": cast.collab_a, "b": cast.collab_b, "ab": cast.collab_ab, "op": cast.operator,
                 "out": cast.outsider}
        comms = {k: _communicator(u) for k, u in users.items()}
        for comm in comms.values():
            assert (await comm.connect())[0]
        conv = await database_sync_to_async(conversation_in)(cast, Status.UNASSIGNED, department=cast.dept_a)
        await database_sync_to_async(services.conversation_pickup)(conversation=conv, user=cast.collab_a)
        await database_sync_to_async(services.message_send_human)(conversation=conv, user=cast.collab_a, body="hola")
        await database_sync_to_async(services.message_send_human)(conversation=conv, user=cast.collab_a, body="¿sigue?")
        heard = {k: await _drain(c) for k, c in comms.items()}
        for comm in comms.values():
            await comm.disconnect()
        return conv, heard

    conv, heard = async_to_sync(run)()
    assert heard["b"] == [] and heard["out"] == []
    for who in ("a", "ab", "op"):
        assert any(s["conversation"] == conv.pk for s in heard[who]), who
    # Signals carry no data: ids and the server time of the change ("at", for stale typing).
    assert all(set(s) <= {"type", "what", "conversation", "department", "at"} for s in heard["a"]), \
        "signals carry no data"
    whats = {s["what"] for s in heard["a"]}
    assert {"conversation", "message"} <= whats


def test_signal_reaches_the_audience_before_and_after_a_transfer(cast):
    """Moving a chat from Technical Support to Sales tells the old audience (so it disappears) and the new one."""
    async def run():
        conv = await database_sync_to_async(conversation_in)(cast, Status.UNASSIGNED, department=cast.dept_a)
        a, b = _communicator(cast.collab_a), _communicator(cast.collab_b)
        await a.connect()
        await b.connect()
        await database_sync_to_async(services.conversation_transfer)(conversation=conv, department=cast.dept_b,
                                                                     actor=cast.operator, reason="sales question")
        got_a, got_b = await _drain(a), await _drain(b)
        await a.disconnect()
        await b.disconnect()
        return conv, got_a, got_b

    conv, got_a, got_b = async_to_sync(run)()
    assert any(s["conversation"] == conv.pk for s in got_a)
    assert any(s["conversation"] == conv.pk for s in got_b)


def test_typing_goes_to_the_audience_only_and_needs_reply_rights(cast):
    async def run():
        conv = await database_sync_to_async(conversation_in)(cast, Status.IN_PROGRESS, department=cast.dept_a)
        a, ab, b = _communicator(cast.collab_a), _communicator(cast.collab_ab), _communicator(cast.collab_b)
        for c in (a, ab, b):
            await c.connect()
        await a.send_json_to({"type": "typing", "conversation": conv.pk})
        got_ab, got_b, got_a = await _drain(ab), await _drain(b), await _drain(a)
        # collab_b cannot reply there: their typing reaches nobody
        await b.send_json_to({"type": "typing", "conversation": conv.pk})
        again_ab = await _drain(ab)
        for c in (a, ab, b):
            await c.disconnect()
        return conv, got_ab, got_b, got_a, again_ab

    conv, got_ab, got_b, got_a, again_ab = async_to_sync(run)()
    assert [{k: v for k, v in s.items() if k != "at"} for s in got_ab] == [
        {"type": "signal", "what": "typing", "conversation": conv.pk, "department": None, "by": "human"}]
    assert all(isinstance(s["at"], float) for s in got_ab)
    assert got_b == [] and got_a == [] and again_ab == []


def test_presence_follows_connections(cast):
    """Routing owns presence: a person sets online; their sockets are counted; the last socket
    closing starts the offline grace period (the sweep then reclaims their chats)."""
    from channels.db import database_sync_to_async

    from apps.routing.models import AgentPresence
    from apps.routing.services import presence_set

    presence_set(user=cast.collab_a, status="online")

    async def run():
        comm = _communicator(cast.collab_a)
        await comm.connect()
        await comm.send_json_to({"type": "ping"})
        assert (await comm.receive_json_from())["type"] == "pong"
        during = await database_sync_to_async(
            lambda: AgentPresence.objects.values_list("connections", "offline_due_at").get(pk=cast.collab_a.pk))()
        status = await database_sync_to_async(presence.statuses)([cast.collab_a.pk])
        await comm.disconnect()
        return during, status

    (connections, due), status = async_to_sync(run)()
    assert connections == 1 and due is None
    assert status == {cast.collab_a.pk: "online"}
    after = AgentPresence.objects.get(pk=cast.collab_a.pk)
    assert after.connections == 0 and after.offline_due_at is not None and after.status == "online"


def test_an_open_staff_socket_keeps_sending_signs_of_life(cast, settings):
    """While the socket is open the consumer heartbeats into routing's presence; after it closes
    the beats stop (a dead server's sockets then go stale and the sweep takes the person offline)."""
    import asyncio

    from apps.routing.models import AgentPresence
    from apps.routing.services import presence_set

    settings.ROUTING_HEARTBEAT_SECONDS = 0.05
    presence_set(user=cast.collab_a, status="online")
    seen = lambda: AgentPresence.objects.values_list("last_seen", flat=True).get(pk=cast.collab_a.pk)  # noqa: E731

    async def run():
        comm = _communicator(cast.collab_a)
        await comm.connect()
        first = await database_sync_to_async(seen)()
        await asyncio.sleep(0.4)
        later = await database_sync_to_async(seen)()
        await comm.disconnect()
        closed = await database_sync_to_async(seen)()
        await asyncio.sleep(0.3)
        return first, later, closed, await database_sync_to_async(seen)()

    first, later, closed, after_close = async_to_sync(run)()
    assert first is not None and later > first
    assert after_close == closed  # no beats once the socket is gone
