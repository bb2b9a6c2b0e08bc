"""Pooled PostgreSQL connections (Django's ``OPTIONS["pool"]``, psycopg_pool) across forks and
Celery's worker start.

Two ways a pooled connection ended up used by two parties at once (psycopg "another command is
already in progress", or a query written to a socket that is no longer PostgreSQL's and waiting
forever):

1. **A fork inherits the pool.** Django keeps one pool per alias in a class attribute; a forked
   child (the test suite's live Daphne server, a Celery prefork child) gets a copy of it, idle
   connections included, whose sockets are the parent's. The child then checks them out and talks
   over the parent's sockets, and the copy's worker threads (which open new connections) do not
   exist in the child, so a pool that must grow waits out its timeout. After a fork the child now
   forgets every inherited pool and connection *without any I/O* (closing them would send
   PostgreSQL a Terminate message over the parent's sockets); the objects are parked in
   ``_INHERITED`` so that garbage collection never finalises them either. The child's first query
   builds a fresh pool of its own.

2. **Celery's "process init" in the same process.** Celery's Django fix-up answers
   ``worker_process_init`` by ``os.close()``-ing the file descriptor of every open connection
   (meant for a forked child that must not touch its parent's sockets) and then closing it. The
   solo pool sends that signal in the worker's own process (the suite's in-process worker, a
   ``--pool=solo`` worker) after its own receivers (the warm-ups) have queried; with a pool,
   "closing" a connection returns it to the pool, so the pool kept a connection whose descriptor
   was gone, and the next checkout wrote to whatever socket (a Redis client's) reused that number.
   The app's Django fix-up now leaves PostgreSQL descriptors alone (with the fork hook above, any
   such connection belongs to this process) and returns them to the pool whole.
"""
from __future__ import annotations

import os

_INHERITED: list = []  # pools and connections a fork copied from the parent: kept, never used or closed
_registered = False


def forget_inherited_connections() -> None:
    """In a freshly forked child: drop the parent's pools and open connections, without I/O."""
    try:
        from django.db import connections

        wrappers = connections.all(initialized_only=True)
    except Exception:  # noqa: BLE001 (settings not configured yet: nothing was opened)
        return
    for conn in wrappers:
        # PostgreSQL only: SQLite's test database may be an in-memory one the child must share.
        if conn.vendor == "postgresql" and conn.connection is not None:
            _INHERITED.append(conn.connection)
            conn.connection = None
            conn.closed_in_transaction = False
    try:
        from django.db.backends.postgresql.base import DatabaseWrapper
    except Exception:  # noqa: BLE001 (psycopg not installed: nothing pooled)
        return
    pools = DatabaseWrapper._connection_pools
    if pools:
        _INHERITED.extend(pools.values())
        pools.clear()


def _pool_aware_worker_fixup(app):
    from celery.fixups.django import DjangoWorkerFixup

    class PoolAwareWorkerFixup(DjangoWorkerFixup):
        """Celery's Django worker fix-up, for pooled PostgreSQL connections."""

        def _maybe_close_db_fd(self, c) -> None:
            # A PostgreSQL connection still open here was opened by this process: a fork's
            # inherited ones were let go at the fork (forget_inherited_connections). Closing its
            # descriptor would leave the pool a connection without a socket; the close() that
            # follows returns it to the pool whole.
            if c.vendor == "postgresql":
                return
            super()._maybe_close_db_fd(c)

        def _is_prefork(self) -> bool:
            # Celery closes the whole pool before and after every task in a prefork child, so
            # that a child never uses the parent's pool; the fork hook already did that once.
            return False

    return PoolAwareWorkerFixup(app)


def install(app) -> None:
    global _registered
    if not _registered:
        _registered = True
        os.register_at_fork(after_in_child=forget_inherited_connections)
    from celery.fixups.django import DjangoFixup

    for fixup in getattr(app, "_fixups", None) or []:
        if isinstance(fixup, DjangoFixup):
            fixup.worker_fixup = _pool_aware_worker_fixup(app)
