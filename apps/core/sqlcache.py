"""Compiled SQL of hot read queries, kept per process: built by the ORM once, then re-executed.

Building and compiling a queryset (filters, subqueries, joins) cost the inbox list more than
running it (profile at 100,000 conversations: a fifth of a list request went to the ORM turning the
same querysets into the same SQL). ``rows(key, build, *args)`` compiles ``build(*args)`` the first
time a ``key`` is seen and afterwards runs the stored SQL with the same converters the ORM applies.

``args`` are the values that change from call to call (a page's ids, the user's id, a session
key): the query is compiled once with placeholder values in their place (ints; a text column's
lookup turns one into its text, which is recognised too), and each later call puts the real ones
in the same parameter slots. Everything else the queryset is built from MUST be in ``key`` (the
visibility inputs come from ``access.visibility_key``); values are always bound as parameters,
never pasted into the SQL text, so the cache changes no escaping.

On PostgreSQL a query run a second time on the same connection becomes a server-side prepared
statement (``_Prepared``): PostgreSQL then stops planning it on every request (planning cost the
inbox page's compiled queries 0.2-0.6 ms each, more than most of them take to run). The values
fixed by ``key`` are written into the statement as literals by psycopg's own quoting (the same
text its client-side cursors send today), so the plan is built for them (a partial index whose
condition names the statuses stays usable); only ``args`` are statement parameters. A connection
used for one request only (no pool, ``CONN_MAX_AGE=0``) never reaches the second run and pays
nothing; psycopg keeps at most ``prepared_max`` (100) statements per connection and drops the
least used. ``SQLCACHE_PREPARE=0`` turns it off (a transaction-mode pooler such as PgBouncer
before 1.21 cannot keep statements across transactions).
"""
from __future__ import annotations

import re
import threading
import weakref

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections

_CACHE: dict = {}
_MAX = 1024
_LOCK = threading.Lock()
# Placeholder values for ``args`` while compiling: ints no real id or page value takes.
_SENTINEL = -7_300_000_000_000


class _Compiled:
    __slots__ = ("sql", "params", "slots", "compiler", "converters", "empty", "prepared_sql", "runs")

    def __init__(self, qs, n_args: int):
        self.empty = False
        compiler = qs.query.get_compiler(using=qs.db)
        try:
            sql, params = compiler.as_sql()
        except EmptyResultSet:
            self.empty = True
            return
        params = list(params)
        sentinels = {_SENTINEL - i: i for i in range(n_args)}
        # A placeholder compared with a text column (a session key) reaches the SQL as its text.
        texts = {str(value): i for value, i in sentinels.items()}
        self.slots = [sentinels.get(p) if isinstance(p, int) and not isinstance(p, bool)
                      else texts.get(p) if isinstance(p, str) else None for p in params]
        found = {s for s in self.slots if s is not None}
        if found != set(range(n_args)) or any(str(s) in sql for s in sentinels):
            raise ValueError("a placeholder did not become a query parameter")  # never cached
        self.sql, self.params, self.compiler = sql, params, compiler
        self.converters = compiler.get_converters([s[0] for s in compiler.select[:compiler.col_count]])
        self.prepared_sql = None
        self.runs = weakref.WeakKeyDictionary()  # connections it ran on (prepared from the second run)

    def run(self, args) -> list[tuple]:
        if self.empty:
            return []
        prepare = _prepare_on(connection)
        if prepare and connection.connection is not None and connection.connection in self.runs:
            with _Prepared.cursor(connection) as cur:
                cur.execute(self._prepared_sql(), [args[s] for s in self.slots if s is not None])
                fetched = cur.fetchall()
        else:
            params = [p if s is None else args[s] for p, s in zip(self.params, self.slots)]
            with connection.cursor() as cur:
                cur.execute(self.sql, params)
                fetched = cur.fetchall()
            if prepare:
                # The connections it ran on, weakly held: a closed connection is forgotten with it.
                self.runs[connection.connection] = True
        if self.converters:
            fetched = [tuple(r) for r in self.compiler.apply_converters(fetched, self.converters)]
        return fetched

    def _prepared_sql(self) -> str:
        """The SQL with the values fixed by the key as literals, ``args`` left as ``%s``."""
        if self.prepared_sql is None:
            from psycopg import ClientCursor

            quote = ClientCursor(connection.connection)
            fixed = iter(zip(self.params, self.slots))

            def placeholder(m):
                if m.group(0) == "%%":
                    return "%%"
                value, slot = next(fixed)
                return "%s" if slot is not None else quote.mogrify("%s", [value]).replace("%", "%%")

            self.prepared_sql = _PLACEHOLDER.sub(placeholder, self.sql)
        return self.prepared_sql


_PLACEHOLDER = re.compile(r"%%|%s")


def _prepare_on(conn) -> bool:
    return conn.vendor == "postgresql" and getattr(settings, "SQLCACHE_PREPARE", True)


class _Prepared:
    """A server-side binding psycopg cursor whose every statement is prepared, wrapped by Django
    (so the query log, ``execute_wrapper`` and database error translation apply as to any query)."""

    _cls = None

    @classmethod
    def cursor(cls, conn):
        if cls._cls is None:
            import psycopg

            class PreparingCursor(psycopg.Cursor):
                def execute(self, query, params=None, *, prepare=None, binary=None):
                    return super().execute(query, params, prepare=True, binary=binary)

                def _send_query_prepared(self, name, pgq, *, binary=None):
                    self._query = pgq  # what Django's query log reads (psycopg leaves the last one)
                    return super()._send_query_prepared(name, pgq, binary=binary)

            cls._cls = PreparingCursor
        raw = conn.connection
        if raw.prepare_threshold is None:
            # Django turns psycopg's automatic preparing off (None); its client-side cursors never
            # prepare whatever this says, so only the explicit ``prepare=True`` above uses it.
            raw.prepare_threshold = 2 ** 31 - 1
        cur = cls._cls(raw)
        from django.db.backends.postgresql.base import TIMESTAMPTZ_OID
        from django.db.backends.postgresql.psycopg_any import register_tzloader
        from psycopg.pq import Format

        if conn.timezone != raw.adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT).timezone:
            register_tzloader(conn.timezone, cur)  # as Django's own cursors (``create_cursor``)
        return conn._prepare_cursor(cur)


def rows(key: tuple, build, *args) -> list[tuple]:
    """The rows of ``build(*args)`` (a ``values_list`` queryset, not flat) as tuples, in its column
    order; compiled once per ``key`` (and database connection), with ``args`` as parameters."""
    # The thread's own connection (``connection`` is a proxy shared by every thread).
    full_key = (id(connections[DEFAULT_DB_ALIAS]), connection.vendor, len(args), *key)
    compiled = _CACHE.get(full_key)
    if compiled is None:
        try:
            compiled = _Compiled(build(*[_SENTINEL - i for i in range(len(args))]), len(args))
        except ValueError:  # not cacheable as built: the ORM, every time
            return [tuple(r) for r in build(*args)]
        with _LOCK:
            if len(_CACHE) >= _MAX:
                _CACHE.clear()
            _CACHE[full_key] = compiled
    return compiled.run(args)


def clear() -> None:
    _CACHE.clear()
