"""Presence as the live workspace uses it: connection bookkeeping and status reads.

The workspace's staff socket calls ``presence_connected`` / ``presence_disconnected`` (the last
socket closing starts the offline grace period) and, while open, ``presence_heartbeat`` every
``ROUTING_HEARTBEAT_SECONDS`` (``presence_heartbeat_loop`` does it for an async consumer). A server
that dies never runs its disconnects; its sockets stop heartbeating and the sweep treats them as
closed after ``ROUTING_PRESENCE_STALE_SECONDS`` (twice the grace period). The monitor reads
``presence_get_many``; ``presence_set_away`` receives the tab's visibility.
Online/away/offline itself is set by the person (``services.presence_set``): a hidden browser
tab does not make anyone away, so it does not stop assignments.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from .models import AgentPresence, Presence
from .services import (heartbeat_interval, presence_connected, presence_disconnected,  # noqa: F401
                       presence_heartbeat, presence_tab_visibility)  # (the workspace calls these)

log = logging.getLogger(__name__)


async def presence_heartbeat_loop(user_id: int) -> None:
    """Run for as long as one staff socket is open (start it with ``asyncio.create_task`` on connect,
    cancel it on disconnect). If the server process dies, the loop dies with it: that is the point."""
    from channels.db import database_sync_to_async

    beat = database_sync_to_async(presence_heartbeat)
    while True:
        await asyncio.sleep(heartbeat_interval())
        try:
            await beat(user_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup must not close the socket; the next beat retries
            log.exception("presence heartbeat for %s failed", user_id)


def presence_set_away(user_id: int, away: bool) -> None:
    """The workspace socket reports that its tab was hidden (``away=True``) or shown again.

    The name is the workspace's; the meaning is routing's: a hidden tab does not make anyone away
    (see ``services.presence_tab_visibility``: a sign of life, and a shown tab restores an
    automatic away). Away is something the person chooses, or the sweep decides after the grace."""
    presence_tab_visibility(user_id, hidden=bool(away))


def presence_get_many(user_ids: Iterable[int]) -> dict[int, str]:
    ids = list(user_ids)
    found = dict(AgentPresence.objects.filter(pk__in=ids).values_list("pk", "status"))
    return {uid: found.get(uid, Presence.OFFLINE) for uid in ids}
