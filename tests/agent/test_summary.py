"""The handoff summary (issue 15): topic, facts collected, what the customer already tried and their
question, in one or two sentences: not the customer's messages joined with " / "."""
from __future__ import annotations

import pytest

from apps.agent.summary import already_tried, handoff_summary
from apps.conversations import services
from apps.conversations.models import Message

pytestmark = pytest.mark.django_db


def test_already_tried_in_spanish_and_english():
    assert already_tried(["Hola", "ya reinicié el router dos veces y sigue igual"]) == [
        "ya reinicié el router dos veces y sigue igual"]
    assert already_tried(["I already restarted the modem, no luck"]) == ["I already restarted the modem"]
    assert already_tried(["I've tried unplugging it"]) == ["I've tried unplugging it"]
    assert already_tried(["¿Cuánto cuesta el plan?"]) == []


def test_summary_states_facts_tried_and_question_not_a_join(cast, settings):
    settings.LANGUAGE_CODE = "en"
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="es")
    for text in ("Hola", "No tengo internet desde ayer", "Ya reinicié el router y nada",
                 "¿Pueden mandar un técnico mañana?", "gracias"):
        Message.objects.create(conversation=conv, author_kind="customer", body=text, channel=cast.channel)
    Message.objects.create(conversation=conv, author_kind="customer", body="📎 foto.jpg", channel=cast.channel,
                           meta={"attachments_only": True})
    summary = handoff_summary(conv, topic_name="Connection problems", collected={"customer_number": "FS-1001"})
    assert summary == ("Connection problems: customer number FS-1001. Already tried: Ya reinicié el router y nada. "
                       "Asks: “¿Pueden mandar un técnico mañana?”")
    assert " / " not in summary and "foto.jpg" not in summary
    settings.LANGUAGE_CODE = "es"
    assert handoff_summary(conv).startswith("Consulta del cliente. Ya probó: Ya reinicié el router y nada. Pregunta:")
