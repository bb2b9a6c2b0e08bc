"""Issue 16: "go online at sign-in" is a per-person preference, visible and editable on the
availability page, offered (ticked that way) on the sign-in page, and applied at sign-in."""
from __future__ import annotations

import re

import pytest
from django.urls import reverse

from apps.routing import services
from apps.routing.models import AgentPresence, Presence
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

BOX = re.compile(r'<input type="checkbox" name="(?:online_at_login|go_online)" value="1"[^>]*>')


def box(page: str) -> str:
    found = BOX.findall(page)
    assert len(found) == 1, found
    return found[0]


def availability(client) -> str:
    return client.get(reverse("routing-presence"), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def login_page(client) -> str:
    return client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()


def sign_in_as_offered(client, user):
    """Submit the sign-in form as the page offered it (the box left as it was shown)."""
    data = {"username": user.username, "password": PASSWORD, "presence_offered": "1"}
    if "checked" in box(login_page(client)):
        data["go_online"] = "1"
    assert client.post(reverse("login"), data).status_code == 302


def pref(user) -> bool:
    return AgentPresence.objects.get(pk=user.pk).online_at_login


def status(user) -> str:
    return AgentPresence.objects.get(pk=user.pk).status


def test_the_availability_page_shows_and_edits_the_preference_without_changing_presence(cast, client):
    user = cast.collab_a
    client.force_login(user)
    page = availability(client)
    assert "Go online at sign-in" in page and "checked" in box(page)  # default: on
    resp = client.post(reverse("routing-presence"), {"preference": "login"})  # unticked
    assert resp.status_code == 302 and pref(user) is False
    assert status(user) == Presence.OFFLINE  # only the preference changed
    assert "checked" not in box(availability(client))
    services.presence_set(user=user, status=Presence.ONLINE)
    client.post(reverse("routing-presence"), {"preference": "login", "online_at_login": "1"})
    assert pref(user) is True and status(user) == Presence.ONLINE
    assert "checked" in box(availability(client))
    # Setting the presence leaves the preference alone.
    client.post(reverse("routing-presence"), {"status": "away"})
    assert pref(user) is True and status(user) == Presence.AWAY


def test_a_preference_saved_on_the_availability_page_is_what_sign_in_offers_and_does(cast, client):
    user = cast.collab_a
    client.force_login(user)
    client.post(reverse("routing-presence"), {"preference": "login"})  # "do not set me online"
    client.post(reverse("logout"))
    assert "checked" not in box(login_page(client))
    sign_in_as_offered(client, user)
    assert status(user) == Presence.OFFLINE and pref(user) is False
    client.post(reverse("routing-presence"), {"preference": "login", "online_at_login": "1"})
    client.post(reverse("logout"))
    assert "checked" in box(login_page(client))
    sign_in_as_offered(client, user)
    assert status(user) == Presence.ONLINE and pref(user) is True


def test_the_choice_made_at_sign_in_shows_on_the_availability_page(cast, client):
    user = cast.collab_ab
    client.post(reverse("login"), {"username": user.username, "password": PASSWORD, "presence_offered": "1"})
    assert pref(user) is False and status(user) == Presence.OFFLINE
    assert "checked" not in box(availability(client))
    client.post(reverse("logout"))
    client.post(reverse("login"), {"username": user.username, "password": PASSWORD, "presence_offered": "1",
                                   "go_online": "1"})
    assert pref(user) is True and status(user) == Presence.ONLINE
    assert "checked" in box(availability(client))


def test_the_preference_page_speaks_spanish(cast, client):
    client.force_login(cast.collab_a)
    page = client.get(reverse("routing-presence"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Conectarme al iniciar sesión" in page
