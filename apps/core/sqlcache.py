"""Compiled SQL of hot read queries, kept per process: built by the ORM once, then re-executed.

Building and compiling a queryset (filters, subqueries, joins) cost the inbox list more than
running it (profile at 100,000 conversations: a fifth of a list request went to the ORM turning the
same querysets into the same SQL). ``rows(key, build, *args)`` compiles ``build(*args)`` the first
time a ``key`` is seen and afterwards runs the stored SQL with the same converters the ORM applies.

``args`` are the values that change from call to call (a page's ids, the user's id): the query is
compiled once with placeholder values in their place, and each later call puts the real ones in
the same parameter slots. Everything else the queryset is built from MUST be in ``key`` (the
visibility inputs come from ``access.visibility_key``); values are always bound as parameters,
never pasted into the SQL text, so the cache changes no escaping.
"""
from __future__ import annotations

import threading

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections

_CACHE: dict = {}
_MAX = 1024
_LOCK = threading.Lock()
# Placeholder values for ``args`` while compiling: ints no real id or page value takes.
_SENTINEL = -7_300_000_000_000


class _Compiled:
    __slots__ = ("sql", "params", "slots", "compiler", "converters", "empty")

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
        self.slots = [sentinels.get(p) if isinstance(p, int) and not isinstance(p, bool) else None for p in params]
        found = {s for s in self.slots if s is not None}
        if found != set(range(n_args)) or any(str(s) in sql for s in sentinels):
            raise ValueError("a placeholder did not become a query parameter")  # never cached
        self.sql, self.params, self.compiler = sql, params, compiler
        self.converters = compiler.get_converters([s[0] for s in compiler.select[:compiler.col_count]])

    def run(self, args) -> list[tuple]:
        if self.empty:
            return []
        params = [p if s is None else args[s] for p, s in zip(self.params, self.slots)]
        with connection.cursor() as cur:
            cur.execute(self.sql, params)
            fetched = cur.fetchall()
        if self.converters:
            fetched = [tuple(r) for r in self.compiler.apply_converters(fetched, self.converters)]
        return fetched


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
