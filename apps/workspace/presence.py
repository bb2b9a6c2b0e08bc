"""Staff presence as the workspace sees it.

Presence (online / away / offline) is owned by the routing app (``apps.routing.presence``), which
uses it to assign chats. When that module is installed the staff consumer reports connections to
it and the monitor reads from it. Without it (a branch built before routing lands, or a
deployment that swaps routing out), a small cache-backed fallback keeps the monitor truthful:
a connection counter per user plus an "away" flag the browser sets when its tab is hidden.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.cache import cache

log = logging.getLogger(__name__)

ONLINE, AWAY, OFFLINE = "online", "away", "offline"
_TTL = 60 * 60 * 12  # a crashed server must not leave people "online" forever

try:  # owned by the routing helper; optional so this app works without it
    from apps.routing import presence as routing_presence  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on which branches are merged
    routing_presence = None


def _key(user_id: int) -> str:
    return f"workspace.presence.{user_id}"


def _away_key(user_id: int) -> str:
    return f"workspace.presence.away.{user_id}"


def _routing_call(name: str, *args) -> bool:
    """Call the routing app's presence function if it exists; a failure there must not drop the socket."""
    fn = getattr(routing_presence, name, None) if routing_presence is not None else None
    if fn is None:
        return False
    try:
        fn(*args)
    except Exception:
        log.exception("routing presence %s failed", name)
    return True


def connected(user_id: int) -> None:
    if _routing_call("presence_connected", user_id):
        return
    cache.add(_key(user_id), 0, _TTL)
    try:
        cache.incr(_key(user_id))
    except ValueError:  # evicted between add and incr
        cache.set(_key(user_id), 1, _TTL)
    cache.delete(_away_key(user_id))


def disconnected(user_id: int) -> None:
    if _routing_call("presence_disconnected", user_id):
        return
    try:
        if cache.decr(_key(user_id)) <= 0:
            cache.delete(_key(user_id))
    except ValueError:
        pass


def set_away(user_id: int, away: bool) -> None:
    """The browser says the tab is hidden (away) or visible again."""
    if routing_presence is not None:
        _routing_call("presence_set_away", user_id, away)
        return
    if away:
        cache.set(_away_key(user_id), 1, _TTL)
    else:
        cache.delete(_away_key(user_id))


def statuses(user_ids: Iterable[int]) -> dict[int, str]:
    """``{user_id: "online" | "away" | "offline"}`` without touching the database."""
    ids = list(user_ids)
    if routing_presence is not None:
        many = getattr(routing_presence, "presence_get_many", None) or getattr(routing_presence, "presence_statuses", None)
        if many is not None:
            got = many(ids) or {}
            return {uid: str(got.get(uid, OFFLINE)) for uid in ids}
        one = getattr(routing_presence, "presence_get", None) or getattr(routing_presence, "presence_status", None)
        if one is not None:
            return {uid: str(one(uid) or OFFLINE) for uid in ids}
    counts = cache.get_many([_key(uid) for uid in ids])
    away = cache.get_many([_away_key(uid) for uid in ids])
    out = {}
    for uid in ids:
        if not counts.get(_key(uid)):
            out[uid] = OFFLINE
        elif away.get(_away_key(uid)):
            out[uid] = AWAY
        else:
            out[uid] = ONLINE
    return out
