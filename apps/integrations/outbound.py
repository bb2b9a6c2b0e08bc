"""Outgoing delivery of messages per channel kind (called on commit for every outgoing message).

Web chat and API need nothing pushed: their clients fetch through the normal endpoints after a
live signal. A refused or failed send marks the message ``failed`` with the reason in
``meta["delivery_error"]`` and leaves an internal note so the human sees why in the inbox.
"""
from __future__ import annotations

import logging

from django.utils.translation import gettext as _

from apps.conversations.models import Channel, Message

log = logging.getLogger(__name__)


def _fail(msg: Message, reason: str, *, note: bool = True) -> None:
    msg.delivery_status = "failed"
    msg.meta = {**msg.meta, "delivery_error": reason}
    msg.save(update_fields=["delivery_status", "meta"])
    if note and msg.author_kind == "human":
        from apps.conversations import services

        services.message_post_system(conversation=msg.conversation_id, internal=True,
                                     body=_("Not delivered: %(reason)s") % {"reason": reason},
                                     meta={"delivery_failure_of": msg.pk})


def deliver_message(*, message_id: int) -> None:
    msg = Message.objects.select_related("conversation__channel", "conversation__contact").filter(pk=message_id).first()
    if msg is None or msg.is_internal or msg.external_id or msg.delivery_status in ("sent", "delivered", "read"):
        return  # gone, private, or already sent (a duplicate task run)
    kind = msg.conversation.channel.kind
    if kind in (Channel.Kind.WEBCHAT, Channel.Kind.API):
        return
    from .channels import email as email_channel
    from .channels import meta as meta_channel
    from .channels import whatsapp
    account_key = {Channel.Kind.WHATSAPP: "phone_number_id", **meta_channel.ID_KEY}.get(kind)
    if account_key and not (msg.conversation.channel.config or {}).get(account_key):
        # A channel that was never connected (e.g. the demo's): say so, and never call out.
        _fail(msg, _("This channel is not connected to its provider yet (no %(key)s in its configuration).")
              % {"key": account_key})
        return
    try:
        if kind == Channel.Kind.WHATSAPP:
            provider_id, _resp = whatsapp.send(msg)
        elif kind in (Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM):
            provider_id, _resp = meta_channel.send(msg)
        elif kind == Channel.Kind.EMAIL:
            provider_id = email_channel.send(msg)
        else:
            log.info("no outbound adapter for %s (message %s)", kind, message_id)
            return
    except whatsapp.WindowClosed as exc:
        _fail(msg, str(exc))
        return
    except Exception as exc:  # network, provider error: visible to the human, logged for us
        log.warning("delivery of message %s over %s failed: %s", message_id, kind, exc)
        _fail(msg, _("The channel refused the message (%(error)s).") % {"error": str(exc)[:200]})
        return
    msg.external_id = provider_id
    msg.delivery_status = "sent"
    msg.save(update_fields=["external_id", "delivery_status"])
