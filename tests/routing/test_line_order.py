"""The line is the customer's real wait (``conversations.models.line_order``): a chat offered to an
agent who never picked it up goes back to the queue with its place kept (``waiting_since``), not to
the back of the line (``queued_at``, which the requeue resets for the pick-up timer). Automatic
assignment, the place in line and the monitor's longest waits all follow it."""
from __future__ import annotations

import pytest
from django.utils import timezone

from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, Status
from apps.routing import services
from apps.routing.models import Mode
from apps.routing.selectors import expected_wait, queue_position
from apps.workspace.selectors import monitor_waiting
from tests.factories import conversation_in

from .conftest import online, routing

pytestmark = pytest.mark.django_db


@pytest.fixture
def requeued_and_later(cast):
    """``requeued`` reached the queue first, was assigned and went back unanswered; ``later`` was
    queued in between and never requeued (so it has the smaller ``queued_at``)."""
    requeued = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    later = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    conv_services.conversation_assign(conversation=requeued, assignee=cast.collab_a)
    conv_services.conversation_requeue(conversation=requeued, reason="not picked up")
    requeued, later = Conversation.objects.get(pk=requeued.pk), Conversation.objects.get(pk=later.pk)
    # The premise: by queue entry the requeued chat is behind; by the customer's wait it is ahead.
    assert later.queued_at < requeued.queued_at
    assert requeued.waiting_since < later.waiting_since
    return requeued, later


def test_automatic_routing_assigns_the_longest_waiting_chat_first(cast, requeued_and_later):
    requeued, later = requeued_and_later
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_ab, capacity=1)  # room for one chat: the one next in line

    assert services.routing_assign_waiting(now=timezone.now()) == 1

    requeued.refresh_from_db()
    later.refresh_from_db()
    assert (requeued.status, requeued.assignee) == (Status.ASSIGNED, cast.collab_ab)
    assert later.status == Status.UNASSIGNED


def test_an_agent_freeing_capacity_takes_the_longest_waiting_chat(cast, requeued_and_later):
    requeued, later = requeued_and_later
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_ab, capacity=1)

    assert services.routing_agent_available(user_id=cast.collab_ab.pk) == 1
    assert Conversation.objects.get(assignee=cast.collab_ab, status=Status.ASSIGNED).pk == requeued.pk


def test_the_requeued_chat_is_first_in_line(cast, requeued_and_later):
    requeued, later = requeued_and_later
    routing(cast.dept_a, mode=Mode.LOAD)
    assert [queue_position(requeued), queue_position(later)] == [1, 2]
    assert expected_wait(cast.dept_a, conversation=requeued).position == 1
    assert expected_wait(cast.dept_a, conversation=later).position == 2


@pytest.mark.parametrize("who", ["operator", "collab_a"])
def test_the_monitor_lists_the_requeued_chat_first(cast, requeued_and_later, who):
    requeued, later = requeued_and_later
    assert [c.pk for c in monitor_waiting(getattr(cast, who))] == [requeued.pk, later.pk]


def test_a_chat_whose_wait_a_reply_ended_keeps_its_place_by_queue_entry(cast):
    """An Operator answered a queued chat (its ``waiting_since`` is cleared; it is still in the
    queue): it stands in line by when it was queued, not after everyone else."""
    answered = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    newer = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    conv_services.message_send_human(conversation=answered, user=cast.operator, body="Ya te atendemos")
    answered.refresh_from_db()
    assert answered.status == Status.UNASSIGNED and answered.waiting_since is None

    assert [queue_position(answered), queue_position(newer)] == [1, 2]
    assert [c.pk for c in monitor_waiting(cast.operator)] == [answered.pk, newer.pk]
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a, capacity=1)
    assert services.routing_assign_waiting(now=timezone.now()) == 1
    answered.refresh_from_db()
    assert answered.assignee == cast.collab_a


def test_the_pickup_timer_still_runs_from_the_requeue(cast, requeued_and_later):
    """The line keeps the customer's place; the pick-up timer (``armed_for``) is about the new offer."""
    from apps.routing.models import ConversationDeadline

    requeued, _later = requeued_and_later
    routing(cast.dept_a, mode=Mode.MANUAL, pickup_minutes=5)
    services.arm_from_state(requeued, now=timezone.now())
    assert ConversationDeadline.objects.get(pk=requeued.pk).armed_for == requeued.queued_at
