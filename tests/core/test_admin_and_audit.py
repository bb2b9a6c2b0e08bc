"""Operators configure everything in the admin; every change is audited; Collaborators are kept out."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.core.models import AuditEntry
from apps.departments.models import Department, Membership
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_operator_creates_department_and_membership_in_admin(cast):
    client = login(cast.operator)
    response = client.post(reverse("admin:departments_department_add"), {
        "name": "Cancellations", "slug": "cancellations", "description": "", "is_active": "on", "time_zone": "",
        "backup": cast.default.pk,
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-user": cast.collab_b.pk, "memberships-0-can_handle": "on", "memberships-0-can_archive": "on",
    })
    assert response.status_code == 302, response.content[:2000]
    dept = Department.objects.get(slug="cancellations")
    membership = Membership.objects.get(user=cast.collab_b, department=dept)
    assert not membership.can_transfer
    assert cast.collab_b.has_perm("departments.handle_department", dept)
    assert not cast.collab_b.has_perm("departments.transfer_department", dept)
    actions = set(AuditEntry.objects.filter(actor=cast.operator).values_list("action", flat=True))
    assert {"department.add", "membership.add"} <= actions


def test_operator_changes_role_in_admin_and_it_is_audited(cast):
    client = login(cast.operator)
    url = reverse("admin:accounts_user_change", args=[cast.collab_a.pk])
    page = client.get(url)
    assert page.status_code == 200
    response = client.post(url, {
        "username": "collab_a", "first_name": "Collab_A", "last_name": "", "display_name": "Ana", "email": "",
        "language": "en", "time_zone": "", "role": "operator", "is_active": "on",
        "memberships-TOTAL_FORMS": "1", "memberships-INITIAL_FORMS": "1", "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": Membership.objects.get(user=cast.collab_a).pk, "memberships-0-user": cast.collab_a.pk,
        "memberships-0-department": cast.dept_a.pk, "memberships-0-can_handle": "on",
    })
    assert response.status_code == 302, response.content[:3000]
    cast.collab_a.refresh_from_db()
    assert cast.collab_a.role == "operator" and cast.collab_a.is_staff
    assert cast.collab_a.groups.filter(name="Operator").exists()
    entry = AuditEntry.objects.get(action="role.set", target_id=str(cast.collab_a.pk))
    assert entry.actor == cast.operator and entry.changes == {"role": ["collaborator", "operator"]}
    # The membership edit (archive and transfer unticked) reached the object permissions.
    assert not cast.collab_a.has_perm("departments.archive_department", cast.dept_a)
    # Operators can read the audit log.
    assert client.get(reverse("admin:core_auditentry_changelist")).status_code == 200


def test_collaborators_cannot_reach_admin_or_audit(cast):
    client = login(cast.collab_a)
    for name in ("admin:index", "admin:core_auditentry_changelist", "admin:departments_department_changelist"):
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_audit_log_is_append_only(cast):
    entry = AuditEntry.objects.first()
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()


def test_moving_a_membership_to_another_department_revokes_the_old_one(cast):
    """Editing the department of a membership row in the admin: the old department's chats disappear."""
    from apps.conversations import access
    from tests.factories import conversation_in

    queued = conversation_in(cast, "unassigned", department=cast.dept_a)
    assert access.conversations_visible_to(cast.collab_a, "view").filter(pk=queued.pk).exists()
    membership = Membership.objects.get(user=cast.collab_a, department=cast.dept_a)
    response = login(cast.operator).post(reverse("admin:departments_membership_change", args=[membership.pk]), {
        "user": cast.collab_a.pk, "department": cast.dept_b.pk, "can_handle": "on", "can_archive": "on",
    })
    assert response.status_code == 302, response.content[:2000]
    assert not access.conversations_visible_to(cast.collab_a, "view").filter(pk=queued.pk).exists()
    assert login(cast.collab_a).get(reverse("conversation-detail", args=[queued.pk])).status_code == 404
    assert not cast.collab_a.has_perm("departments.handle_department", cast.dept_a)
    assert cast.collab_a.has_perm("departments.handle_department", cast.dept_b)
    entry = AuditEntry.objects.filter(action="membership.change").latest("id")
    assert entry.changes["moved_from"] == {"user": cast.collab_a.pk, "department": cast.dept_a.pk}
