"""Styled, translated error pages with a way back (issue 15)."""
from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("lang,text", [("es", "No encontramos esa página"), ("en", "We could not find that page")])
def test_404_is_styled_translated_and_leads_back(cast, settings, lang, text):
    settings.DEBUG = False
    client = Client()
    assert client.login(username=cast.collab_b.username, password=PASSWORD)
    resp = client.get("/conversations/999999/", HTTP_ACCEPT_LANGUAGE=lang)
    html = resp.content.decode()
    assert resp.status_code == 404 and text in html and 'href="/inbox/"' in html and "css/app.css" in html


def test_403_is_styled_and_translated(cast, settings):
    settings.DEBUG = False
    client = Client()
    assert client.login(username=cast.collab_a.username, password=PASSWORD)
    resp = client.get("/workspace/monitor/", HTTP_ACCEPT_LANGUAGE="es")
    assert resp.status_code == 403 and "No podés hacer eso" in resp.content.decode()


def test_500_page_renders_without_a_request_context():
    from django.template import loader

    html = loader.get_template("500.html").render({})
    assert "500" in html and 'href="/inbox/"' in html
