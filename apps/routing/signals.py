"""Routing's reactions to what happens elsewhere (registered in ``RoutingConfig.ready``).

* Sign-in: going online is offered on the sign-in page (ticked as this browser last left it); the
  choice is applied and remembered per person (``AgentPresence.online_at_login``, shown and
  editable on "My availability"). A sign-in that did not offer it (the admin's page) changes nothing.
* Acting while offline: picking up a chat or replying to a customer means the person is working,
  so they go online (otherwise the rules for people who left would reclaim the chat they just took).
  Reacts to the core's rows after commit (the core knows nothing of routing).
"""
from __future__ import annotations

import logging

from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.db.models.signals import post_save

log = logging.getLogger(__name__)


def on_login(sender, request, user, **kwargs) -> None:
    from .models import AgentPresence, Presence
    from .services import presence_for, presence_set

    if not user.is_active:
        return
    post = getattr(request, "POST", None) or {}
    if not post.get("presence_offered"):
        return  # a sign-in that did not offer it (the admin's page, a test client): presence unchanged
    presence = presence_for(user)
    wanted = bool(post.get("go_online"))
    if wanted != presence.online_at_login:
        AgentPresence.objects.filter(pk=user.pk).update(online_at_login=wanted)
    if wanted and presence.status != Presence.ONLINE:
        presence_set(user=user, status=Presence.ONLINE, reason="login")


def on_human_act(sender, instance, created, **kwargs) -> None:
    """A human picked up a chat or wrote to a customer: make sure they are online (after commit)."""
    from apps.conversations.models import AuthorKind, ConversationEvent, Message

    if not created:
        return
    if sender is Message:
        if instance.author_kind != AuthorKind.HUMAN or instance.is_internal or not instance.author_id:
            return
        user_id = instance.author_id
    elif instance.kind == ConversationEvent.Kind.PICKED_UP and instance.actor_id:
        user_id = instance.actor_id
    else:
        return

    def go_online():
        from .services import presence_ensure_online

        try:
            presence_ensure_online(user=user_id, reason="acted")
        except Exception:  # the reply is committed; presence is best effort here
            log.exception("could not set %s online", user_id)

    transaction.on_commit(go_online)


def connect() -> None:
    from apps.conversations.models import ConversationEvent, Message

    user_logged_in.connect(on_login, dispatch_uid="routing.on_login")
    post_save.connect(on_human_act, sender=Message, dispatch_uid="routing.on_human_message")
    post_save.connect(on_human_act, sender=ConversationEvent, dispatch_uid="routing.on_pickup")
