"""The session engine and user backend that read through the compiled-query cache
(``apps.accounts.sessions``, ``apps.accounts.backends``): the same answers as Django's own
(an inactive user and an expired session are signed out) with the reads compiled once."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import BACKEND_SESSION_KEY, get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.accounts.backends import UserBackend
from apps.accounts.sessions import SessionStore
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def sign_in(client, user):
    """Through the login page: the real authenticate() and login(), no test shortcut."""
    resp = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert resp.status_code == 302, resp.content[:300]
    return client


def signed_in(client) -> bool:
    resp = client.get(reverse("inbox"))
    assert resp.status_code in (200, 302)
    return resp.status_code == 200


def test_sign_in_uses_the_engine_and_backend_and_stays_signed_in(client, cast):
    sign_in(client, cast.collab_a)
    key = client.cookies["sessionid"].value
    store = SessionStore(key)
    assert store[BACKEND_SESSION_KEY] == "apps.accounts.backends.UserBackend"
    assert store["_auth_user_id"] == str(cast.collab_a.pk)
    assert signed_in(client) and signed_in(client)
    assert SessionStore("x" * 32).load() == {}  # an unknown key: empty, as Django's store


def test_inactive_user_is_signed_out_on_the_next_request(client, cast):
    sign_in(client, cast.collab_a)
    assert signed_in(client)
    get_user_model().objects.filter(pk=cast.collab_a.pk).update(is_active=False)
    assert not signed_in(client)
    assert UserBackend().get_user(cast.collab_a.pk) is None


def test_expired_session_is_not_read(client, cast):
    sign_in(client, cast.collab_a)
    assert signed_in(client)
    key = client.cookies["sessionid"].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert not signed_in(client)
    store = SessionStore(key)
    assert store.load() == {} and store.session_key is None  # as Django's store: the key is dropped
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(hours=1))
    assert SessionStore(key).load()["_auth_user_id"] == str(cast.collab_a.pk)


def test_get_user_returns_the_whole_user_as_the_orm_does(cast):
    User = get_user_model()
    User.objects.filter(pk=cast.operator.pk).update(time_zone="America/Argentina/Buenos_Aires", last_login=timezone.now())
    backend = UserBackend()
    for user in (cast.operator, cast.collab_a):
        got, orm = backend.get_user(user.pk), User.objects.get(pk=user.pk)
        assert type(got) is User and not got._state.adding and got._state.db == "default"
        for field in User._meta.concrete_fields:
            assert getattr(got, field.attname) == getattr(orm, field.attname), field.name
    assert backend.get_user(10 ** 9) is None
    assert backend.get_user(str(cast.collab_a.pk)) == cast.collab_a  # not an int: ModelBackend's own read


def test_session_and_user_reads_are_one_query_each(client, cast):
    sign_in(client, cast.collab_a)
    signed_in(client)
    with CaptureQueriesContext(connection) as log:
        assert signed_in(client)
    sqls = [q["sql"] for q in log.captured_queries]
    assert sum('FROM "django_session"' in s for s in sqls) == 1
    assert sum('FROM "accounts_user"' in s and "WHERE" in s for s in sqls[:3]) == 1


def test_session_signed_in_through_django_model_backend_ends(client, cast):
    """Sessions written before the change name django's ModelBackend, no longer configured:
    Django does not accept them (people sign in once after the deploy; README says so)."""
    sign_in(client, cast.collab_a)
    key = client.cookies["sessionid"].value
    store = SessionStore(key)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store.save()
    assert not signed_in(client)


def test_session_and_user_reads_go_through_the_compiled_query_cache(client, cast, monkeypatch):
    from apps.core import sqlcache

    keys = []
    real = sqlcache.rows
    monkeypatch.setattr(sqlcache, "rows", lambda key, build, *args: keys.append(key) or real(key, build, *args))
    sign_in(client, cast.collab_a)
    keys.clear()
    assert signed_in(client)
    assert ("session", "sessions.Session") in keys and ("session_user", "accounts.User") in keys


@pytest.mark.skipif(connection.vendor != "postgresql", reason="server-side prepared statements: PostgreSQL only")
def test_session_and_user_reads_are_prepared_statements(client, cast):
    sign_in(client, cast.collab_a)
    for _ in range(3):
        assert signed_in(client)
    with connection.cursor() as cur:
        cur.execute("SELECT statement FROM pg_prepared_statements")
        statements = [s for (s,) in cur.fetchall()]
    assert any('FROM "django_session"' in s and "$1" in s for s in statements), statements
    assert any('FROM "accounts_user"' in s and "$1" in s for s in statements), statements
