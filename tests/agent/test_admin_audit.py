"""The AI Agent's admin screens: thresholds within the limits agent_config import enforces, and
every change written to the audit log (like the other configuration screens)."""
from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from apps.agent.models import AgentSettings, Topic, TransferRule
from apps.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(cast):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(cast.operator)
    return client


def _settings_form(**overrides) -> dict:
    data = {"confidence_threshold": "0.5", "out_of_scope_threshold": "0.5", "explicit_request_threshold": "0.5",
            "sentiment_threshold": "-0.35", "sentiment_window": "3", "sentiment_min_negative": "2",
            "default_department": "", "collect_max_attempts": "2", "messages": "{}"}
    return data | {k: str(v) for k, v in overrides.items()}


@pytest.mark.parametrize("overrides,field", [
    ({"confidence_threshold": 1.5}, "confidence_threshold"),
    ({"sentiment_threshold": -2}, "sentiment_threshold"),
    ({"sentiment_window": 0}, "sentiment_window"),
    ({"sentiment_window": 2, "sentiment_min_negative": 3}, "sentiment_min_negative"),
    ({"collect_max_attempts": 11}, "collect_max_attempts"),
    ({"messages": '["not", "a", "mapping"]'}, "messages"),
])
def test_settings_admin_refuses_what_an_import_would_refuse(operator_client, overrides, field):
    AgentSettings.load()
    url = reverse("admin:agent_agentsettings_change", args=[1])
    response = operator_client.post(url, _settings_form(**overrides))
    assert response.status_code == 200  # the form again, with the error
    assert field in response.context["adminform"].form.errors
    cfg = AgentSettings.load()
    shipped = AgentSettings._meta.get_field("confidence_threshold").default  # nothing was saved
    assert (cfg.confidence_threshold, cfg.sentiment_window, cfg.sentiment_min_negative) == (shipped, 3, 2)
    assert not AuditEntry.objects.filter(action="agentsettings.change").exists()


def test_settings_change_is_audited(operator_client, cast):
    AgentSettings.load()
    url = reverse("admin:agent_agentsettings_change", args=[1])
    response = operator_client.post(url, _settings_form(confidence_threshold=0.7))
    assert response.status_code == 302
    assert AgentSettings.load().confidence_threshold == 0.7
    entry = AuditEntry.objects.get(action="agentsettings.change")
    assert entry.actor == cast.operator and entry.changes["confidence_threshold"] == 0.7
    assert "sentiment_window" not in entry.changes  # only what changed


def test_topic_and_transfer_rule_changes_are_audited(operator_client, cast):
    response = operator_client.post(reverse("admin:agent_topic_add"), {
        "name": "Billing", "slug": "billing", "description": "", "bot_may_answer": "on",
        "department": cast.dept_b.pk, "document_refs": "[]", "action": "", "is_active": "on",
        "examples-TOTAL_FORMS": "1", "examples-INITIAL_FORMS": "0", "examples-0-text": "how do I pay my bill",
        "examples-0-language": "en",
        "required_fields-TOTAL_FORMS": "0", "required_fields-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    topic = Topic.objects.get(slug="billing")
    entry = AuditEntry.objects.get(action="topic.add")
    assert (entry.actor, entry.target_id, entry.changes["slug"]) == (cast.operator, str(topic.pk), "billing")

    response = operator_client.post(reverse("admin:agent_transferrule_add"), {
        "order": "0", "topic": topic.pk, "trigger": "low_confidence", "language": "", "department": cast.dept_a.pk,
        "is_active": "on"})
    assert response.status_code == 302
    rule = TransferRule.objects.get()
    assert AuditEntry.objects.get(action="transferrule.add").target_id == str(rule.pk)

    response = operator_client.post(reverse("admin:agent_transferrule_changelist"), {
        "action": "delete_selected", "_selected_action": [rule.pk], "post": "yes"})
    assert response.status_code == 302 and not TransferRule.objects.exists()
    assert AuditEntry.objects.get(action="transferrule.delete").target_id == str(rule.pk)
