"""Report configuration in the admin: Operators edit it, every change is audited, Collaborators are kept out."""
from __future__ import annotations

import pytest
from django.urls import reverse

from apps.core.models import AuditEntry
from apps.reports.models import CostSettings
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

COST_FORM = {"currency": "USD", "operator_seats": "2", "operator_seat_monthly_cost": "300",
             "collaborator_hourly_cost": "8", "platform_monthly_cost": "100", "ai_cost_per_1k_tokens": "0.5",
             "ai_cost_per_conversation": "0.01"}


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_cost_settings_add_and_change_are_audited(client, cast):
    login(client, cast.operator)
    response = client.post(reverse("admin:reports_costsettings_add"), COST_FORM)
    assert response.status_code == 302, response.content[:2000]
    added = AuditEntry.objects.get(action="costsettings.add")
    assert added.actor == cast.operator and added.target_type == "reports.costsettings"
    assert added.changes["operator_seat_monthly_cost"] == "300"
    response = client.post(reverse("admin:reports_costsettings_change", args=[1]),
                           {**COST_FORM, "platform_monthly_cost": "150"})
    assert response.status_code == 302, response.content[:2000]
    changed = AuditEntry.objects.get(action="costsettings.change")
    assert changed.actor == cast.operator and changed.changes == {"platform_monthly_cost": "150"}
    assert str(CostSettings.current().platform_monthly_cost) == "150.00"


def test_collaborators_cannot_reach_report_settings(client, cast):
    cast.collab_a.is_staff = True  # even with admin access, no configure capability
    cast.collab_a.save()
    login(client, cast.collab_a)
    for name in ("admin:reports_costsettings_changelist", "admin:routing_departmentrouting_changelist"):
        assert client.get(reverse(name)).status_code == 403
