"""Deep JSON, huge bodies, NUL and other control characters, on every door that reaches the
database: provider webhooks, the REST API (bodies and query strings), HTML forms and searches.
Each case: the exact status, and nothing stored."""
from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.conversations.models import Channel, Message, Status
from apps.integrations.models import InboundWebhook
from apps.integrations.signing import hub_signature
from tests.factories import conversation_in
from tests.integrations.conftest import token_client

from .conftest import stored_counts

pytestmark = pytest.mark.django_db
SECRET = "sec_test_app_secret_0123456789ab"
DEEP = b"[" * 20_000 + b"]" * 20_000
DEEP_OBJECT = b'{"a":' * 100 + b"1" + b"}" * 100  # well-formed, but nested far beyond the bound


def wa_body(text: str) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"display_phone_number": "1", "phone_number_id": "5550001"},
            "contacts": [{"profile": {"name": "Nora"}, "wa_id": "5491100000000"}],
            "messages": [{"from": "5491100000000", "id": "wamid.SEC1", "timestamp": "1764000000",
                          "type": "text", "text": {"body": text}}]}}]}]}).encode()


@pytest.fixture
def providers(cast, monkeypatch):
    monkeypatch.setenv("SEC_APP_SECRET", SECRET)
    common = {"app_secret_env": "SEC_APP_SECRET", "verify_token_env": "SEC_VERIFY", "access_token_env": "SEC_TOKEN"}
    Channel.objects.create(name="WA", kind=Channel.Kind.WHATSAPP, default_department=cast.default,
                           config={"phone_number_id": "5550001", **common})
    Channel.objects.create(name="FB", kind=Channel.Kind.MESSENGER, default_department=cast.default,
                           config={"page_id": "111", **common})
    Channel.objects.create(name="IG", kind=Channel.Kind.INSTAGRAM, default_department=cast.default,
                           config={"ig_id": "222", **common})
    return cast


def signed_post(url: str, raw: bytes):
    return Client().post(url, data=raw, content_type="application/json",
                         HTTP_X_HUB_SIGNATURE_256=hub_signature(SECRET, raw))


@pytest.mark.parametrize("hook", ["whatsapp", "messenger", "instagram"])
@pytest.mark.parametrize("body,code", [(DEEP, "json_too_deep"), (DEEP_OBJECT, "json_too_deep"),
                                       (b'{"object": "page", "entry": [', "malformed_json"),
                                       (b"\xff\xfe{}", "malformed_json")])
def test_webhooks_refuse_deep_or_broken_json_with_400(providers, hook, body, code):
    before = stored_counts()
    response = signed_post(f"/webhooks/{hook}/", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert stored_counts() == before


@pytest.mark.parametrize("hook", ["whatsapp", "messenger", "instagram"])
def test_webhooks_refuse_huge_bodies_with_413(providers, hook):
    before = stored_counts()
    huge = b'{"object": "page", "pad": "' + b"x" * (600 * 1024) + b'"}'
    response = signed_post(f"/webhooks/{hook}/", huge)
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
    assert stored_counts() == before


def test_webhook_text_with_nul_is_stored_stripped(providers):
    """Signed provider data is stripped, not refused: the provider would re-send the same body
    forever, and the customer's message would be lost. Nothing with a NUL reaches the database."""
    response = signed_post("/webhooks/whatsapp/", wa_body("hola\u0000 que\u0007 tal"))
    assert response.status_code == 200
    row = InboundWebhook.objects.get()
    assert "\x00" not in json.dumps(row.payload) and "\\u0000" not in json.dumps(row.payload)
    message = Message.objects.filter(external_id="wamid.SEC1").first()
    if message is not None:  # processed in-process: the text arrives without the control characters
        assert message.body == "hola que tal"


# --- the REST API -----------------------------------------------------------------------------

@pytest.fixture
def api_channel(cast):
    return Channel.objects.create(name="API", kind=Channel.Kind.API, default_department=cast.default)


@pytest.mark.parametrize("body,code", [
    (DEEP, "parse_error"), (DEEP_OBJECT, "parse_error"),
    (json.dumps({"identifier": "c-1", "body": "hola\u0000"}).encode(), "parse_error"),
    (json.dumps({"identifier": "c\u00001", "body": "hola"}).encode(), "parse_error"),
    (json.dumps({"identifier": "c-1", "body": "hola", "contact": {"name": "N\u001bora"}}).encode(), "parse_error"),
    (json.dumps({"identifier": "c-1", "body": "x" * 5000}).encode(), "invalid"),
    (json.dumps({"identifier": ["c-1"], "body": {"a": 1}}).encode(), "invalid"),
])
def test_api_inbound_refuses_hostile_bodies_with_400(cast, api_channel, body, code):
    client = token_client(cast.operator)
    before = stored_counts()
    response = client.post(f"/api/v1/channels/{api_channel.pk}/inbound/", data=body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"]["code"] == code
    assert stored_counts() == before


def test_api_refuses_a_body_over_the_json_limit(cast, api_channel, settings):
    settings.JSON_MAX_BYTES = 10_000
    client = token_client(cast.operator)
    before = stored_counts()
    body = json.dumps({"identifier": "c-1", "body": "hola", "pad": "x" * 20_000}).encode()
    response = client.post(f"/api/v1/channels/{api_channel.pk}/inbound/", data=body, content_type="application/json")
    assert response.status_code == 400 and "10000" in response.json()["error"]["message"]
    assert stored_counts() == before


def test_api_write_with_nul_in_a_patch_stores_nothing(cast):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    client = token_client(cast.collab_a)
    before = stored_counts()
    response = client.post(f"/api/v1/conversations/{conv.pk}/messages/",
                           data=json.dumps({"body": "ok\u0000"}), content_type="application/json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "parse_error"
    assert stored_counts() == before


@pytest.mark.parametrize("url", ["/api/v1/conversations/?q=a%00b", "/api/v1/contacts/?q=%00",
                                 "/api/v1/conversations/?status=%00", "/api/v1/conversations/?q=%1b[2J"])
def test_api_query_strings_with_control_characters_are_400(cast, url):
    response = token_client(cast.operator).get(url)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "control_characters"


@pytest.mark.parametrize("url", ["/conversations/?q=a%00b", "/conversations/?status=%00",
                                 "/admin/conversations/contact/?q=%00"])
def test_html_searches_with_nul_are_400(cast, url):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(cast.operator)
    response = client.get(url)
    assert response.status_code == 400
    assert b"control characters" in response.content


def test_html_form_with_nul_is_400_and_stores_nothing(cast):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    client = Client()
    client.force_login(cast.collab_a)
    before = stored_counts()
    response = client.post(f"/conversations/{conv.pk}/reply/", {"body": "hola\x00"})
    assert response.status_code == 400
    assert stored_counts() == before
    # Tabs and line breaks are text, not control characters to refuse.
    assert client.post(f"/conversations/{conv.pk}/reply/", {"body": "a\tb\r\nc"}).status_code == 302


def test_huge_search_string_is_answered_not_crashed(cast):
    client = token_client(cast.operator)
    assert client.get("/api/v1/conversations/?q=" + "x" * 6000).status_code == 200
    html = Client()
    html.force_login(cast.operator)
    assert html.get("/conversations/?q=" + "x" * 6000).status_code == 200
