"""Escalation ladders swept from deadline rows: each step, presence reclaim, restart safety."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, ConversationEvent, Status
from apps.routing import services
from apps.routing.models import ConversationDeadline, Mode, Notification, Presence, Reclaim
from apps.routing.sweep import claim_due, process_deadline, sweep
from tests.factories import conversation_in

from .conftest import online, routing

pytestmark = pytest.mark.django_db


def queued(cast, department=None):
    conv = conversation_in(cast, Status.TRANSFER, department=department or cast.dept_a)
    services.routing_conversation_arrived(conversation_id=conv.pk)
    return Conversation.objects.get(pk=conv.pk)


def escalations(conv):
    return list(ConversationEvent.objects.filter(conversation=conv, kind="escalation").order_by("id"))


def test_pickup_timer_is_armed_on_arrival(cast):
    routing(cast.dept_a, pickup_minutes=5)
    conv = queued(cast)
    d = ConversationDeadline.objects.get(pk=conv.pk)
    assert d.kind == "pickup" and d.due_at == conv.queued_at + timedelta(minutes=5) and d.stage == 0


def test_unpicked_chat_is_auto_assigned_to_anyone_available_even_in_manual_mode(cast):
    routing(cast.dept_a, mode=Mode.MANUAL, pickup_minutes=5, pickup_auto_assign=True, pickup_notify=True)
    conv = queued(cast)
    online(cast.collab_a)
    t = conv.queued_at
    assert sweep(now=t + timedelta(minutes=4, seconds=59)).get("claimed", 0) == 0
    stats = sweep(now=t + timedelta(minutes=5))
    conv.refresh_from_db()
    assert conv.status == Status.ASSIGNED and conv.assignee == cast.collab_a
    (ev,) = escalations(conv)
    assert ev.reason == "pickup_overdue" and ev.payload["actions"] == ["auto_assigned"]
    assert conv.events.get(kind="assigned").reason == "escalation:auto_assign"
    assert not Notification.objects.exists()  # assigned: nobody needs to be told
    assert stats["pickup:auto_assigned"] == 1


def test_unpicked_chat_moves_to_the_backup_department(cast):
    routing(cast.dept_a, pickup_minutes=5, pickup_auto_assign=True, pickup_to_backup=True, pickup_notify=False)
    cast.dept_a.backup = cast.dept_b
    cast.dept_a.save()
    routing(cast.dept_b, pickup_minutes=3)
    online(cast.collab_b)  # someone in the backup department can take it
    conv = queued(cast)  # nobody online in Technical Support
    t = conv.queued_at + timedelta(minutes=5)
    token, ids = claim_due(now=t)
    assert process_deadline(conversation_id=conv.pk, token=token, now=t) == "pickup:moved_to_backup"
    conv.refresh_from_db()
    assert conv.department == cast.dept_b and conv.status == Status.TRANSFER
    assert escalations(conv)[0].payload["actions"] == ["moved_to_backup"]
    assert conv.events.get(kind="transferred").to_department == cast.dept_b
    assert not ConversationDeadline.objects.filter(pk=conv.pk).exists()
    # The backup's arrival (the route task on commit) queues it and arms a fresh timer there (and,
    # in a manual department, leaves it for a person to pick up).
    services.routing_conversation_arrived(conversation_id=conv.pk)
    conv.refresh_from_db()
    assert conv.status == Status.UNASSIGNED
    assert ConversationDeadline.objects.get(pk=conv.pk).due_at == conv.queued_at + timedelta(minutes=3)


def test_unpicked_chat_notifies_supervising_operators_once_per_step(cast, client):
    routing(cast.dept_a, pickup_minutes=5, pickup_auto_assign=True, pickup_notify=True)
    conv = queued(cast)
    t = conv.queued_at + timedelta(minutes=5)
    sweep(now=t)
    notes = list(Notification.objects.all())
    assert [n.user for n in notes] == [cast.operator]
    assert f"#{conv.pk}" in notes[0].text and "Technical Support" in notes[0].text
    d = ConversationDeadline.objects.get(pk=conv.pk)
    assert d.stage == 1 and d.due_at == t + timedelta(minutes=5)
    # The same instant swept again (a duplicate beat): nothing new.
    sweep(now=t)
    assert Notification.objects.count() == 1 and len(escalations(conv)) == 1
    # Still waiting 5 minutes later: the ladder repeats, but the Operators were told 5 minutes ago.
    sweep(now=t + timedelta(minutes=5))
    assert Notification.objects.count() == 1
    assert [e.payload["stage"] for e in escalations(conv)] == [1, 2]
    assert escalations(conv)[-1].payload["actions"] == ["notice_recent"]
    # Half an hour after the first notice, a second one.
    for minutes in (10, 15, 20, 25, 30):
        sweep(now=t + timedelta(minutes=minutes))
    assert Notification.objects.count() == 2
    assert [e.payload["stage"] for e in escalations(conv)] == [1, 2, 3, 4, 5, 6, 7]
    # In-app list for the Operator; a Collaborator's own list (mentions) shows none of the Operator's.
    client.force_login(cast.operator)
    page = client.get("/routing/notifications/")
    assert page.status_code == 200 and f"#{conv.pk}" in page.content.decode()
    assert client.post("/routing/notifications/read/").status_code == 302
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    client.force_login(cast.collab_a)
    page = client.get("/routing/notifications/")
    assert page.status_code == 200 and f"#{conv.pk}" not in page.content.decode()


def test_named_supervisors_are_notified_instead_of_every_operator(cast):
    from tests.factories import make_user

    boss = make_user("boss", "operator")
    cfg = routing(cast.dept_a, pickup_minutes=1, pickup_auto_assign=False, pickup_notify=True)
    cfg.supervisors.add(boss)
    conv = queued(cast)
    sweep(now=conv.queued_at + timedelta(minutes=1))
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["boss"]


def test_picked_up_chat_drops_its_pickup_timer_and_gets_a_reply_timer(cast):
    routing(cast.dept_a, pickup_minutes=5, reply_minutes=10)
    conv = queued(cast)
    conv_services.conversation_pickup(conversation=conv, user=cast.collab_a)  # a path that does not tell routing
    conv.refresh_from_db()
    stats = sweep(now=conv.assigned_at + timedelta(minutes=6))
    assert stats["stale"] == 1 or stats["armed"] == 1
    d = ConversationDeadline.objects.get(pk=conv.pk)
    assert d.kind == "reply" and d.armed_for == conv.assigned_at
    assert not escalations(conv)


def test_no_human_reply_sends_the_chat_back_to_the_queue(cast):
    routing(cast.dept_a, mode=Mode.LOAD, reply_minutes=10)
    online(cast.collab_a)
    conv = queued(cast)
    assert conv.assignee == cast.collab_a
    d = ConversationDeadline.objects.get(pk=conv.pk)
    assert d.kind == "reply"
    sweep(now=conv.assigned_at + timedelta(minutes=10))
    conv.refresh_from_db()
    assert conv.status == Status.UNASSIGNED and conv.assignee is None
    ev = escalations(conv)[0]
    assert ev.reason == "no_human_reply" and ev.payload["agent"] == cast.collab_a.pk
    assert conv.events.filter(kind="requeued").exists()


def test_a_human_reply_in_time_cancels_the_reply_timer(cast):
    routing(cast.dept_a, mode=Mode.LOAD, reply_minutes=10)
    online(cast.collab_a)
    conv = queued(cast)
    conv_services.message_send_human(conversation=conv, user=cast.collab_a, body="Hola")
    sweep(now=conv.assigned_at + timedelta(minutes=11))
    conv.refresh_from_db()
    assert conv.status == Status.IN_PROGRESS and not escalations(conv)
    assert not ConversationDeadline.objects.filter(pk=conv.pk).exists()


def test_explicit_offline_reclaims_open_chats_per_department_rule(cast):
    routing(cast.dept_a, offline_reclaim=Reclaim.REQUEUE)
    routing(cast.dept_b, offline_reclaim=Reclaim.KEEP)
    online(cast.collab_ab)
    a = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_ab)
    b = conversation_in(cast, Status.ASSIGNED, department=cast.dept_b, assignee=cast.collab_ab)
    services.presence_set(user=cast.collab_ab, status=Presence.OFFLINE)
    a.refresh_from_db(), b.refresh_from_db()
    assert a.status == Status.UNASSIGNED and a.assignee is None
    assert escalations(a)[0].reason == "agent_offline"
    assert b.status == Status.ASSIGNED and b.assignee == cast.collab_ab


def test_last_websocket_closed_goes_away_after_the_grace_and_offline_after_a_long_absence(cast, settings):
    settings.ROUTING_AWAY_GRACE_SECONDS = 60
    settings.ROUTING_ABSENCE_OFFLINE_MINUTES = 30
    routing(cast.dept_a, offline_reclaim=Reclaim.REQUEUE)
    online(cast.collab_a)
    conv = conversation_in(cast, Status.IN_PROGRESS, assignee=cast.collab_a)
    t = timezone.now()
    services.presence_connected(cast.collab_a.pk)
    services.presence_connected(cast.collab_a.pk)
    services.presence_disconnected(cast.collab_a.pk, now=t)
    assert cast.collab_a.presence.__class__.objects.get(pk=cast.collab_a.pk).offline_due_at is None  # one tab left
    services.presence_disconnected(cast.collab_a.pk, now=t)
    sweep(now=t + timedelta(seconds=59))
    p = cast.collab_a.presence.__class__.objects.get(pk=cast.collab_a.pk)
    assert p.status == Presence.ONLINE
    sweep(now=t + timedelta(seconds=60))
    p.refresh_from_db()
    conv.refresh_from_db()
    assert p.status == Presence.AWAY and p.auto_away  # away: no new chats, but the chat in progress stays
    assert conv.status == Status.IN_PROGRESS and conv.assignee == cast.collab_a
    sweep(now=t + timedelta(minutes=31) - timedelta(seconds=1))
    assert Conversation.objects.get(pk=conv.pk).assignee == cast.collab_a
    sweep(now=t + timedelta(minutes=31))  # a long absence: offline, and only now the chat is reclaimed
    p.refresh_from_db()
    conv.refresh_from_db()
    assert p.status == Presence.OFFLINE and conv.status == Status.UNASSIGNED
    assert escalations(conv)[-1].payload["why"] == "disconnected"


def test_reconnecting_within_the_grace_period_keeps_the_agent_online(cast):
    online(cast.collab_a)
    t = timezone.now()
    services.presence_connected(cast.collab_a.pk)
    services.presence_disconnected(cast.collab_a.pk, now=t)
    services.presence_connected(cast.collab_a.pk, now=t)  # page reload
    services.presence_heartbeat(cast.collab_a.pk, now=t + timedelta(minutes=59))  # the socket stays alive
    sweep(now=t + timedelta(hours=1))
    assert cast.collab_a.presence.__class__.objects.get(pk=cast.collab_a.pk).status == Presence.ONLINE


def test_a_killed_worker_loses_nothing_and_the_lease_prevents_double_work(cast, settings):
    settings.ROUTING_CLAIM_LEASE_SECONDS = 120
    routing(cast.dept_a, pickup_minutes=5, pickup_auto_assign=False, pickup_notify=True)
    convs = [queued(cast) for _ in range(3)]
    t = max(c.queued_at for c in convs) + timedelta(minutes=5)
    token, ids = claim_due(now=t)  # a worker claims ... and dies before acting
    assert sorted(ids) == sorted(c.pk for c in convs)
    assert sweep(now=t + timedelta(seconds=30)).get("claimed", 0) == 0  # still leased: no double work
    assert Notification.objects.count() == 0
    stats = sweep(now=t + timedelta(seconds=121))  # lease expired: the next sweep takes over
    assert stats["claimed"] == 3 and Notification.objects.count() == 3
    # The dead worker coming back with its old token can no longer act.
    assert process_deadline(conversation_id=ids[0], token=token, now=t) == "lost_claim"
    assert sum(len(escalations(c)) for c in convs) == 3


def test_skipped_runs_are_caught_up_by_the_next_sweep(cast):
    routing(cast.dept_a, pickup_minutes=1, pickup_auto_assign=False, pickup_notify=True)
    convs = [queued(cast) for _ in range(5)]
    # No sweep for an hour (beat down, Redis flushed): the deadlines are rows, so one sweep catches up.
    stats = sweep(now=max(c.queued_at for c in convs) + timedelta(hours=1))
    assert stats["claimed"] == 5 and all(len(escalations(c)) == 1 for c in convs)
    assert escalations(convs[0])[0].payload["late_seconds"] > 3000


def test_lost_route_task_is_recovered_by_the_sweep(cast):
    routing(cast.dept_a, mode=Mode.LOAD, pickup_minutes=5)
    online(cast.collab_a)
    conv = conversation_in(cast, Status.TRANSFER)  # the route task never ran
    stats = sweep(now=timezone.now() + timedelta(minutes=2))
    conv.refresh_from_db()
    assert stats["rerouted"] == 1 and conv.assignee == cast.collab_a


def test_beat_schedule_is_registered_in_code_and_the_task_sweeps(cast):
    from asisteclick.celery import app
    from apps.routing.tasks import routing_sweep

    entry = app.conf.beat_schedule["routing-sweep"]
    assert entry["task"] == "routing.sweep" and entry["schedule"] > 0
    assert app.tasks["routing.sweep"].name == routing_sweep.name == "routing.sweep"
    routing(cast.dept_a, pickup_minutes=1, pickup_auto_assign=False, pickup_notify=True)
    conv = queued(cast)
    ConversationDeadline.objects.filter(pk=conv.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    assert routing_sweep.apply().get()["claimed"] == 1
    assert Notification.objects.count() == 1


def test_inprocess_sweep_can_be_disabled(monkeypatch):
    from apps.routing import inprocess

    monkeypatch.setenv("ROUTING_INPROCESS_SWEEP", "0")
    assert inprocess.start() is False


def test_inprocess_beat_runs_every_interval_job_of_the_schedule(cast):
    """The embedded demo runs what every app registered for beat (routing, agent, integrations),
    each at its own interval: a due pick-up deadline escalates from the in-process runner."""
    from asisteclick.celery import app
    from apps.routing import inprocess

    jobs = inprocess.interval_jobs(app.conf.beat_schedule)
    tasks = {task for _name, task, _seconds in jobs}
    assert {"routing.sweep", "apps.integrations.tasks.inbound_sweep"} <= tasks
    assert any("agent" in task for task in tasks)
    routing(cast.dept_a, pickup_minutes=1, pickup_auto_assign=False, pickup_notify=True)
    conv = queued(cast)
    ConversationDeadline.objects.filter(pk=conv.pk).update(due_at=timezone.now() - timedelta(seconds=1))
    last_run = {name: 0.0 for name, _t, _s in jobs}
    assert inprocess.run_due(jobs, last_run, 1.0, app) == []  # nothing is due one second in
    ran = inprocess.run_due(jobs, last_run, 10_000.0, app)
    assert "routing-sweep" in ran and Notification.objects.count() == 1
    assert inprocess.run_due(jobs, last_run, 10_001.0, app) == []  # and not again until its interval


def test_demo_seed_is_idempotent(db):
    from apps.conversations.demo import DEPARTMENTS, PEOPLE
    from apps.departments.models import Department
    from apps.routing import demo
    from apps.routing.models import AgentShift, DepartmentRouting
    from tests.factories import make_user

    for slug, name, _name_es, default in DEPARTMENTS:
        Department.objects.create(slug=slug, name=name, is_default=default)
    for username, _name, role, depts, _ext in PEOPLE:
        make_user(username, role, departments=Department.objects.filter(slug__in=depts))
    demo._seed(None)
    demo._seed(None)
    assert DepartmentRouting.objects.count() == 5
    assert DepartmentRouting.objects.get(department__slug="technical-support").rules.count() == 3
    assert AgentShift.objects.filter(presence__user__username="night.tomas").count() == 7
    assert Department.objects.get(slug="sales").backup.slug == "customer-service"
    from apps.routing.models import AgentPresence, PresenceSession

    online_ids = set(AgentPresence.objects.filter(status="online").values_list("pk", flat=True))
    open_sessions = PresenceSession.objects.filter(ended_at__isnull=True)
    assert online_ids and set(open_sessions.values_list("user_id", flat=True)) == online_ids
    assert open_sessions.count() == len(online_ids)  # seeded twice, one open session each
    # The seeded history has logged-in time (closed sessions) for everyone, once: day and night shifts.
    history = PresenceSession.objects.filter(ended_at__isnull=False)
    assert set(history.values_list("user__username", flat=True)) == {p[0] for p in PEOPLE}
    nights = history.filter(user__username="night.tomas")
    assert nights.count() == demo.HISTORY_DAYS
    full = [s for s in nights if (s.ended_at - s.started_at).total_seconds() == 8 * 3600]
    assert len(full) >= demo.HISTORY_DAYS - 1  # (last night's may still be running)
    assert history.count() < 8 * demo.HISTORY_DAYS  # not doubled by the second seed


def test_presence_page_sets_own_presence(cast, client):
    client.force_login(cast.collab_a)
    assert client.get("/routing/presence/").status_code == 200
    assert client.post("/routing/presence/", {"status": "online"}).status_code == 302
    assert cast.collab_a.presence.__class__.objects.get(pk=cast.collab_a.pk).status == Presence.ONLINE
    client.post("/routing/presence/", {"status": "bogus"})
    assert cast.collab_a.presence.__class__.objects.get(pk=cast.collab_a.pk).status == Presence.ONLINE


def test_routing_admin_is_for_operators_who_configure(cast, client):
    client.force_login(cast.operator)
    assert client.get("/admin/routing/departmentrouting/").status_code == 200
    assert client.get("/admin/routing/departmentrouting/add/").status_code == 200
    resp = client.post("/admin/routing/departmentrouting/add/", {
        "department": cast.dept_a.pk, "mode": "load", "pickup_minutes": "5", "pickup_auto_assign": "on",
        "reply_minutes": "", "offline_reclaim": "requeue",
        "hours-TOTAL_FORMS": "1", "hours-INITIAL_FORMS": "0", "hours-0-weekday": "0", "hours-0-start": "22:00",
        "hours-0-end": "06:00", "rules-TOTAL_FORMS": "0", "rules-INITIAL_FORMS": "0"})
    assert resp.status_code == 302, resp.content.decode()[:2000]
    cfg = services.config_for(cast.dept_a)
    assert cfg.mode == "load" and cfg.pickup_minutes == 5 and cfg.hours.count() == 1
    assert client.get(f"/admin/routing/departmentrouting/{cast.dept_a.pk}/change/").status_code == 200
    assert client.get("/admin/routing/agentpresence/").status_code == 200
    client.force_login(cast.collab_a)
    assert client.get("/admin/routing/departmentrouting/").status_code in (302, 403)


def test_operator_notifications_are_pushed_live_as_signals_only(cast, monkeypatch, django_capture_on_commit_callbacks):
    from apps.core import realtime

    sent = []
    monkeypatch.setattr(realtime, "_send", lambda groups, event: sent.append((groups, event)))
    routing(cast.dept_a, pickup_minutes=1, pickup_auto_assign=False, pickup_notify=True)
    conv = queued(cast)
    with django_capture_on_commit_callbacks(execute=True):
        sweep(now=conv.queued_at + timedelta(minutes=1))
    pushes = [(g, e) for g, e in sent if e.get("what") == "notification"]
    assert pushes == [([f"user.{cast.operator.pk}"], {"what": "notification"})]  # a signal, no text or ids


def test_a_sweep_batch_signals_each_escalated_chat_once_after_the_batch(cast, monkeypatch,
                                                                         django_capture_on_commit_callbacks):
    """The customer notices of a batch are signalled when the batch is done (one audience computation
    for all of them), to the same people as one by one: the chat's own group, the Operator and the
    department's members; a change that rolls back signals nothing."""
    from django.db import transaction

    from apps.conversations import access
    from apps.conversations.models import Message
    from apps.core import realtime

    sent = []
    monkeypatch.setattr(realtime, "_send_all", sent.extend)  # every signal, one by one or batched
    routing(cast.dept_a, pickup_minutes=1, pickup_auto_assign=False, pickup_notify=True)
    convs = [queued(cast) for _ in range(3)]
    # As in bench/escalation.py: no notice on arrival, so the first escalation posts one.
    Message.objects.filter(conversation__in=convs, author_kind="system").delete()
    sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        sweep(now=max(c.queued_at for c in convs) + timedelta(minutes=1))
    messages = [(g, e) for g, e in sent if e.get("what") == "message"]
    assert sorted(e["conversation"] for _g, e in messages) == sorted(c.pk for c in convs)
    for groups, event in messages:
        conv = Conversation.objects.get(pk=event["conversation"])
        assert conv.messages.filter(author_kind="system", meta__routing__isnull=False).count() == 1
        expected = sorted({f"user.{u}" for u in access.conversation_audience(conv)} | {f"conversation.{conv.pk}"})
        assert groups == expected and f"user.{cast.operator.pk}" in groups and f"user.{cast.collab_b.pk}" not in groups
        assert {k: v for k, v in event.items() if k != "at"} == {"what": "message", "conversation": conv.pk,
                                                                 "department": cast.dept_a.pk}
        assert isinstance(event["at"], float)  # the commit's time, as unbatched signals carry

    # Inside a batch nothing goes out before its end, and a rolled-back change never does.
    sent.clear()
    with conv_services.signals_batched():
        with django_capture_on_commit_callbacks(execute=True):
            conv_services.message_post_system(conversation=convs[0].pk, body="kept", internal=True)
        with pytest.raises(RuntimeError), transaction.atomic():
            conv_services.message_post_system(conversation=convs[1].pk, body="rolled back", internal=True)
            raise RuntimeError
        assert sent == []
    assert [e["conversation"] for _g, e in sent] == [convs[0].pk]


@pytest.mark.django_db(transaction=True)  # real commits: each chat's step commits inside the sweep's batch
def test_a_sweep_batch_sends_each_operator_one_notification_signal_not_one_per_chat(cast, monkeypatch):
    """Every overdue chat gets its own stored notification, but the Operator's screen is told once
    per sweep batch that there are new ones (a signal only makes it re-fetch its list)."""
    from apps.conversations.models import Message
    from apps.core import realtime

    sent, hops = [], []

    def send_all(signals):  # every signal, one by one or batched; a call is one hop to the event loop
        hops.append(len(signals))
        sent.extend(signals)

    monkeypatch.setattr(realtime, "_send_all", send_all)
    routing(cast.dept_a, pickup_minutes=1, pickup_auto_assign=False, pickup_notify=True)
    convs = [queued(cast) for _ in range(4)]
    Message.objects.filter(conversation__in=convs, author_kind="system").delete()
    sent.clear()
    hops.clear()
    stats = sweep(now=max(c.queued_at for c in convs) + timedelta(minutes=1), batch=10)
    assert hops == [4, 1]  # the batch's four chats in one hop, then the one notification signal
    assert stats["pickup:notified"] == 4
    assert Notification.objects.filter(user=cast.operator, kind="pickup_overdue").count() == 4
    pushes = [(g, e) for g, e in sent if e.get("what") == "notification"]
    assert pushes == [([f"user.{cast.operator.pk}"], {"what": "notification"})]
    # Outside a sweep each notice is still signalled as it commits.
    sent.clear()
    services.notify_operators(conversation=convs[0], kind="pickup_overdue", minutes=1)
    services.notify_operators(conversation=convs[1], kind="pickup_overdue", minutes=1)
    assert [e for _g, e in sent if e.get("what") == "notification"] == [{"what": "notification"}] * 2


def test_an_escalation_step_reads_and_locks_its_chat_once(cast, django_assert_max_num_queries):
    """The sweep locks the chat once and the core services it calls with that instance (the
    escalation event, the customer's notice, the requeue) reuse the lock instead of locking and
    reading the chat again."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.conversations.models import Message

    def chat_reads(queries, pk):
        return [q["sql"] for q in queries if q["sql"].startswith('SELECT "conversations_conversation"."id"')
                and f'"conversations_conversation"."id" = {pk}' in q["sql"]]

    routing(cast.dept_a, pickup_minutes=1, pickup_auto_assign=False, pickup_notify=True, reply_minutes=2)
    conv = queued(cast)
    Message.objects.filter(conversation=conv, author_kind="system").delete()
    token, ids = claim_due(now=conv.queued_at + timedelta(minutes=1))
    with CaptureQueriesContext(connection) as ctx:
        outcome = process_deadline(conversation_id=conv.pk, token=token, now=conv.queued_at + timedelta(minutes=1))
    assert outcome == "pickup:notified" and ids == [conv.pk]
    assert conv.messages.filter(author_kind="system", meta__routing__isnull=False).count() == 1  # the notice
    assert len(escalations(conv)) == 1
    assert len(chat_reads(ctx.captured_queries, conv.pk)) == 1, chat_reads(ctx.captured_queries, conv.pk)

    # The reply step: escalation event and requeue on the one locked instance.
    conv_services.conversation_assign(conversation=conv.pk, assignee=cast.collab_a, actor=conv_services.SYSTEM)
    conv.refresh_from_db()
    services.arm_from_state(conv, now=conv.assigned_at)
    token, ids = claim_due(now=conv.assigned_at + timedelta(minutes=2))
    with CaptureQueriesContext(connection) as ctx:
        outcome = process_deadline(conversation_id=conv.pk, token=token, now=conv.assigned_at + timedelta(minutes=2))
    conv.refresh_from_db()
    assert outcome == "reply:requeued" and conv.status == Status.UNASSIGNED and conv.assignee is None
    # One lock, plus the re-read after the requeue that re-arms the timer from the new state.
    assert len(chat_reads(ctx.captured_queries, conv.pk)) == 2, chat_reads(ctx.captured_queries, conv.pk)
