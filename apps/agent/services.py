"""The AI Agent's turn. Until a provider answers, the customer is handed to a human, never dropped."""
from __future__ import annotations

from apps.conversations import services as conv_services
from apps.conversations.models import Conversation, Status
from apps.departments.services import department_default


def agent_handle_message(*, conversation_id: int, message_id: int) -> None:
    conv = Conversation.objects.filter(pk=conversation_id).first()
    if conv is None or conv.status != Status.BOT:
        return
    department = conv.department or department_default()
    if department is None:
        return
    conv_services.conversation_escalate(conversation=conv, department=department, trigger="agent_error",
                                        reason="no agent provider available",
                                        summary=conv.messages.filter(author_kind="customer").last().body[:500])
