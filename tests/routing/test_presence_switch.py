"""The status switch in the top bar: every page shows it; setting it returns to the same page."""
import pytest
from django.test import Client

from apps.routing.models import AgentPresence
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_status_switch_on_every_page_and_back_to_it(cast):
    client = Client()
    client.login(username=cast.collab_a.username, password=PASSWORD)
    page = client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="presence-select"' in page and '<option value="offline" selected>' in page
    response = client.post("/routing/presence/", {"status": "online", "next": "/inbox/"})
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    assert AgentPresence.objects.get(pk=cast.collab_a.pk).status == "online"
    page = client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<option value="online" selected>' in page


def test_status_switch_refuses_foreign_redirects(cast):
    client = Client()
    client.login(username=cast.collab_a.username, password=PASSWORD)
    response = client.post("/routing/presence/", {"status": "away", "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/routing/presence/"
