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
def outermost_block(local: threading.local, attr: str,
                    on_exit: Callable[[dict], object] | None = None) -> Iterator[None]:
    """A dict held on ``local.<attr>`` for the thread's outermost block; a nested block joins it.
    When the outermost block ends the dict is detached and handed to ``on_exit`` (if given). The
    one shape behind ``scope()``, ``events.batched()`` and ``realtime.signals_deferred()``."""
    if getattr(local, attr, None) is not None:
        yield
        return
    setattr(local, attr, {})
    try:
        yield
    finally:
        held = getattr(local, attr)
        setattr(local, attr, None)
        if on_exit is not None:
            on_exit(held)


def scope():
    """Memoise ``memoised`` reads until the block ends. Nested use keeps the outer cache."""
    return outermost_block(_local, "cache")


def memoised(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, once per ``scope()`` for ``key`` (every time outside one)."""
    cache = getattr(_local, "cache", None)
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]
