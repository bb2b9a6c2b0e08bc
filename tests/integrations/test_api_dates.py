"""Date filters accept any valid ISO 8601 offset and never reach the database out of its range."""
import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value,status", [
    ("0102-09-08T15:59:19-19:17", 200),  # schemathesis found this one: a -19:17 offset
    ("2026-11-25T10:00:00+14:00", 200),
    ("2026-11-25", 200),  # a date alone means its midnight
    ("not-a-date", 400),
])
def test_created_before_filter(cast, value, status):
    client = APIClient()
    client.force_authenticate(cast.collab_a)
    response = client.get("/api/v1/conversations/", {"created_before": value, "limit": -196})
    assert response.status_code == status, response.content
