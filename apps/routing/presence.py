"""Presence as the live workspace uses it: connection bookkeeping and status reads.

The workspace's staff socket calls ``presence_connected`` / ``presence_disconnected`` (the last
socket closing starts the offline grace period); the monitor reads ``presence_get_many``.
Online/away/offline itself is set by the person (``services.presence_set``): a hidden browser
tab does not make anyone away, so it does not stop assignments.
"""
from __future__ import annotations

from collections.abc import Iterable

from .models import AgentPresence, Presence
from .services import presence_connected, presence_disconnected  # noqa: F401  (the workspace calls these)


def presence_get_many(user_ids: Iterable[int]) -> dict[int, str]:
    ids = list(user_ids)
    found = dict(AgentPresence.objects.filter(pk__in=ids).values_list("pk", "status"))
    return {uid: found.get(uid, Presence.OFFLINE) for uid in ids}
