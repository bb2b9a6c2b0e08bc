"""Expected wait (``apps.routing.selectors.expected_wait``): from the queue, who is available and the
department's recent handling times; unknown (None) when nobody can take the chat."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.conversations.models import Conversation, Status
from apps.routing.models import Mode
from apps.routing.selectors import expected_wait, queue_position
from tests.factories import conversation_in

from .conftest import online, routing

pytestmark = pytest.mark.django_db


def _finished(cast, minutes: int, n: int = 3):
    """``n`` archived chats of Technical Support that took ``minutes`` each from assignment to archive."""
    now = timezone.now()
    for _i in range(n):
        conv = conversation_in(cast, Status.ARCHIVED, department=cast.dept_a, assignee=cast.collab_a)
        Conversation.objects.filter(pk=conv.pk).update(assigned_at=now - timedelta(minutes=minutes + 5),
                                                        archived_at=now - timedelta(minutes=5))


def test_nobody_online_means_the_wait_is_unknown_not_invented(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    est = expected_wait(cast.dept_a)
    assert est.seconds is None and est.minutes is None and est.nobody_available
    assert est.waiting == 1 and est.position == 2  # a newcomer joins the end of the line


def test_free_slots_mean_no_wait_in_an_automatic_department(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a, capacity=2)
    first = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    est = expected_wait(cast.dept_a, conversation=first)
    assert est.position == 1 and est.free_slots == 2 and est.minutes == 0


def test_a_full_team_drains_the_line_at_its_handling_rate(cast):
    routing(cast.dept_a, mode=Mode.LOAD)
    _finished(cast, minutes=10)                     # recent handling time: 10 minutes per chat
    online(cast.collab_a, capacity=2)
    conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)  # full: 2 of 2
    first = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    second = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    assert [queue_position(first), queue_position(second)] == [1, 2]
    est = expected_wait(cast.dept_a, conversation=second)
    # Two slots, each freeing every 10 minutes: the 2nd in line starts after 2 * 600 s / 2 = 10 minutes.
    assert (est.slots, est.free_slots, est.handle_seconds) == (2, 0, 600.0)
    assert est.position == 2 and est.minutes == 10
    assert expected_wait(cast.dept_a, conversation=first).minutes == 5
    # One more person with room: the first in line is next, at once.
    online(cast.collab_ab, capacity=2)
    assert expected_wait(cast.dept_a, conversation=first).minutes == 0


def test_away_and_out_of_shift_people_do_not_count(cast):
    from datetime import time

    from apps.routing.models import AgentShift

    routing(cast.dept_a, mode=Mode.LOAD)
    online(cast.collab_a, status="away")
    night = online(cast.collab_ab)
    from zoneinfo import ZoneInfo

    from django.conf import settings

    later = timezone.localtime(timezone.now() + timedelta(hours=3), ZoneInfo(settings.TIME_ZONE))  # local times
    start = later.time().replace(second=0, microsecond=0)
    AgentShift.objects.create(presence=night, weekday=later.weekday(), start=start,
                              end=time((start.hour + 1) % 24, start.minute))
    assert expected_wait(cast.dept_a).online_agents == 0


def test_the_widget_state_carries_the_place_in_line_and_the_expected_wait(cast):
    from apps.conversations.models import Contact
    from apps.workspace.widget import Visitor, ui_strings, visitor_sync

    routing(cast.dept_a, mode=Mode.LOAD)
    _finished(cast, minutes=10)
    online(cast.collab_a, capacity=1)
    conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a,  # full
                    contact=Contact.objects.create(name="Busy customer"))  # one open chat per customer
    conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a, contact=cast.other_customer)
    mine = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    visitor = Visitor(channel_id=cast.channel.pk, visitor_id="v1", token="t", identity="x",
                      contact_id=cast.customer.pk)
    state = visitor_sync(visitor)["state"]
    assert state["conversation"] == mine.pk
    assert (state["position"], state["wait_minutes"]) == (2, 20)  # one slot, 10 min a chat, 2nd in line
    assert "%(position)s" in ui_strings()["queue_wait"]
    # Nobody online any more: the wait is unknown, and the widget says so instead of a number.
    from apps.routing import services

    services.presence_set(user=cast.collab_a, status="away")
    state = visitor_sync(visitor)["state"]
    assert state["position"] == 2 and state["wait_minutes"] is None
