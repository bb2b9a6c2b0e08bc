"""NUL in every query parameter and every string field of every operation the API schema
publishes, for an Operator and a Collaborator of each department: always a 400, never a 5xx
(on PostgreSQL a NUL that reached a query was ``psycopg.DataError``), and nothing stored."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.conversations.models import Status
from tests.factories import conversation_in
from tests.integrations.conftest import token_client

from .conftest import stored_counts

pytestmark = pytest.mark.django_db


def operations(cast):
    browser = APIClient()
    browser.force_login(cast.operator)
    schema = browser.get("/api/schema/?format=json").json()
    return schema


def _path(template: str, obj_id: int) -> str:
    import re

    return re.sub(r"\{[^}]+\}", str(obj_id), template)


def test_nul_everywhere_in_the_api_is_a_400(cast):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    schema = operations(cast)
    clients = {name: token_client(getattr(cast, name)) for name in ("operator", "collab_a", "collab_b")}
    before = stored_counts()
    checked = 0
    for template, item in schema["paths"].items():
        url = _path(template, conv.pk)
        for method, op in item.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            params = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"] or ["q"]
            for name, client in clients.items():
                for param in params:
                    response = getattr(client, method)(f"{url}?{param}=a%00b")
                    assert response.status_code == 400, (name, method, template, param, response.status_code)
                    checked += 1
                if method in ("post", "patch", "put"):
                    response = getattr(client, method)(url, data='{"name": "a\\u0000b", "body": "\\u0000"}',
                                                       content_type="application/json")
                    assert response.status_code in (400, 403, 404, 405), (name, method, template, response.status_code)
                    assert response.status_code < 500
                    checked += 1
    assert checked > 60
    assert stored_counts() == before
