"""The session engine (``SESSION_ENGINE``): Django's database sessions, read through ``sqlcache``.

Every signed-in request reads its session row. Through the ORM that is a queryset built and
compiled on each request; here the SQL is compiled once per process and, on PostgreSQL, becomes a
prepared statement on the connection (``apps.core.sqlcache``). Only the read changes: saving,
creating, deleting and clearing expired sessions are Django's own, on the same table, so sessions
written before this engine are read by it and the other way round.
"""
from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from apps.core import sqlcache


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self):
        """The session row, or None (and no key) when it is missing or expired, as Django's store
        answers; the expiry is compared with the same "now" Django would pass to the query."""
        key = self.session_key
        model = self.model
        found = sqlcache.rows(("session", model._meta.label), _session_query(model), key) if key else []
        if found:
            session_key, session_data, expire_date = found[0]
            if expire_date > timezone.now():
                return model(session_key=session_key, session_data=session_data, expire_date=expire_date)
        self._session_key = None
        return None


def _session_query(model):
    def build(key):
        return model.objects.filter(session_key=key).values_list("session_key", "session_data", "expire_date")
    return build
