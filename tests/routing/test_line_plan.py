"""The line's reads walk their partial expression indexes (conversations migration 0008), built
from the same ``line_order()`` the queries order by: automatic assignment reads a department's
line in order and stops at its batch, and the place in line counts an index range; neither sorts
nor filters every waiting chat (both grow with the queue)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.conversations.models import Contact, Conversation, Status
from apps.departments.models import Department
from apps.routing import selectors
from tests.factories import conversation_in
from tests.plans import executed_plans, query_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(cast):
    """A chat queued in Technical Support, behind a few hundred waiting chats in ten departments
    (some requeued, some in transfer) among thousands archived; written directly, as only the
    planner's statistics matter here."""
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    contacts = Contact.objects.bulk_create(Contact(name=f"Queued {i}") for i in range(400))
    depts = [cast.dept_a, cast.dept_b, *(Department.objects.create(name=f"Line {i}", slug=f"line-{i}")
                                         for i in range(8))]
    now = timezone.now()
    Conversation.objects.bulk_create(
        Conversation(contact=c, channel=cast.channel, department=depts[i % len(depts)],
                     status=Status.TRANSFER if i % 40 == 0 else Status.UNASSIGNED,
                     queued_at=now - timedelta(seconds=i), waiting_since=now - timedelta(seconds=3 * i) if i % 3 else None)
        for i, c in enumerate(contacts))
    # And the history every department keeps: archived chats far outnumber the waiting ones.
    Conversation.objects.bulk_create(
        Conversation(contact=contacts[i % 400], channel=cast.channel, department=depts[i % len(depts)],
                     status=Status.ARCHIVED, queued_at=now - timedelta(days=1), archived_at=now)
        for i in range(4000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_conversation")
    return conv


def test_automatic_assignment_reads_the_department_line_in_index_order(queued):
    plan = query_plan(selectors.line(queued.department_id).values_list("pk", flat=True)[:50])
    assert "conv_line_dept" in plan, plan
    assert "Sort" not in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan


def _ahead_of(conv) -> tuple[int, int]:
    """(queued, in transfer) chats of the department before ``conv`` in line, counted in Python."""
    since = conv.waiting_since or conv.queued_at
    rows = Conversation.objects.filter(department_id=conv.department_id, status__in=selectors.WAITING)
    waits = [(s, w or q) for s, w, q in rows.values_list("status", "waiting_since", "queued_at")]
    return (sum(s == Status.UNASSIGNED and w < since for s, w in waits),
            sum(s == Status.TRANSFER and w < since for s, w in waits))


def test_place_in_line_counts_queued_and_transfer_chats_ahead(queued):
    queued_ahead, in_transfer = _ahead_of(queued)
    assert queued_ahead > 10 and in_transfer > 0  # the premise: both kinds are ahead
    position, plans = executed_plans(lambda: selectors.queue_position(queued))
    assert position == queued_ahead + in_transfer + 1
    # The queued chats by a range of the line index, in its order (nothing sorted).
    assert "conv_line_dept" in plans[0] and "Sort" not in plans[0] and "TEMP B-TREE" not in plans[0], plans
    if connection.vendor == "postgresql":
        assert "COALESCE(waiting_since, queued_at) <" in plans[0] and "Bitmap" not in plans[0], plans
        # The few in transfer to the department by (department, status), never the whole table.
        assert "conv_dept_status" in plans[1] and "Seq Scan" not in plans[1], plans
    else:
        assert "SCAN conversations_conversation" not in "\n".join(plans), plans


def test_place_in_line_stops_reading_the_line_at_the_cap(queued, monkeypatch):
    """A long line is counted up to ``LINE_CAP``: the index scan stops there instead of reading every
    chat ahead (one read of queued and in-transfer chats together built bitmaps of the department's
    whole history before the LIMIT), and the chats in transfer are not read at all."""
    queued_ahead, _ = _ahead_of(queued)
    monkeypatch.setattr(selectors, "LINE_CAP", 5)
    assert queued_ahead > 5 * 4
    position, plans = executed_plans(lambda: selectors.queue_position(queued))
    assert position == 6
    assert len(plans) == 1, plans
    if connection.vendor == "postgresql":
        scan = next(line for line in plans[0].splitlines() if "conv_line_dept" in line)
        assert "Index Scan" in scan and "actual rows=5 " in scan, plans[0]
        assert "Bitmap" not in plans[0] and "Sort" not in plans[0], plans[0]
    else:
        assert "conv_line_dept" in plans[0] and "TEMP B-TREE" not in plans[0], plans[0]
