"""Routing's reactions to what happens elsewhere (registered in ``RoutingConfig.ready``).

* Sign-in: going online is offered on the sign-in page (ticked as this browser last left it); the
  choice is applied and remembered per person (``AgentPresence.online_at_login``). A sign-in that
  did not offer it (the admin's page, a test client) changes nothing.
* Acting while offline: picking up a chat or replying to a customer means the person is working,
  so they go online (otherwise the rules for people who left would reclaim the chat they just took).
  Reacts to the core's domain events (``apps.core.events``; the core knows nothing of routing).
"""
from __future__ import annotations

import logging

from django.contrib.auth.signals import user_logged_in
from django.db import transaction

log = logging.getLogger(__name__)


def on_login(sender, request, user, **kwargs) -> None:
    from .models import Presence
    from .services import presence_for, presence_set, presence_set_login_preference

    if not user.is_active:
        return
    post = getattr(request, "POST", None) or {}
    if not post.get("presence_offered"):
        return  # a sign-in that did not offer it (the admin's page, a test client): presence unchanged
    presence = presence_for(user)
    wanted = bool(post.get("go_online"))
    presence_set_login_preference(user=user, online_at_login=wanted)
    if wanted and presence.status != Presence.ONLINE:
        presence_set(user=user, status=Presence.ONLINE, reason="login")


def _ensure_online(user_id: int) -> None:
    from .services import presence_ensure_online

    try:
        presence_ensure_online(user=user_id, reason="acted")
    except Exception:  # the reply or pick-up is committed; presence is best effort here
        log.exception("could not set %s online", user_id)


def on_outgoing(event) -> None:
    """``message.outgoing`` (after commit): a human wrote to a customer."""
    if event.actor_id:
        _ensure_online(event.actor_id)


def on_record(event, record) -> None:
    """``record.written`` (in the transaction): a human picked a chat up. Nothing is written here;
    the presence change is scheduled for after the commit, like an after-commit receiver."""
    from apps.conversations.models import ConversationEvent

    if (isinstance(record, ConversationEvent) and record.kind == ConversationEvent.Kind.PICKED_UP
            and record.actor_id):
        user_id = record.actor_id
        transaction.on_commit(lambda: _ensure_online(user_id))


def connect() -> None:
    from apps.core import events

    user_logged_in.connect(on_login, dispatch_uid="routing.on_login")
    events.message_outgoing.connect(on_outgoing)
    events.record_written.connect_in_transaction(on_record)
