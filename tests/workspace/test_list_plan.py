"""The "Longest waiting" list reads its PostgreSQL expression index (workspace migrations 0005 and
0007): the index's expression must be the one ``inbox._waiting_since()`` compiles to, or the planner
silently sorts every open chat a Collaborator may see (at 1,000,000 conversations: 6.8 ms instead of
0.3 ms). Only PostgreSQL has the index; SQLite, the embedded default with small data, sorts."""
from __future__ import annotations

import pytest
from django.db import connection

from apps.conversations.models import Status
from apps.workspace import inbox
from tests.factories import conversation_in
from tests.plans import query_plan

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(connection.vendor != "postgresql", reason="a PostgreSQL expression index")]


@pytest.mark.parametrize("tab", ["open", "mine"])
def test_longest_waiting_page_walks_the_expression_index(cast, tab):
    for status in (Status.UNASSIGNED, Status.ASSIGNED, Status.IN_PROGRESS):
        conversation_in(cast, status, department=cast.dept_a,
                        assignee=cast.collab_a if status != Status.UNASSIGNED else None)
    qs, _order = inbox._page_ids_query(cast.collab_a, inbox.filters_from({"tab": tab, "sort": "waiting"}))
    plan = query_plan(qs)  # tiny tables: only an index in the list's order may win
    assert "ws_conv_open_waiting2" in plan, plan
    assert "Sort Key" not in plan, plan
