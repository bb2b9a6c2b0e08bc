"""Real concurrent transactions on PostgreSQL: row locks and SKIP LOCKED, not luck."""
from __future__ import annotations

import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection

from apps.conversations.models import Conversation, ConversationEvent, Status
from apps.routing import services
from apps.routing.models import Mode, Notification
from apps.routing.sweep import sweep
from tests.factories import conversation_in, make_cast, make_user

from .conftest import online, routing

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def eager(settings):
    """Route tasks run in-process on commit (as on the embedded default), never to a real broker, and
    live signals go to the in-memory layer: these tests are about database locks, and a Redis
    round trip per signal would only make them slow."""
    from channels.layers import channel_layers

    from asisteclick.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield
    app.conf.task_always_eager = before
    channel_layers.backends.clear()


def run_parallel(n: int, target) -> list:
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def work(i):
        try:
            barrier.wait()
            results[i] = target(i)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return results


def test_two_workers_one_chat_give_one_assignment(eager):
    cast = make_cast()
    routing(cast.dept_a, mode=Mode.MANUAL)
    conv = conversation_in(cast, Status.UNASSIGNED)
    for user in (cast.collab_a, cast.collab_ab):
        online(user)
    routing(cast.dept_a, mode=Mode.LOAD)
    got = run_parallel(6, lambda i: services.routing_try_assign(conversation_id=conv.pk))
    assert sum(1 for g in got if g is not None) == 1
    assert ConversationEvent.objects.filter(conversation=conv, kind="assigned").count() == 1


def test_parallel_assignment_never_exceeds_capacity(eager):
    cast = make_cast()
    routing(cast.dept_a, mode=Mode.MANUAL)
    agents = [cast.collab_a, cast.collab_ab] + [make_user(f"extra{i}", departments=[cast.dept_a]) for i in range(2)]
    chats = [conversation_in(cast, Status.UNASSIGNED).pk for _ in range(14)]
    for a in agents:
        online(a, capacity=2)
    routing(cast.dept_a, mode=Mode.LOAD)

    def worker(i):
        order = chats[:]
        random.Random(i).shuffle(order)
        return sum(1 for pk in order if services.routing_try_assign(conversation_id=pk) is not None)

    assert sum(run_parallel(4, worker)) == 8
    loads = Counter(Conversation.objects.filter(status=Status.ASSIGNED).values_list("assignee_id", flat=True))
    assert sorted(loads.values()) == [2, 2, 2, 2]
    per_chat = Counter(ConversationEvent.objects.filter(kind="assigned").values_list("conversation_id", flat=True))
    assert max(per_chat.values()) == 1 and len(per_chat) == 8


def test_two_sweeps_at_once_escalate_each_chat_exactly_once(eager):
    cast = make_cast()
    routing(cast.dept_a, mode=Mode.MANUAL, pickup_minutes=1, pickup_auto_assign=False, pickup_notify=True)
    chats = [conversation_in(cast, Status.UNASSIGNED).pk for _ in range(30)]
    t0 = Conversation.objects.get(pk=chats[0]).queued_at
    for pk in chats:
        services.arm_from_state(Conversation.objects.get(pk=pk), now=t0)
    t = Conversation.objects.order_by("-queued_at").first().queued_at + timedelta(minutes=1)
    stats = run_parallel(2, lambda i: sweep(now=t, batch=7, assign=False))
    steps = Counter(ConversationEvent.objects.filter(kind="escalation", reason="pickup_overdue")
                    .values_list("conversation_id", flat=True))
    assert set(steps) == set(chats)            # none skipped
    assert max(steps.values()) == 1            # none escalated twice
    assert Notification.objects.count() == 30  # one Operator, one notice per chat
    assert sum(s.get("claimed", 0) for s in stats) == 30
