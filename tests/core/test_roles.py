"""Role changes take effect at once; a team of two Operators needs no setup."""
from __future__ import annotations

import pytest
from django.urls import reverse

from apps.conversations import services
from apps.conversations.models import Status
from tests.core.test_role_matrix import client_for
from tests.factories import conversation_in

pytestmark = pytest.mark.django_db


def test_role_and_department_changes_apply_on_next_request(cast):
    from apps.departments.models import Membership
    from apps.departments.services import membership_remove, membership_set
    from apps.roles.services import user_set_role

    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_b)
    client = client_for(cast.collab_a)
    url = reverse("conversation-detail", args=[conv.pk])
    assert client.get(url).status_code == 404
    membership_set(user=cast.collab_a, department=cast.dept_b, actor=cast.operator)
    assert client.get(url).status_code == 200
    membership_remove(membership=Membership.objects.get(user=cast.collab_a, department=cast.dept_b), actor=cast.operator)
    assert client.get(url).status_code == 404
    assert client.get(reverse("conversation-list")).status_code == 403
    user_set_role(user=cast.collab_a, role="operator", actor=cast.operator)
    assert client.get(reverse("conversation-list")).status_code == 200
    assert client.get(url).status_code == 200
    user_set_role(user=cast.collab_a, role="collaborator", actor=cast.operator)
    assert client.get(reverse("conversation-list")).status_code == 403


def test_two_operator_team_works_without_setup(db):
    """Two Operators, no memberships at all: they see the queue, pick up, reply and archive."""
    from apps.conversations.models import Channel, Contact
    from apps.departments.models import Department
    from tests.factories import make_user

    dept = Department.objects.create(name="Support", slug="support", is_default=True)
    first, second = make_user("ana", "operator"), make_user("beto", "operator")
    channel = Channel.objects.create(name="Web", kind="webchat", default_department=dept)
    contact = Contact.objects.create(name="Cliente")
    conv = services.conversation_start(contact=contact, channel=channel)
    services.message_receive(channel=channel, contact=contact, body="hola", conversation=conv)
    services.conversation_escalate(conversation=conv, department=dept, trigger="explicit_request")
    services.conversation_enqueue(conversation=conv)
    client = client_for(first)
    assert client.post(reverse("conversation-pickup", args=[conv.pk])).status_code == 302
    assert client.post(reverse("conversation-reply", args=[conv.pk]), {"body": "Hola!"}).status_code == 302
    conv.refresh_from_db()
    assert conv.status == Status.IN_PROGRESS and conv.assignee == first
    assert client_for(second).get(reverse("conversation-detail", args=[conv.pk])).status_code == 200
    assert client.post(reverse("conversation-archive", args=[conv.pk])).status_code == 302
    conv.refresh_from_db()
    assert conv.status == Status.ARCHIVED
