"""The monitor's "longest waiting" list reads the ``conv_line_all`` index (conversations migration
0008) in its order and stops at its ten rows, for an Operator and for a Collaborator alike: before
it, every queued chat was sorted on every refresh, a cost that grew with the queue."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.conversations.models import Contact, Conversation, Status
from apps.workspace import selectors
from tests.factories import conversation_in
from tests.plans import query_plan

pytestmark = pytest.mark.django_db


@pytest.fixture
def crowded_queue(cast):
    conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    contacts = Contact.objects.bulk_create(Contact(name=f"Queued {i}") for i in range(300))
    now = timezone.now()
    Conversation.objects.bulk_create(
        Conversation(contact=c, channel=cast.channel, department=(cast.dept_a, cast.dept_b)[i % 2],
                     status=Status.UNASSIGNED if i % 10 else Status.IN_PROGRESS,
                     assignee=None if i % 10 else cast.collab_a,
                     queued_at=now - timedelta(seconds=i), waiting_since=now - timedelta(seconds=2 * i) if i % 3 else None)
        for i, c in enumerate(contacts))
    Conversation.objects.bulk_create(
        Conversation(contact=contacts[i % 300], channel=cast.channel, department=cast.dept_a, status=Status.ARCHIVED,
                     queued_at=now - timedelta(days=1), archived_at=now) for i in range(3000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE conversations_conversation")


@pytest.mark.parametrize("who", ["operator", "collab_ab"])
def test_longest_waiting_walks_the_line_index(cast, crowded_queue, who):
    user = getattr(cast, who)
    assert len(selectors.monitor_waiting(user)) == 10
    plan = query_plan(selectors._waiting_query(user, 10))
    assert "conv_line_all" in plan, plan
    assert "Sort" not in plan and "TEMP B-TREE FOR ORDER BY" not in plan, plan
