"""Login throttling (django-axes): 10 wrong passwords lock the account and the address for the
configured time, with a clear translated message; an Operator unlocks in the admin; wrong API tokens
count against the address the same way."""
from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.test import Client

from tests.factories import PASSWORD
from tests.integrations.conftest import token_client

pytestmark = pytest.mark.django_db
LIMIT = 10


def post_login(username, password, ip="203.0.113.5", lang="en"):
    client = Client(REMOTE_ADDR=ip, HTTP_ACCEPT_LANGUAGE=lang)
    return client, client.post("/login/", {"username": username, "password": password})


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_ten_wrong_passwords_lock_the_account_even_for_the_right_password(cast, settings):
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    for attempt in range(1, LIMIT):
        _client, response = post_login("collab_a", "wrong")
        assert response.status_code == 200, attempt  # the form again: "didn't match"
        assert b"didn&#x27;t match" in response.content or b"didn't match" in response.content
    _client, tenth = post_login("collab_a", "wrong")
    assert tenth.status_code == 429
    assert b"Too many failed logins" in tenth.content and b"15 minutes" in tenth.content
    # Now the right password is refused too, from this address and from any other one.
    for ip in ("203.0.113.5", "198.51.100.7"):
        client, response = post_login("collab_a", PASSWORD, ip=ip)
        assert response.status_code == 429 and not logged_in(client), ip
    # Another account from another address is unaffected.
    client, response = post_login("collab_b", PASSWORD, ip="198.51.100.7")
    assert response.status_code == 302 and logged_in(client)


def test_the_lockout_message_is_translated(cast):
    for _ in range(LIMIT):
        _client, response = post_login("collab_a", "wrong", lang="es")
    assert response.status_code == 429
    assert "Demasiados intentos fallidos" in response.content.decode()


def test_one_address_trying_many_accounts_is_locked_for_all_of_them(cast):
    users = ["collab_a", "collab_b", "collab_ab", "outsider", "nobody"]
    for i in range(LIMIT):
        post_login(users[i % len(users)], "wrong", ip="192.0.2.9")
    client, response = post_login("operator", PASSWORD, ip="192.0.2.9")
    assert response.status_code == 429 and not logged_in(client)
    client, response = post_login("operator", PASSWORD, ip="192.0.2.10")
    assert response.status_code == 302 and logged_in(client)


def test_an_operator_unlocks_the_account_in_the_admin(cast):
    for _ in range(LIMIT):
        post_login("collab_a", "wrong")
    assert post_login("collab_a", PASSWORD, ip="198.51.100.7")[1].status_code == 429
    admin = Client()
    admin.force_login(cast.operator)
    response = admin.post("/admin/accounts/user/", {"action": "unlock_login", "_selected_action": [cast.collab_a.pk]})
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="collab_a").exists()
    client, response = post_login("collab_a", PASSWORD, ip="198.51.100.7")
    assert response.status_code == 302 and logged_in(client)
    # The Operator also sees (and may delete, i.e. unlock) the attempts themselves.
    assert admin.get("/admin/axes/accessattempt/").status_code == 200


def test_a_success_before_the_limit_clears_the_count(cast):
    for _ in range(LIMIT - 1):
        post_login("collab_a", "wrong", ip="198.51.100.20")
    assert post_login("collab_a", PASSWORD, ip="198.51.100.20")[1].status_code == 302
    for _ in range(LIMIT - 1):
        post_login("collab_a", "wrong", ip="198.51.100.21")
    client, response = post_login("collab_a", PASSWORD, ip="198.51.100.21")
    assert response.status_code == 302 and logged_in(client)


def test_the_admin_login_is_throttled_too(cast):
    client = Client(REMOTE_ADDR="203.0.113.77")
    for _ in range(LIMIT):
        response = client.post("/admin/login/", {"username": "operator", "password": "wrong", "next": "/admin/"})
    assert response.status_code == 429
    response = client.post("/admin/login/", {"username": "operator", "password": PASSWORD, "next": "/admin/"})
    assert response.status_code == 429 and not logged_in(client)


def test_test_client_logins_are_not_web_logins(cast):
    """authenticate() without a request (test client, manage.py scripts) is not counted or refused."""
    client = Client()
    assert not client.login(username="collab_a", password="wrong")
    assert AccessAttempt.objects.count() == 0
    assert client.login(username="collab_a", password=PASSWORD)


def test_wrong_api_tokens_lock_the_address(cast):
    good = token_client(cast.operator)
    for _ in range(LIMIT - 1):
        response = Client(REMOTE_ADDR="203.0.113.50").get(
            "/api/v1/departments/", HTTP_AUTHORIZATION="Bearer ac_wrong_token_guess")
        assert response.status_code == 401
    last = Client(REMOTE_ADDR="203.0.113.50").get("/api/v1/departments/",
                                                  HTTP_AUTHORIZATION="Bearer ac_wrong_token_guess")
    assert last.status_code == 429 and last.json()["error"]["code"] == "locked_out"
    # While locked, even a right token from that address is not looked at ...
    blocked = Client(REMOTE_ADDR="203.0.113.50").get(
        "/api/v1/departments/", HTTP_AUTHORIZATION=f"Bearer {good.raw_token}")
    assert blocked.status_code == 429
    # ... and other addresses are unaffected.
    ok = Client(REMOTE_ADDR="203.0.113.51").get("/api/v1/departments/", HTTP_AUTHORIZATION=f"Bearer {good.raw_token}")
    assert ok.status_code == 200
