"""Every task retries transient database errors (a saturated pool, a restarted server) instead of
dying on them: the burst that exhausts connections must not lose a turn or a send."""
from __future__ import annotations

import pytest
from django.db import InterfaceError, OperationalError

from asisteclick.celery import app


def _our_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_every_task_of_ours_retries_transient_database_errors():
    tasks = _our_tasks()
    assert len(tasks) > 10
    missing = [name for name, task in tasks.items()
               if not all(issubclass(exc, tuple(getattr(task, "autoretry_for", ()) or ())) for exc in
                          (OperationalError, InterfaceError))]
    assert missing == []


@pytest.mark.django_db
def test_a_task_that_hits_a_dropped_connection_runs_again(monkeypatch):
    from apps.routing import tasks

    calls = []

    def arrived(*, conversation_id):
        calls.append(conversation_id)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("apps.routing.services.routing_conversation_arrived", arrived)
    old = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        result = tasks.conversation_route.apply((7,))
    finally:
        app.conf.task_always_eager = old
    assert result.successful() and calls == [7, 7]


def test_each_kind_of_work_has_its_own_queue_and_every_task_goes_to_a_declared_one():
    """A backlog of AI Agent turns must not delay handoffs or outgoing messages."""
    tasks = _our_tasks()
    queue = {name: app.amqp.router.route({}, name)["queue"].name for name in tasks}
    assert queue["apps.conversations.tasks.conversation_bot_turn"] == "agent"
    assert queue["apps.conversations.tasks.conversation_route"] == queue["routing.sweep"] == "routing"
    assert queue["apps.conversations.tasks.conversation_deliver_message"] == "outbound"
    assert queue["apps.integrations.tasks.outbound_deliver"] == "outbound"
    assert queue["apps.integrations.tasks.outbound_deliver_many"] == "outbound"
    assert queue["apps.agent.tasks.agent_reconcile_task"] == queue["apps.integrations.tasks.outbound_sweep"] == "housekeeping"
    assert queue["apps.integrations.tasks.inbound_process"] == "default"
    assert set(queue.values()) <= set(app.amqp.queues)  # a worker without -Q consumes them all
