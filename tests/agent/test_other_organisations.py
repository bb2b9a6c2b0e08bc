"""The customer's business with another organisation the help pages never name ("My Banco Santander credit
card has an interest charge", "Mi pedido de Mercado Libre no llegó", "renovar el DNI en el RENAPER") is
out of scope when the pages do not answer it: to the default department, not to the cards or delivery
people its other words point to (``compose.other_organisations``, ``services``)."""
from __future__ import annotations

import pytest

from apps.agent.compose import other_organisations
from apps.knowledge.lexical import LexicalIndex

from .helpers import say, shipped_threshold, start

pytestmark = pytest.mark.django_db

PAGES = ["Pay your bill with Mercado Pago, a credit or debit card, or at Rapipago. Your Personal or Claro line "
         "can be topped up in the app. We deliver anywhere in Argentina.",
         "Pagá la factura con Mercado Pago o con tarjeta. Para el DNI, subí una foto del frente. Tu pedido llega "
         "en 48 horas. Si el banco rechaza el pago, probá con otra tarjeta."]


@pytest.mark.parametrize("text, names", [
    ("My Banco Santander credit card has an interest charge I don't understand.", ["Banco Santander"]),
    ("Mi pedido de Mercado Libre no llegó, ¿me ayudás a reclamarle al vendedor?", ["Mercado Libre"]),
    ("I ordered a phone on Amazon Mexico and it's three days late.", ["Amazon Mexico"]),
    ("¿Cómo saco un turno para renovar el DNI en el RENAPER?", ["RENAPER"]),
])
def test_the_thing_the_customer_has_with_another_organisation_is_read(text, names):
    assert other_organisations(text, LexicalIndex(PAGES).idf) == names


@pytest.mark.parametrize("text", [
    "Can I pay my bill with my Mercado Pago account?",     # a payment method the pages name
    "I topped up my Personal line and the credit isn't there.",
    "Mi pedido de Córdoba no llegó todavía.",             # a place
    "¿Puedo agregar la tarjeta a Google Pay?",            # a thing asked about, not one the customer has elsewhere
    "Is the Samsung QN90 in stock at the Palermo store?",
    "My card was declined at the Shell station on Av. Libertador.",
    "I ordered a phone on Monday and it hasn't arrived.",          # a day
    "Compré en Black Friday y todavía no llegó.",                  # a sales event
    "Can I pay the fee with my Visa card?",                        # a card network
    "Me llegó la factura en el PDF equivocado.",                   # a three-letter acronym
])
def test_names_the_pages_write_places_and_other_mentions_are_not_another_organisations_thing(text):
    assert other_organisations(text, LexicalIndex(PAGES).idf) == []


def test_an_order_at_another_company_is_handed_off_out_of_scope_to_the_default_department(fibrasur):
    from apps.departments.models import Department

    shipped_threshold()
    conv = start(fibrasur, language="en")
    conv, replies = say(fibrasur, conv, "My Banco Santander credit card has an interest charge I don't "
                                        "understand. Can you explain how they calculate it?")
    assert conv.handoff["trigger"] == "out_of_scope"
    assert conv.department == Department.objects.get(is_default=True)
    assert "Santander" in conv.handoff_summary  # the team reads which organisation it is about


def test_a_question_about_a_payment_method_the_pages_name_is_not_out_of_scope(fibrasur):
    shipped_threshold()
    conv = start(fibrasur, language="en")
    conv, replies = say(fibrasur, conv, "Can I pay my bill with my Mercado Pago account?")
    assert (conv.handoff or {}).get("trigger") != "out_of_scope"


def test_the_card_names_what_the_help_pages_do_not_mention(fibrasur, client):
    shipped_threshold()
    conv = start(fibrasur, language="en")
    conv, _ = say(fibrasur, conv, "My Banco Santander credit card has an interest charge I don't understand. Can "
                                  "you explain how they calculate it?")
    client.force_login(fibrasur.operator)
    html = client.get(f"/conversations/{conv.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    card = html[html.index('class="handoff-card"'):html.index("</section>", html.index('class="handoff-card"'))]
    assert "<dt>Not in the help pages</dt>" in card and "Banco Santander" in card
