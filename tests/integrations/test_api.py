"""REST API: tokens and scopes, visibility (404) vs denied functions (403), transitions through
the services, idempotency keys, error bodies, pagination and filters."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.conversations.models import Channel, Conversation, ConversationEvent, Message, Status
from apps.departments.models import Membership
from apps.integrations.models import ApiToken, IdempotencyRecord, Integration
from tests.factories import conversation_in, make_user

from .conftest import token_client

pytestmark = pytest.mark.django_db
API = "/api/v1"


def _error(resp):
    body = resp.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}, body
    return body["error"]


def test_unauthenticated_gets_401_error_body(cast):
    resp = APIClient().get(f"{API}/conversations/")
    assert resp.status_code in (401, 403)
    assert _error(resp)["code"] in ("not_authenticated", "authentication_failed")


def test_revoked_and_unknown_tokens_are_refused(cast):
    client = token_client(cast.operator)
    assert client.get(f"{API}/conversations/").status_code == 200
    ApiToken.objects.get(user=cast.operator).revoke()
    resp = client.get(f"{API}/conversations/")
    assert resp.status_code == 401 and _error(resp)["code"] == "authentication_failed"
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Bearer ac_nope")
    assert bad.get(f"{API}/conversations/").status_code == 401


def test_token_hash_only_is_stored(cast):
    token, raw = ApiToken.issue(user=cast.operator, name="x")
    assert raw not in (token.key_hash, token.prefix) and token.prefix == raw[:10]


def test_read_scope_cannot_write(cast):
    conv = conversation_in(cast, Status.UNASSIGNED)
    client = token_client(cast.collab_a, scope="read")
    assert client.get(f"{API}/conversations/{conv.pk}/").status_code == 200
    resp = client.post(f"{API}/conversations/{conv.pk}/assign/", {"assignee": cast.collab_a.pk}, format="json")
    assert resp.status_code == 403 and _error(resp)["code"] == "permission_denied"
    assert Conversation.objects.get(pk=conv.pk).status == Status.UNASSIGNED


def test_visibility_invisible_is_404_denied_is_403(cast):
    conv_a = conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    a, b = token_client(cast.collab_a), token_client(cast.collab_b)
    ids_a = [c["id"] for c in a.get(f"{API}/conversations/").json()["results"]]
    ids_b = [c["id"] for c in b.get(f"{API}/conversations/").json()["results"]]
    assert conv_a.pk in ids_a and conv_a.pk not in ids_b
    for path in ("", "messages/"):
        assert b.get(f"{API}/conversations/{conv_a.pk}/{path}").status_code == 404
    resp = b.post(f"{API}/conversations/{conv_a.pk}/resolve/", {}, format="json")
    assert resp.status_code == 404 and _error(resp)["code"] == "not_found"
    # collab_a sees it but may not reassign to someone else: a denied function is 403.
    resp = a.post(f"{API}/conversations/{conv_a.pk}/assign/", {"assignee": cast.collab_ab.pk}, format="json")
    assert resp.status_code == 403 and _error(resp)["code"] == "not_allowed"
    # Contacts follow conversations.
    assert b.get(f"{API}/contacts/{cast.customer.pk}/").status_code == 404
    assert a.get(f"{API}/contacts/{cast.customer.pk}/").status_code == 200


def test_pickup_reply_resolve_reopen_through_services(cast):
    conv = conversation_in(cast, Status.UNASSIGNED)
    a = token_client(cast.collab_a)
    resp = a.post(f"{API}/conversations/{conv.pk}/assign/", {"assignee": cast.collab_a.pk}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == Status.ASSIGNED
    resp = a.post(f"{API}/conversations/{conv.pk}/messages/", {"body": "Hola, soy Ana"}, format="json")
    assert resp.status_code == 201 and resp.json()["author_kind"] == "human"
    assert Conversation.objects.get(pk=conv.pk).status == Status.IN_PROGRESS
    listing = a.get(f"{API}/conversations/{conv.pk}/messages/").json()
    assert listing["count"] == 2 and listing["results"][-1]["body"] == "Hola, soy Ana"
    resp = a.post(f"{API}/conversations/{conv.pk}/resolve/", {"resolution": "solved"}, format="json")
    assert resp.status_code == 200 and resp.json()["status"] == Status.ARCHIVED
    resp = a.post(f"{API}/conversations/{conv.pk}/resolve/", {}, format="json")
    assert resp.status_code in (403, 409)  # archived: no archive right and no such move
    resp = a.post(f"{API}/conversations/{conv.pk}/reopen/", {"reason": "customer came back"}, format="json")
    assert resp.status_code == 200
    kinds = list(ConversationEvent.objects.filter(conversation=conv).values_list("kind", flat=True))
    assert kinds[-4:] == ["picked_up", "started", "archived", "reopened"]


def test_operator_transfer_and_assign(cast):
    conv = conversation_in(cast, Status.IN_PROGRESS)
    op = token_client(cast.operator)
    resp = op.post(f"{API}/conversations/{conv.pk}/transfer/", {"department": cast.dept_b.pk, "reason": "sales"},
                   format="json")
    assert resp.status_code == 200 and resp.json()["department"] == cast.dept_b.pk
    resp = op.post(f"{API}/conversations/{conv.pk}/assign/", {"assignee": cast.collab_b.pk}, format="json")
    assert resp.status_code == 200 and resp.json()["assignee"] == cast.collab_b.pk
    resp = op.post(f"{API}/conversations/{conv.pk}/assign/", {"assignee": cast.collab_ab.pk}, format="json")
    assert resp.status_code == 400 and _error(resp)["code"] == "invalid_input"  # reassign needs a reason
    resp = op.post(f"{API}/conversations/{conv.pk}/transfer/", {"department": 999999}, format="json")
    assert resp.status_code == 400 and "department" in _error(resp)["fields"]


def test_reopen_of_open_conversation_is_409(cast):
    conv = conversation_in(cast, Status.UNASSIGNED)
    resp = token_client(cast.operator).post(f"{API}/conversations/{conv.pk}/reopen/", {}, format="json")
    assert resp.status_code == 409 and _error(resp)["code"] == "illegal_transition"


def test_create_conversation_and_filters(cast):
    conversation_in(cast, Status.BOT)
    api_channel = Channel.objects.create(name="API", kind=Channel.Kind.API, default_department=cast.default)
    op = token_client(cast.operator)
    resp = op.post(f"{API}/conversations/", {"channel": api_channel.pk, "body": "Necesito factura",
                                             "subject": "Factura", "contact": {"name": "Zoe", "email": "z@e.com"}},
                   format="json")
    assert resp.status_code == 201, resp.json()
    conv_id = resp.json()["id"]
    assert Message.objects.filter(conversation_id=conv_id, author_kind="customer").count() == 1
    assert [c["id"] for c in op.get(f"{API}/conversations/?q=zoe").json()["results"]] == [conv_id]
    assert op.get(f"{API}/conversations/?status=bot&channel={api_channel.pk}").json()["count"] == 1
    assert op.get(f"{API}/conversations/?status=archived&channel={api_channel.pk}").json()["count"] == 0
    resp = op.get(f"{API}/conversations/?department=abc")
    assert resp.status_code == 400 and "department" in _error(resp)["fields"]
    assert op.get(f"{API}/conversations/?limit=1").json()["next"]
    # Collaborators cannot open conversations (least privilege).
    resp = token_client(cast.collab_a).post(f"{API}/conversations/", {"channel": api_channel.pk, "body": "x",
                                                                     "contact_id": cast.customer.pk}, format="json")
    assert resp.status_code == 403


def test_validation_error_body_lists_fields(cast):
    resp = token_client(cast.operator).post(f"{API}/conversations/", {"body": ""}, format="json")
    err = _error(resp)
    assert resp.status_code == 400 and err["code"] == "invalid" and {"channel", "body"} <= set(err["fields"])


def test_idempotency_key_replays_same_response(cast):
    api_channel = Channel.objects.create(name="API", kind=Channel.Kind.API, default_department=cast.default)
    op = token_client(cast.operator)
    body = {"channel": api_channel.pk, "body": "hola", "contact": {"name": "Idem"}}
    first = op.post(f"{API}/conversations/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    second = op.post(f"{API}/conversations/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and second["Idempotent-Replayed"] == "true"
    assert Conversation.objects.filter(contact__name="Idem").count() == 1
    other = op.post(f"{API}/conversations/", {**body, "body": "otro"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert other.status_code == 422 and _error(other)["code"] == "idempotency_key_reused"
    assert IdempotencyRecord.objects.filter(key="k-1").count() == 1


def test_departments_users_memberships(cast):
    a, op = token_client(cast.collab_a), token_client(cast.operator)
    assert [d["id"] for d in a.get(f"{API}/departments/").json()["results"]] == [cast.dept_a.pk]
    assert a.get(f"{API}/departments/{cast.dept_b.pk}/").status_code == 404
    assert a.get(f"{API}/users/").status_code == 403
    assert a.get(f"{API}/memberships/").status_code == 403
    assert op.get(f"{API}/users/").json()["count"] >= 5
    resp = op.post(f"{API}/memberships/", {"user": cast.outsider.pk, "department": cast.dept_b.pk,
                                           "can_archive": False}, format="json")
    assert resp.status_code == 201, resp.json()
    assert cast.outsider.has_perm("departments.handle_department", cast.dept_b)
    mid = resp.json()["id"]
    assert op.patch(f"{API}/memberships/{mid}/", {"can_handle": False}, format="json").status_code == 200
    assert not Membership.objects.get(pk=mid).can_handle
    assert op.delete(f"{API}/memberships/{mid}/").status_code == 204
    assert not Membership.objects.filter(pk=mid).exists()


def test_integration_posts_as_itself_and_generic_api_channel(cast):
    service_user = make_user("crm-bot", "operator")
    integration = Integration.objects.create(name="CRM", user=service_user)
    client = token_client(service_user, integration=integration)
    conv = conversation_in(cast, Status.IN_PROGRESS)
    resp = client.post(f"{API}/conversations/{conv.pk}/messages/", {"body": "Ticket #9 creado", "as_integration": True},
                       format="json")
    assert resp.status_code == 201 and resp.json()["author_kind"] == "system"
    assert Message.objects.get(pk=resp.json()["id"]).meta["integration"] == integration.pk
    # A human token cannot pretend to be an integration.
    resp = token_client(cast.operator).post(f"{API}/conversations/{conv.pk}/messages/",
                                            {"body": "x", "as_integration": True}, format="json")
    assert resp.status_code == 403
    api_channel = Channel.objects.create(name="Forms", kind=Channel.Kind.API, default_department=cast.default)
    payload = {"identifier": "cust-77", "body": "Formulario: no tengo internet", "external_id": "form-1"}
    first = client.post(f"{API}/channels/{api_channel.pk}/inbound/", payload, format="json")
    again = client.post(f"{API}/channels/{api_channel.pk}/inbound/", payload, format="json")
    assert first.status_code == 201 and again.status_code == 200 and again.json()["created"] is False
    assert Message.objects.filter(channel=api_channel, external_id="form-1").count() == 1
    assert token_client(cast.collab_a).post(f"{API}/channels/{api_channel.pk}/inbound/", payload,
                                            format="json").status_code == 403


def test_tokens_endpoint_issue_and_revoke(cast):
    client = APIClient()
    client.force_login(cast.collab_a)  # session auth (the browser)
    resp = client.post(f"{API}/tokens/", {"name": "cli", "scope": "read"}, format="json")
    assert resp.status_code == 201 and resp.json()["key"].startswith("ac_")
    key = resp.json()["key"]
    assert "key" not in client.get(f"{API}/tokens/").json()["results"][0]
    assert client.delete(f"{API}/tokens/{resp.json()['id']}/").status_code == 204
    bearer = APIClient()
    bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert bearer.get(f"{API}/conversations/").status_code == 401


def test_session_auth_enforces_csrf(cast):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(cast.operator)
    assert client.get(f"{API}/conversations/").status_code == 200
    assert client.post(f"{API}/tokens/", {"name": "x"}, format="json").status_code == 403


def test_throttling_returns_429_with_error_body(cast, settings):
    from apps.integrations.api.base import ApiThrottle

    old = ApiThrottle.rate
    ApiThrottle.rate = "3/min"
    try:
        from django.core.cache import cache

        cache.clear()
        client = token_client(cast.operator)
        codes = [client.get(f"{API}/departments/").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[-1] == 429
        assert _error(client.get(f"{API}/departments/"))["code"] == "throttled"
    finally:
        ApiThrottle.rate = old
        cache.clear()


def test_schema_and_local_docs(cast, settings):
    # No collectstatic in tests: plain storage instead of the production manifest.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    client = APIClient()
    client.force_login(cast.operator)
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    from drf_spectacular.validation import validate_schema

    validate_schema(schema.json())  # against the OpenAPI 3.0 JSON schema shipped with drf-spectacular
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/" in html
    assert client.get("/api/redoc/").status_code == 200
