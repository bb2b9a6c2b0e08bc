"""A market value asked as of now ("what's the rate today?", "¿A cuánto está hoy el dólar?") is no help
page's to give: the passage its words find (how the rate is applied, a hypothetical example) does not
answer it, so the turn is a low-confidence handoff with the value on the context card
(``compose.live_values``)."""
from __future__ import annotations

import pytest

from apps.agent.compose import live_values
from apps.conversations.models import Status

from .test_unknown_subjects import _assert_answered, _ask


@pytest.mark.parametrize("text,expected", [
    ("Got it. And what's the rate today? Is it still 30%?", ["the rate (today)"]),
    ("¿A cuánto está hoy el dólar para las compras con la tarjeta? Tengo que pagar una suscripción.",
     ["A cuánto está hoy el dólar"]),
    ("What is the TNA right now?", ["TNA (right now)"]),
    ("¿Cuál es la tasa de interés hoy?", ["la tasa (hoy)"]),
    ("How much is the dollar today?", ["How much is the dollar (today)"]),
    ("I paid late. What's the current interest rate on my debt?", ["current interest rate"]),
    # a value without "now", "now" without a market value, a price list: none
    ("How is the yield calculated?", []),
    ("What are your rates today?", []),
    ("I need to send 100 dollars today, what is the fee?", []),
    ("Si me afilio hoy, ¿cuándo puedo usar la asistencia al viajero?", []),
    ("How much do I owe right now?", []),
    # only what the message asks: "today" in a statement before the question is context
    ("I checked the exchange rate today. How do I pay in dollars?", []),
])
def test_a_market_value_asked_as_of_now(text, expected):
    assert live_values(text) == expected


@pytest.mark.parametrize("text,handed_off", [
    ("¿Cuál es la tasa de interés hoy si pago la factura después del 20?", True),
    ("What interest rate do you charge today on an overdue bill?", True),
    ("What happens if I pay my bill after the 20th?", False),
])
def test_a_rate_asked_for_today_gets_a_person(fibrasur, text, handed_off):
    """The billing page tells that a debt accrues interest after the 20th, not what the rate is today: handed off
    on low confidence (the fixture's threshold, 0.05, would answer any draft), the value on the context
    card; the question about what happens after the 20th is answered."""
    conv, decision = _ask(fibrasur, text)
    if handed_off:
        assert conv.status == Status.UNASSIGNED and conv.handoff["trigger"] == "low_confidence"
        assert decision["scores"]["draft_confidence"] > 0.05  # the draft the threshold would have given
        assert len(decision["unknown_subjects"]) == 1 and conv.handoff["not_in_pages"] == decision["unknown_subjects"]
    else:
        _assert_answered(conv, decision)
