"""The live server that the schemathesis run talks to reads chunked request bodies, as daphne does
in production, and its keep-alive connection stays usable after one (see
``live_server_reads_chunked_bodies`` in conftest.py)."""
from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from apps.conversations.models import Conversation

from .conftest import token_client


def _chunked_post_then_get(url: str, token: str, payload: dict) -> tuple[int, dict, int]:
    conn = http.client.HTTPConnection(urlsplit(url).netloc, timeout=10)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps(payload).encode()
    conn.request("POST", "/api/v1/conversations/", body=iter([body[:9], body[9:]]), headers=headers,
                 encode_chunked=True)
    first = conn.getresponse()
    first_body = json.loads(first.read())
    conn.request("GET", "/api/v1/conversations/", headers=headers)  # the same keep-alive connection
    second = conn.getresponse()
    second.read()
    conn.close()
    return first.status, first_body, second.status


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_read_and_the_next_request_on_the_connection_is_answered(
        live_server_reads_chunked_bodies, cast):
    token = token_client(cast.operator).raw_token
    payload = {"contact_id": cast.other_customer.id, "channel": cast.channel.id, "body": "Hola, sin internet"}
    status, body, next_status = _chunked_post_then_get(live_server_reads_chunked_bodies.url, token, payload)
    assert status == 201, body
    assert Conversation.objects.get(pk=body["id"]).contact_id == cast.other_customer.id  # the body was read
    assert next_status == 200


@pytest.mark.django_db(transaction=True)
def test_without_it_the_test_server_answers_the_last_chunk_as_a_request(live_server, cast):
    """Why the fixture exists: Django's test server leaves the chunks on the connection, answers their
    last line with a bare error page and closes it: the client reads that page as its next reply
    (``HTTPException``) or, when the close comes first, cannot send its next request (``ConnectionError``)."""
    token = token_client(cast.operator).raw_token
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        _chunked_post_then_get(live_server.url, token, {"contact_id": cast.other_customer.id,
                                                        "channel": cast.channel.id, "body": "Hola"})
