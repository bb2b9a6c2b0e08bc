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
from tests.plans import query_plan

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


def test_place_in_line_counts_an_index_range(queued):
    plan = query_plan(selectors._ahead_in_line(queued).order_by().values("pk")[:selectors.LINE_CAP], bitmap=True)
    if connection.vendor == "postgresql":
        # The queued chats by a range of the line index, the few in transfer by (department, status).
        assert "conv_line_dept" in plan and "COALESCE(waiting_since, queued_at) <" in plan, plan
        assert "Seq Scan" not in plan, plan
    else:
        # SQLite (small data) narrows to the department's waiting chats by an index, never a table scan.
        assert "USING INDEX" in plan and "SCAN conversations_conversation" not in plan, plan
