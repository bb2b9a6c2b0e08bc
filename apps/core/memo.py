"""Settings read once per unit of work (a sweep, one routing step), not once per row.

A loop over many chats (the escalation sweep) reads the same configuration for every chat: a
department's routing settings, its Operators, the active outgoing-webhook endpoints. Inside
``scope()`` each such read is made once and reused; outside one, ``memoised`` simply computes (so a
web request always sees the current configuration). A change made meanwhile (an Operator editing a
department, an admin adding a webhook endpoint) applies from the next scope. Keys are tuples
starting with the owning app's name, so apps that know nothing of each other share one scope.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
_local = threading.local()


@contextmanager
def scope() -> Iterator[None]:
    """Memoise ``memoised`` reads until the block ends. Nested use keeps the outer cache."""
    if getattr(_local, "cache", None) is not None:
        yield
        return
    _local.cache = {}
    try:
        yield
    finally:
        _local.cache = None


def memoised(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, once per ``scope()`` for ``key`` (every time outside one)."""
    cache = getattr(_local, "cache", None)
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]
