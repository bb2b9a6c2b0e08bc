"""Live "something changed" signals (DESIGN.md invariant 4: signals, not data).

Services call ``signal_users_on_commit``; after the transaction commits, each user in the
audience gets a tiny event on their own group ``user.<id>`` and the page re-fetches through the
normal views, which re-apply visibility. A customer's widget listens on ``conversation.<id>``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Iterable
from contextlib import contextmanager

from asgiref.sync import async_to_sync
from django.db import transaction

from apps.core.memo import outermost_block

log = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def conversation_group(conversation_id: int) -> str:
    return f"conversation.{conversation_id}"


def _send(groups: list[str], event: dict) -> None:
    """Send one event to many groups in ONE hop to the event loop, concurrently."""
    _send_all([(groups, event)])


def _send_all(signals: list[tuple[list[str], dict]]) -> None:
    """Send several events, each to its groups, in ONE hop to the event loop, concurrently.

    One ``async_to_sync`` per group cost a thread/loop round trip each: with a 200-member
    department that serialised ~200 hops per message (bench/fanout.py measured seconds of lag).
    A batch of signals (``signals_deferred``, the sweep's batch) takes one hop for all of them.
    """
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    sends = [(group, {"type": "signal", **event}) for groups, event in signals for group in groups]
    if layer is None or not sends:
        return

    async def send_all() -> None:
        results = await asyncio.gather(*(layer.group_send(group, message) for group, message in sends),
                                       return_exceptions=True)
        for (group, _message), result in zip(sends, results):
            if isinstance(result, BaseException):  # one dead group must not hide the others
                log.error("realtime signal to %s failed: %r", group, result)

    try:
        async_to_sync(send_all)()
    except Exception:  # a dead layer must never break the write that already committed
        log.exception("realtime signal to %d groups failed", len(sends))


_deferred = threading.local()


@contextmanager
def signals_deferred():
    """Within this block, the signals of committed changes (``signal_users_on_commit``,
    ``signal_groups_on_commit``) are held and sent when it ends, each distinct signal once to the
    union of its groups: a loop of many small transactions (the escalation sweep's batch) that
    tells the same Operator "a notification" a hundred times sends it once. A signal says only that
    something changed (the screen re-fetches), so one push covers them all; it is at most the block
    later. A rolled-back change signals nothing (only commits reach the block). Nested use joins the
    outer block."""
    with outermost_block(_deferred, "pending", _send_held):
        yield


def _send_held(pending: dict) -> None:
    _send_all([(sorted(groups), event) for event, groups in pending.values()])


def _send_or_defer(groups: list[str], event: dict) -> None:
    pending = getattr(_deferred, "pending", None)
    if pending is None:
        _send(groups, event)
        return
    _event, held = pending.setdefault(json.dumps(event, sort_keys=True, default=str), (event, set()))
    held.update(groups)


def signal_users_on_commit(user_ids: Iterable[int], event: dict) -> None:
    groups = sorted({user_group(uid) for uid in user_ids})
    transaction.on_commit(lambda: _send_or_defer(groups, event))


def signal_groups_on_commit(groups: Iterable[str], event: dict) -> None:
    groups = sorted(set(groups))
    transaction.on_commit(lambda: _send_or_defer(groups, event))
