"""Operators configure webhooks in the admin (SSRF-checked); beat entries; housekeeping; the
knowledge listing when that app provides documents."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apps.integrations.inbound import integrations_housekeeping
from apps.integrations.models import IdempotencyRecord, InboundWebhook, WebhookEndpoint

from .conftest import token_client

pytestmark = pytest.mark.django_db


def _admin_client(user):
    client = Client()
    client.force_login(user)
    return client


def test_only_configurers_reach_webhook_admin(cast):
    assert _admin_client(cast.collab_a).get("/admin/integrations/webhookendpoint/").status_code in (302, 403)
    assert _admin_client(cast.operator).get("/admin/integrations/webhookendpoint/").status_code == 200


def test_admin_refuses_private_targets_unless_allowed(cast):
    client = _admin_client(cast.operator)
    url = "/admin/integrations/webhookendpoint/add/"
    inline = {"deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0"}
    resp = client.post(url, {"url": "http://127.0.0.1:9/hook", "events": ["csat.submitted"], "is_active": "on", **inline})
    assert resp.status_code == 200 and not WebhookEndpoint.objects.exists()
    assert "private" in resp.content.decode() or "privada" in resp.content.decode()
    resp = client.post(url, {"url": "http://127.0.0.1:9/hook", "events": ["csat.submitted"], "is_active": "on",
                             "allow_private_network": "on", **inline})
    assert resp.status_code == 302
    ep = WebhookEndpoint.objects.get()
    assert ep.events == ["csat.submitted"] and ep.secret.startswith("whsec_")


def test_beat_schedule_registers_periodic_tasks():
    from asisteclick.celery import app

    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"apps.integrations.tasks.webhooks_sweep", "apps.integrations.tasks.email_poll",
            "apps.integrations.tasks.housekeeping"} <= tasks


def test_housekeeping_forgets_old_rows_only(cast):
    old = timezone.now() - timedelta(days=8)
    rec = IdempotencyRecord.objects.create(user=cast.operator, key="old", request_hash="x")
    IdempotencyRecord.objects.filter(pk=rec.pk).update(created_at=old)
    IdempotencyRecord.objects.create(user=cast.operator, key="new", request_hash="x")
    InboundWebhook.objects.create(channel=cast.channel, body_sha256="done", payload={}, processed_at=old)
    InboundWebhook.objects.create(channel=cast.channel, body_sha256="todo", payload={})
    assert integrations_housekeeping() == {"idempotency": 1, "inbound": 1}
    assert list(InboundWebhook.objects.values_list("body_sha256", flat=True)) == ["todo"]


def test_knowledge_documents_listing_for_operators_only(cast):
    from apps.integrations.api.views import knowledge_document_model

    assert knowledge_document_model() is not None  # the knowledge app is part of the project
    assert token_client(cast.operator).get("/api/v1/knowledge/documents/").status_code == 200
    assert token_client(cast.collab_a).get("/api/v1/knowledge/documents/").status_code == 403


def test_integration_admins_write_audit_entries_without_secrets(cast):
    from apps.core.models import AuditEntry
    from apps.integrations.models import ApiToken, Integration

    client = _admin_client(cast.operator)
    inline = {"deliveries-TOTAL_FORMS": "0", "deliveries-INITIAL_FORMS": "0"}
    resp = client.post("/admin/integrations/webhookendpoint/add/", {
        "url": "http://127.0.0.1:9/hook", "events": ["csat.submitted"], "is_active": "on",
        "allow_private_network": "on", "secret": "whsec_dG9wLXNlY3JldA==", **inline})
    assert resp.status_code == 302
    ep = WebhookEndpoint.objects.get()
    entry = AuditEntry.objects.get(action="webhookendpoint.add")
    assert entry.actor == cast.operator and entry.target_id == str(ep.pk)
    assert entry.changes["url"] == "http://127.0.0.1:9/hook" and entry.changes["secret"] == "(changed)"
    assert "dG9wLXNlY3JldA" not in str(entry.changes)
    # Issuing a token in the admin is audited; the key never is.
    service_user = cast.outsider
    integration = Integration.objects.create(name="CRM", user=service_user)
    resp = client.post("/admin/integrations/apitoken/add/", {"name": "crm", "user": service_user.pk,
                                                             "integration": integration.pk, "scope": "write"})
    assert resp.status_code == 302
    token = ApiToken.objects.get(name="crm")
    issued = AuditEntry.objects.get(action="apitoken.add")
    assert issued.target_id == str(token.pk) and issued.changes["scope"] == "write"
    key_shown = [str(m) for m in resp.wsgi_request._messages][0]
    assert key_shown.rsplit(" ", 1)[-1] not in str(issued.changes) + issued.target_repr
    # Revoking (an admin action) and a bulk delete are audited too.
    client.post("/admin/integrations/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert AuditEntry.objects.filter(action="apitoken.revoke", target_id=str(token.pk)).exists()
    client.post("/admin/integrations/webhookendpoint/", {"action": "delete_selected", "_selected_action": [ep.pk],
                                                         "post": "yes"})
    assert not WebhookEndpoint.objects.exists()
    assert AuditEntry.objects.filter(action="webhookendpoint.delete", target_id=str(ep.pk)).exists()
