"""Meta's messaging windows: whether a free-form reply can still reach the customer.

One rule for every entry point: ``conversations.services.message_send_human`` (inbox, API,
copilot) and the API's integration posts refuse up front with ``WindowClosed``; the channel
senders apply the same windows when they build the request. Other channels have no window.
"""
from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations.models import Channel
from apps.core.errors import WindowClosed


def reply_window_closed(conversation, *, author_kind: str = "human", now: datetime | None = None) -> str:
    """'' while a reply by ``author_kind`` can be delivered, otherwise why not (for the person replying).

    WhatsApp: 24 h after the customer's last message. Messenger and Instagram: 24 h, and up to
    7 days for a human agent's reply (sent with the HUMAN_AGENT tag)."""
    from .channels.meta import HUMAN_AGENT_WINDOW, RESPONSE_WINDOW
    from .channels.whatsapp import SERVICE_WINDOW

    kind = conversation.channel.kind
    if kind not in (Channel.Kind.WHATSAPP, Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM):
        return ""
    last = conversation.last_customer_message_at
    age = (now or timezone.now()) - last if last else None
    if kind == Channel.Kind.WHATSAPP:
        if age is not None and age < SERVICE_WINDOW:
            return ""
        return _("WhatsApp's 24-hour customer service window is closed: the customer has to write again "
                 "before a free-form reply can be delivered.")
    window = HUMAN_AGENT_WINDOW if author_kind == "human" else RESPONSE_WINDOW
    if age is not None and age < window:
        return ""
    return _("This conversation's messaging window is closed: the customer has to write again.")


def reply_window_check(conversation, *, author_kind: str = "human") -> None:
    """Raise ``WindowClosed`` (a DomainError: 409 in the API, an error message in the inbox)."""
    reason = reply_window_closed(conversation, author_kind=author_kind)
    if reason:
        raise WindowClosed(reason)
