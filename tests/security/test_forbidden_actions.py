"""HTML actions on a chat the user may see but not act on answer 403 (as the API does), not a
redirect with a flash message, and change nothing. A chat they may not see stays 404."""
from __future__ import annotations

import pytest
from django.test import Client

from apps.conversations.models import Conversation, ConversationEvent, Status
from apps.departments.services import membership_set
from tests.factories import conversation_in, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(cast):
    """Handles Technical Support's queue, but may neither archive nor transfer there."""
    user = make_user("limited")
    membership_set(user=user, department=cast.dept_a, can_archive=False, can_transfer=False)
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("action,data", [("archive", {"resolution": "resolved"}),
                                         ("transfer", {"reason": "sales question"})])
def test_visible_but_forbidden_action_is_403(cast, limited, action, data):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    assert limited.get(f"/conversations/{conv.pk}/").status_code == 200  # visible
    if action == "transfer":
        data = {**data, "department": cast.dept_b.pk}
    events = ConversationEvent.objects.count()
    response = limited.post(f"/conversations/{conv.pk}/{action}/", data)
    assert response.status_code == 403
    assert "You cannot" in response.content.decode() or "No puede" in response.content.decode() \
        or "No podés" in response.content.decode()
    fresh = Conversation.objects.get(pk=conv.pk)
    assert (fresh.status, fresh.department_id) == (Status.UNASSIGNED, cast.dept_a.pk)
    assert ConversationEvent.objects.count() == events


def test_invisible_chat_stays_404(cast, limited):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_b)
    assert limited.post(f"/conversations/{conv.pk}/archive/", {"resolution": "resolved"}).status_code == 404
    assert Conversation.objects.get(pk=conv.pk).status == Status.UNASSIGNED
