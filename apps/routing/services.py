"""Routing: what happens when a conversation reaches a department.

Default mode is "manual": the chat waits in the department queue and members pick it up.
"""
from __future__ import annotations

from apps.conversations.models import Conversation, Status
from apps.conversations import services as conv_services


def routing_conversation_arrived(*, conversation_id: int) -> None:
    conv = Conversation.objects.filter(pk=conversation_id).only("status").first()
    if conv is None:
        return
    if conv.status == Status.TRANSFER:
        conv_services.conversation_enqueue(conversation=conversation_id, reason="routed")
