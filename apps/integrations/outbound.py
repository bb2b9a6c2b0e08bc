"""Outgoing delivery of messages per channel kind. Web chat and API need nothing pushed: their
clients fetch through the normal endpoints after a live signal."""
from __future__ import annotations

import logging

from apps.conversations.models import Message

log = logging.getLogger(__name__)


def deliver_message(*, message_id: int) -> None:
    msg = Message.objects.select_related("conversation__channel").filter(pk=message_id).first()
    if msg is None:
        return
    kind = msg.conversation.channel.kind
    if kind in ("webchat", "api"):
        return
    log.info("no outbound adapter yet for %s (message %s)", kind, message_id)
