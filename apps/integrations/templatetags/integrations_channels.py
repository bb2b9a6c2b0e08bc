"""Template helpers for the channel rules the inbox shows (the rules live in apps.integrations)."""
from __future__ import annotations

from django import template

from ..windows import reply_window_closed as _reply_window_closed

register = template.Library()


@register.simple_tag
def reply_window_closed(conversation) -> str:
    """Why a reply cannot be delivered now ('' while the channel's messaging window is open)."""
    if conversation is None or not conversation.is_open:
        return ""
    return _reply_window_closed(conversation)
