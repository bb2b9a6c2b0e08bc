"""The user backend: Django's ``ModelBackend`` whose per-request user read goes through ``sqlcache``.

``get_user`` runs on every signed-in request (the session names the user's id). Through the ORM
that is a queryset built and compiled each time; here it is compiled once per process and, on
PostgreSQL, a prepared statement on the connection (``apps.core.sqlcache``). The answer is the
same: the user with every field, or None for a missing or inactive one (``user_can_authenticate``).
Password checks and permissions are ``ModelBackend``'s own.

The session keeps the path of the backend that signed the user in; a session signed in through
``django.contrib.auth.backends.ModelBackend`` (before this backend) is not accepted by Django once
that path is no longer in ``AUTHENTICATION_BACKENDS``: people sign in once after the change.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.db import DEFAULT_DB_ALIAS

from apps.core import sqlcache


class UserBackend(ModelBackend):
    def get_user(self, user_id):
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            return super().get_user(user_id)
        User = get_user_model()
        names = [f.attname for f in User._meta.concrete_fields]
        found = sqlcache.rows(("session_user", User._meta.label), _user_query(User, names), user_id)
        if not found:
            return None
        user = User.from_db(DEFAULT_DB_ALIAS, names, found[0])
        return user if self.user_can_authenticate(user) else None


def _user_query(User, names):
    def build(pk):
        return User._default_manager.filter(pk=pk).values_list(*names)
    return build
