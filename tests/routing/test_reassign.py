"""Operator reassignment: the form lists the department's agents with presence and load; only someone
who handles the department may be chosen; Operators give a reason for reassignments and transfers."""
from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, Status
from apps.core.errors import InvalidInput
from apps.departments.services import membership_set
from apps.routing import services
from apps.routing.models import ConversationDeadline, Presence
from tests.factories import conversation_in

from .conftest import online, routing

pytestmark = pytest.mark.django_db


def test_reassign_form_lists_department_agents_with_presence_and_load(cast, client):
    online(cast.collab_ab, capacity=4)
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_ab)
    client.force_login(cast.operator)
    page = client.get(reverse("conversation-detail", args=[conv.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    form = page[page.index('id="reassign-to"'):]
    form = form[:form.index("</select>")]
    assert f'<option value="{cast.collab_ab.pk}">Collab_Ab · Online · 1 of 4 chats</option>' in form
    # Only members who handle Technical Support; not the current assignee, not outsiders or other departments.
    for other in (cast.collab_a, cast.collab_b, cast.outsider):
        assert f'value="{other.pk}"' not in form


def test_reassign_form_in_spanish(cast, client):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    client.force_login(cast.operator)
    page = client.get(reverse("conversation-detail", args=[conv.pk]), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Collab_Ab · Desconectado · 0 chats" in page
    online(cast.collab_ab, capacity=4)
    page = client.get(reverse("conversation-detail", args=[conv.pk]), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Collab_Ab · En línea · 0 de 4 chats" in page


def test_reassigning_to_an_outsider_is_refused_with_a_clear_error(cast, client):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    client.force_login(cast.operator)
    resp = client.post(reverse("conversation-reassign", args=[conv.pk]),
                       {"assignee": cast.collab_b.pk, "reason": "load"}, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert resp.status_code == 200
    assert "Collab_B does not handle chats of this department." in resp.content.decode()
    conv.refresh_from_db()
    assert conv.assignee == cast.collab_a and not conv.events.filter(kind="reassigned").exists()
    # Nor can an outsider, or a member who may not handle chats there.
    with pytest.raises(InvalidInput):
        conv_services.conversation_reassign(conversation=conv, assignee=cast.outsider, actor=cast.operator, reason="x")
    membership_set(user=cast.collab_b, department=cast.dept_a, can_handle=False)
    with pytest.raises(InvalidInput):
        conv_services.conversation_reassign(conversation=conv, assignee=cast.collab_b, actor=cast.operator, reason="x")


def test_operator_assigning_a_queued_chat_by_hand_is_checked_too(cast):
    conv = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    with pytest.raises(InvalidInput):
        conv_services.conversation_assign(conversation=conv, assignee=cast.collab_b, actor=cast.operator, reason="x")
    conv_services.conversation_assign(conversation=conv, assignee=cast.collab_ab, actor=cast.operator, reason="x")
    assert Conversation.objects.get(pk=conv.pk).assignee == cast.collab_ab


def test_reassign_view_rearms_the_reply_timer(cast, client):
    routing(cast.dept_a, reply_minutes=10)
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    client.force_login(cast.operator)
    resp = client.post(reverse("conversation-reassign", args=[conv.pk]),
                       {"assignee": cast.collab_ab.pk, "reason": "specialist"})
    assert resp.status_code == 302
    conv.refresh_from_db()
    assert conv.assignee == cast.collab_ab
    assert conv.events.get(kind="reassigned").reason == "specialist"
    assert ConversationDeadline.objects.get(pk=conv.pk).armed_for == conv.assigned_at


def test_operator_reassignment_needs_a_reason_through_the_form(cast, client):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    client.force_login(cast.operator)
    client.post(reverse("conversation-reassign", args=[conv.pk]), {"assignee": cast.collab_ab.pk, "reason": " "})
    assert Conversation.objects.get(pk=conv.pk).assignee == cast.collab_a


def test_operator_transfer_needs_a_reason_a_collaborators_does_not(cast):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    with pytest.raises(InvalidInput):
        conv_services.conversation_transfer(conversation=conv, department=cast.dept_b, actor=cast.operator, reason=" ")
    assert Conversation.objects.get(pk=conv.pk).department == cast.dept_a
    conv_services.conversation_transfer(conversation=conv, department=cast.dept_b, actor=cast.collab_a)
    assert Conversation.objects.get(pk=conv.pk).department == cast.dept_b


def test_reassign_choices_order_available_first(cast):
    online(cast.collab_ab)
    services.presence_set(user=cast.collab_a, status=Presence.AWAY)
    with translation.override("en"):
        rows = services.reassign_choices(department_id=cast.dept_a.pk)
    assert [(r["user"], r["status_label"], r["available"]) for r in rows] == [
        (cast.collab_ab, "Online", True), (cast.collab_a, "Away", False)]


def test_reassign_form_puts_online_members_with_room_first_whatever_their_names(cast, client):
    """On the page itself: the only member who can take the chat now (online, with room) comes first,
    ahead of someone alphabetically earlier who is offline, away, or full."""
    from tests.factories import make_user

    aaron = make_user("aaron_offline", departments=[cast.dept_a])    # offline, first by name
    abel = make_user("abel_full", departments=[cast.dept_a])
    online(abel, capacity=1)
    conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=abel)  # full
    zoe = make_user("zoe_free", departments=[cast.dept_a])
    online(zoe, capacity=3)
    services.presence_set(user=cast.collab_ab, status=Presence.AWAY)
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    client.force_login(cast.operator)
    page = client.get(reverse("conversation-detail", args=[conv.pk]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    form = page[page.index('id="reassign-to"'):]
    form = form[:form.index("</select>")]
    order = [pk for pk in (aaron.pk, abel.pk, zoe.pk, cast.collab_ab.pk) if f'value="{pk}"' in form]
    assert len(order) == 4
    order.sort(key=lambda pk: form.index(f'value="{pk}"'))
    assert order[0] == zoe.pk                          # online with room
    assert form.index('selected disabled>Choose a person') < form.index(f'value="{zoe.pk}"')
    assert form.count(" selected") == 1                # nobody preselected
