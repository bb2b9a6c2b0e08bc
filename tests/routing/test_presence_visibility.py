"""The workspace socket reports its tab's visibility (``{"type": "presence", "away": ...}``) and
calls routing's ``presence_set_away``: that function must exist (it did not: the call was silently
dropped), a hidden tab must not stop assignments, and a tab shown again is a sign of life that
restores someone the sweep took for gone."""
from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.conversations.models import Conversation, Status
from apps.routing import presence as routing_presence
from apps.routing import services
from apps.routing.models import AgentPresence, Mode, Presence
from apps.routing.sweep import sweep
from apps.workspace import presence as workspace_presence
from tests.factories import conversation_in

from .conftest import online, routing

pytestmark = pytest.mark.django_db


def presence(user) -> AgentPresence:
    return AgentPresence.objects.get(pk=user.pk)


def test_every_routing_function_the_workspace_calls_exists():
    source = Path(workspace_presence.__file__).read_text()
    called = set(re.findall(r'_routing_call\(\s*"(\w+)"', source))
    assert "presence_set_away" in called
    missing = sorted(name for name in called if not callable(getattr(routing_presence, name, None)))
    assert missing == []


def test_a_hidden_tab_keeps_you_online_and_receiving_chats(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a)
    t = timezone.now()
    services.presence_connected(cast.collab_a.pk, now=t - timedelta(minutes=1))
    workspace_presence.set_away(cast.collab_a.pk, True)  # what the consumer does for a hidden tab
    p = presence(cast.collab_a)
    assert p.status == Presence.ONLINE and p.connections == 1
    assert p.last_seen > t - timedelta(seconds=5)  # a sign of life of the open socket
    assert workspace_presence.statuses([cast.collab_a.pk]) == {cast.collab_a.pk: "online"}
    chat = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=chat.pk)
    assert Conversation.objects.get(pk=chat.pk).assignee == cast.collab_a


def test_a_tab_shown_again_restores_someone_the_sweep_took_for_gone(cast, settings):
    """The server was too busy to heartbeat for a while: the sweep counted the live socket as a dead
    server's and the grace ran out (away). The person looks at the tab: they are back, and stay."""
    settings.ROUTING_AWAY_GRACE_SECONDS = 300
    settings.ROUTING_HEARTBEAT_SECONDS = 30
    settings.ROUTING_ABSENCE_OFFLINE_MINUTES = 30
    routing(cast.dept_a, mode=Mode.LOAD, offline_reclaim="requeue")
    online(cast.collab_a)
    mine = conversation_in(cast, Status.IN_PROGRESS, assignee=cast.collab_a)
    t = timezone.now() - timedelta(hours=2)
    services.presence_connected(cast.collab_a.pk, now=t)
    sweep(now=t + timedelta(seconds=100))  # no heartbeat for 100 s: counted as closed
    sweep(now=t + timedelta(seconds=301))
    assert presence(cast.collab_a).status == Presence.AWAY and presence(cast.collab_a).auto_away
    routing_presence.presence_set_away(cast.collab_a.pk, False)
    p = presence(cast.collab_a)
    assert p.status == Presence.ONLINE and p.connections == 1 and p.offline_due_at is None
    # From then on its heartbeats keep it: an hour later nothing has moved.
    later = t + timedelta(seconds=301)
    for minute in range(1, 61):
        services.presence_heartbeat(cast.collab_a.pk, now=later + timedelta(minutes=minute))
        if minute % 5 == 0:
            sweep(now=later + timedelta(minutes=minute, seconds=1))
    assert presence(cast.collab_a).status == Presence.ONLINE
    assert Conversation.objects.get(pk=mine.pk).assignee == cast.collab_a


def test_a_tab_shown_does_not_override_an_away_or_offline_the_person_chose(cast):
    services.presence_set(user=cast.collab_a, status=Presence.AWAY)
    routing_presence.presence_set_away(cast.collab_a.pk, False)
    assert presence(cast.collab_a).status == Presence.AWAY
    services.presence_set(user=cast.collab_ab, status=Presence.OFFLINE)
    routing_presence.presence_set_away(cast.collab_ab.pk, False)
    assert presence(cast.collab_ab).status == Presence.OFFLINE


@pytest.mark.django_db(transaction=True)
def test_the_staff_socket_visibility_message_reaches_routing(cast):
    """End to end through the real consumer: hidden then visible changes nothing for someone online,
    and a visible tab brings back someone the sweep made away automatically while the socket lived."""
    from asgiref.sync import async_to_sync
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from apps.workspace.consumers import StaffConsumer

    online(cast.collab_a)

    async def run():
        comm = WebsocketCommunicator(StaffConsumer.as_asgi(), "/ws/staff/")
        comm.scope["user"] = cast.collab_a
        assert (await comm.connect())[0]
        await comm.send_json_to({"type": "presence", "away": True})
        await comm.send_json_to({"type": "ping"})
        while (await comm.receive_json_from(timeout=5)).get("type") != "pong":
            pass  # the consumer handles messages in order: the pong comes after the presence message
        hidden = await database_sync_to_async(presence)(cast.collab_a)
        # The sweep took the socket for a dead server's and the grace ran out meanwhile.
        await database_sync_to_async(AgentPresence.objects.filter(pk=cast.collab_a.pk).update)(
            connections=0, status=Presence.AWAY, auto_away=True)
        await comm.send_json_to({"type": "presence", "away": False})
        await comm.send_json_to({"type": "ping"})
        while (await comm.receive_json_from(timeout=5)).get("type") != "pong":
            pass
        shown = await database_sync_to_async(presence)(cast.collab_a)
        await comm.disconnect()
        return hidden, shown

    hidden, shown = async_to_sync(run)()
    assert hidden.status == Presence.ONLINE and hidden.connections == 1
    assert shown.status == Presence.ONLINE and shown.connections == 1 and not shown.auto_away
