"""Presence that survives a dead server (heartbeats), presence sessions for reports, live presence
signals for the monitor, and freed capacity / coming online routing through a task on commit."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, Status
from apps.routing import services
from apps.routing.models import AgentPresence, Mode, Presence, PresenceSession
from apps.routing.sweep import sweep
from tests.factories import conversation_in

from .conftest import online, routing

pytestmark = pytest.mark.django_db


def presence(user) -> AgentPresence:
    return AgentPresence.objects.get(pk=user.pk)


# --- 1. a crashed / restarted server -------------------------------------------------------------

def test_sockets_of_a_dead_server_count_as_closed_since_their_last_heartbeat(cast, settings):
    settings.ROUTING_AWAY_GRACE_SECONDS = 300
    settings.ROUTING_HEARTBEAT_SECONDS = 30  # stale after three missed beats: 90 s
    settings.ROUTING_ABSENCE_OFFLINE_MINUTES = 30
    routing(cast.dept_a, offline_reclaim="requeue")
    online(cast.collab_a)
    chat = conversation_in(cast, Status.IN_PROGRESS, assignee=cast.collab_a)
    t = timezone.now()
    services.presence_connected(cast.collab_a.pk, now=t)
    services.presence_connected(cast.collab_a.pk, now=t)  # two tabs; then the server dies: no disconnects
    sweep(now=t + timedelta(seconds=89))
    assert presence(cast.collab_a).status == Presence.ONLINE and presence(cast.collab_a).connections == 2
    stats = sweep(now=t + timedelta(seconds=91))
    p = presence(cast.collab_a)
    assert stats["stale_reset"] == 1 and p.connections == 0 and p.offline_due_at == t + timedelta(seconds=300)
    sweep(now=t + timedelta(seconds=300))  # the usual clock from the last sign of life: away, chat kept
    assert presence(cast.collab_a).status == Presence.AWAY
    assert Conversation.objects.get(pk=chat.pk).assignee == cast.collab_a
    stats = sweep(now=t + timedelta(seconds=300, minutes=30))
    assert stats["went_offline"] == 1 and presence(cast.collab_a).status == Presence.OFFLINE
    chat.refresh_from_db()
    assert chat.status == Status.UNASSIGNED and chat.assignee is None  # reclaimed per the department's rule


def test_heartbeats_keep_an_open_socket_online(cast, settings):
    settings.ROUTING_AWAY_GRACE_SECONDS = 300
    settings.ROUTING_HEARTBEAT_SECONDS = 30
    online(cast.collab_a)
    t = timezone.now()
    services.presence_connected(cast.collab_a.pk, now=t)
    for minute in range(1, 60):
        services.presence_heartbeat(cast.collab_a.pk, now=t + timedelta(minutes=minute))
    assert sweep(now=t + timedelta(minutes=60)).get("went_away", 0) == 0
    assert presence(cast.collab_a).status == Presence.ONLINE
    # Then the heartbeats stop (the process died): away once the grace runs out from the last beat.
    sweep(now=t + timedelta(minutes=59, seconds=91))
    assert presence(cast.collab_a).status == Presence.ONLINE
    sweep(now=t + timedelta(minutes=64))
    assert presence(cast.collab_a).status == Presence.AWAY


def test_a_leaked_count_cannot_keep_someone_online_after_they_leave(cast, settings):
    settings.ROUTING_AWAY_GRACE_SECONDS = 300
    settings.ROUTING_HEARTBEAT_SECONDS = 30
    online(cast.collab_a)
    t = timezone.now()
    AgentPresence.objects.filter(pk=cast.collab_a.pk).update(connections=3)  # counts of a crashed server
    services.presence_connected(cast.collab_a.pk, now=t)      # reconnected to a live server
    services.presence_disconnected(cast.collab_a.pk, now=t + timedelta(minutes=5))  # closes the tab: 3 left
    assert presence(cast.collab_a).offline_due_at is None
    sweep(now=t + timedelta(minutes=7))  # no heartbeat: the leaked count is reset, the clock starts
    sweep(now=t + timedelta(minutes=10))
    assert presence(cast.collab_a).status == Presence.AWAY


def test_presence_heartbeat_loop_beats_until_cancelled(cast, settings):
    import asyncio

    from asgiref.sync import async_to_sync

    from apps.routing import presence as routing_presence

    settings.ROUTING_HEARTBEAT_SECONDS = 0.01
    online(cast.collab_a)
    beats = []

    async def run():
        original = routing_presence.presence_heartbeat
        routing_presence.presence_heartbeat = lambda user_id: beats.append(user_id)
        try:
            task = asyncio.ensure_future(routing_presence.presence_heartbeat_loop(cast.collab_a.pk))
            await asyncio.sleep(0.2)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            routing_presence.presence_heartbeat = original

    async_to_sync(run)()
    assert beats and set(beats) == {cast.collab_a.pk}


# --- 2. presence sessions (reports' logged-in time) ---------------------------------------------------

def test_presence_sessions_open_and_close_with_presence(cast):
    t = timezone.now() - timedelta(hours=5)
    services.presence_set(user=cast.collab_a, status=Presence.ONLINE, now=t)
    services.presence_set(user=cast.collab_a, status=Presence.AWAY, now=t + timedelta(minutes=10))  # still logged in
    services.presence_set(user=cast.collab_a, status=Presence.OFFLINE, now=t + timedelta(hours=2))
    rows = list(PresenceSession.objects.filter(user=cast.collab_a).values_list("started_at", "ended_at", "end_reason"))
    assert rows == [(t, t + timedelta(hours=2), "offline")]
    services.presence_set(user=cast.collab_a, status=Presence.ONLINE, now=t + timedelta(hours=3))
    assert PresenceSession.objects.filter(user=cast.collab_a, ended_at__isnull=True).count() == 1

    from apps.reports.presence import presence_model, presence_seconds

    assert presence_model() is PresenceSession
    secs = presence_seconds([cast.collab_a.pk], t, t + timedelta(hours=4))
    assert secs == {cast.collab_a.pk: 3 * 3600.0}  # 2 h closed + 1 h of the open session


def test_the_absence_sweep_closes_the_session_when_the_last_socket_closed(cast, settings):
    settings.ROUTING_AWAY_GRACE_SECONDS = 90
    settings.ROUTING_ABSENCE_OFFLINE_MINUTES = 30
    t = timezone.now()
    services.presence_set(user=cast.collab_a, status=Presence.ONLINE, now=t)
    services.presence_connected(cast.collab_a.pk, now=t)
    services.presence_disconnected(cast.collab_a.pk, now=t + timedelta(hours=1))
    sweep(now=t + timedelta(hours=1, seconds=91))
    assert presence(cast.collab_a).status == Presence.AWAY
    assert PresenceSession.objects.get(user=cast.collab_a).ended_at is None  # away is still logged in
    sweep(now=t + timedelta(hours=1, minutes=32))
    session = PresenceSession.objects.get(user=cast.collab_a)
    assert session.ended_at == t + timedelta(hours=1) and session.end_reason == "disconnected"


def test_connecting_while_online_without_a_session_opens_one(cast):
    online(cast.collab_a)  # presence set before sessions were recorded
    t = timezone.now()
    services.presence_connected(cast.collab_a.pk, now=t)
    services.presence_connected(cast.collab_a.pk, now=t)
    assert list(PresenceSession.objects.filter(user=cast.collab_a).values_list("started_at", flat=True)) == [t]


# --- 3. live presence for the monitor -------------------------------------------------------------

@pytest.fixture
def sent(monkeypatch):
    from apps.core import realtime

    out = []
    monkeypatch.setattr(realtime, "_send", lambda groups, event: out.append((groups, event)))
    return out


def presence_pushes(sent):
    return [groups for groups, event in sent if event == {"what": "presence"}]


def test_presence_change_signals_operators_not_collaborators(cast, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.presence_set(user=cast.collab_a, status=Presence.AWAY)
    pushes = presence_pushes(sent)
    assert len(pushes) == 1
    assert f"user.{cast.operator.pk}" in pushes[0]
    assert f"user.{cast.collab_a.pk}" not in pushes[0] and f"user.{cast.collab_b.pk}" not in pushes[0]
    # Setting the same status again changes nothing on the monitor: no signal.
    with django_capture_on_commit_callbacks(execute=True):
        services.presence_set(user=cast.collab_a, status=Presence.AWAY)
    assert len(presence_pushes(sent)) == 1


def test_the_presence_sweep_signals_the_monitor(cast, sent, settings, django_capture_on_commit_callbacks):
    settings.ROUTING_AWAY_GRACE_SECONDS = 90
    online(cast.collab_a)
    t = timezone.now()
    services.presence_connected(cast.collab_a.pk, now=t)
    services.presence_disconnected(cast.collab_a.pk, now=t)
    with django_capture_on_commit_callbacks(execute=True):
        sweep(now=t + timedelta(seconds=91), assign=False)
    assert presence_pushes(sent) == [[f"user.{cast.operator.pk}"]]


def test_monitor_page_listens_to_presence_signals(cast, client):
    from django.urls import reverse

    client.force_login(cast.operator)
    page = client.get(reverse("workspace-monitor"))
    assert page.status_code == 200
    assert 'data-live-what="conversation presence"' in page.content.decode()


# --- 5. coming online / freed capacity: a task on commit ----------------------------------------------

def test_coming_online_enqueues_a_thin_task_on_commit(cast, monkeypatch, django_capture_on_commit_callbacks):
    from apps.routing import tasks

    calls = []
    monkeypatch.setattr(tasks.routing_agent_available, "delay", lambda *a, **k: calls.append((a, k)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.presence_set(user=cast.collab_a, status=Presence.ONLINE)
    assert calls == []  # nothing inside the transaction
    for fn in callbacks:
        fn()
    assert calls == [((cast.collab_a.pk,), {})]


@pytest.mark.parametrize("free", ["archive", "requeue", "transfer"])
def test_freed_capacity_routes_the_next_waiting_chat_on_commit(cast, free, django_capture_on_commit_callbacks):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a, capacity=1)
    first = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=first.pk)
    second = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=second.pk)
    assert Conversation.objects.get(pk=first.pk).assignee == cast.collab_a
    assert Conversation.objects.get(pk=second.pk).status == Status.UNASSIGNED
    with django_capture_on_commit_callbacks(execute=True):
        if free == "archive":
            conv_services.conversation_archive(conversation=first.pk, actor=cast.collab_a)
        elif free == "requeue":
            conv_services.conversation_requeue(conversation=first.pk, reason="test")
        else:
            conv_services.conversation_transfer(conversation=first.pk, department=cast.dept_b, actor=cast.operator,
                                                reason="billing")
    second.refresh_from_db()
    assert second.status == Status.ASSIGNED and second.assignee == cast.collab_a


def test_capacity_freed_by_an_offline_agent_assigns_nothing(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_ab)
    AgentPresence.objects.filter(pk=cast.collab_ab.pk).update(capacity=0)  # nobody can take the waiting chat
    conv = conversation_in(cast, Status.TRANSFER)
    services.routing_conversation_arrived(conversation_id=conv.pk)
    AgentPresence.objects.filter(pk=cast.collab_ab.pk).update(capacity=3, status=Presence.OFFLINE)
    assert services.routing_capacity_freed(user_id=cast.collab_ab.pk) == 0
    assert Conversation.objects.get(pk=conv.pk).status == Status.UNASSIGNED


@pytest.mark.django_db
def test_an_operator_setting_someone_offline_in_the_admin_goes_through_presence(cast, client):
    from django.urls import reverse

    from apps.routing.models import AgentPresence, PresenceSession
    from apps.routing.services import presence_set

    presence_set(user=cast.collab_a, status="online")
    assert PresenceSession.objects.filter(user=cast.collab_a, ended_at__isnull=True).exists()
    client.force_login(cast.operator)
    row = AgentPresence.objects.get(pk=cast.collab_a.pk)
    response = client.post(reverse("admin:routing_agentpresence_change", args=[row.pk]), {
        "user": cast.collab_a.pk, "status": "offline", "capacity": row.capacity, "channel_capacity": "{}",
        "languages": "", "teams": "",
        "shifts-TOTAL_FORMS": "0", "shifts-INITIAL_FORMS": "0", "shifts-MIN_NUM_FORMS": "0", "shifts-MAX_NUM_FORMS": "1000"})
    assert response.status_code == 302, response.content[:3000]
    assert AgentPresence.objects.get(pk=cast.collab_a.pk).status == "offline"
    assert not PresenceSession.objects.filter(user=cast.collab_a, ended_at__isnull=True).exists()
