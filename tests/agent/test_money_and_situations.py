"""Stop 47: what a price question is answered with, the currencies a customer writes, and FAQ entries that
open with the customer's situation.

- A question about money ("¿Cuánto sale el envío a Rosario?") is answered by a unit stating money (an
  amount in a currency, a percentage, a word for free), not by any figure: the store's address
  "Córdoba 1452, Rosario" is no price (``compose._MONEY_VALUE``). "¿En cuánto me avisan?" asks for a time.
- An amount in any currency of the Americas is the customer's own (``compose.unknown_amounts``), MXN
  included: only the development businesses' ARS, CLP and UYU were read before.
- Under an FAQ heading an entry may open with the customer's situation in bold, a statement, not a question
  ("**The order says Preparing and I need to change the postcode.** It can't be changed..."): that sentence
  is what the entry answers, read, never shown (``parsers._strip_md``, ``compose.split_units(faq=True)``).
- The units a worker prepares when it starts (``compose.units_warm``) are embedded as the search embeds
  them on demand: with the FAQ question they answer (``compose._read``).
"""
from __future__ import annotations

import numpy as np
import pytest

from apps.agent.compose import (_FIGURE, _MONEY_VALUE, _TIME_VALUE, answer_type_asked, select_answer, split_units,
                                type_matches, unknown_amounts)
from apps.knowledge.parsers import parse_markdown
from apps.knowledge.search import SearchHit


def test_a_price_question_is_answered_with_money_not_with_any_figure():
    looks = answer_type_asked("¿Cuánto sale el envío a Rosario?")
    assert looks is _MONEY_VALUE
    store, shipping = split_units("| Tienda | Dirección |\n|---|---|\n| TecnoMundo Rosario | Córdoba 1452, Rosario |\n\n"
                                  "El envío a Rosario cuesta ARS 9.900 y llega en 2 a 4 días hábiles.")[-2:]
    assert "1452" in store.text and not type_matches(looks, store)
    assert type_matches(looks, shipping)
    for text in ("MXN 99", "$2,000 per month", "a 40% discount", "Shipping is free over MXN 1,499", "sin ningún costo",
                 "There is no cancellation fee", "60.000 pesos"):
        assert _MONEY_VALUE.search(text), text
    for text in ("Córdoba 1452, Rosario", "Level 2", "within 30 days", "no minimum term"):
        assert not _MONEY_VALUE.search(text), text
    # "in how much (time)" is a time; a count takes any figure; the steps of a how-to that names a fee
    assert answer_type_asked("Pedí frenar mi pedido. ¿En cuánto me avisan si se pudo?") is _TIME_VALUE
    assert answer_type_asked("How many TecnoPuntos do I get per purchase?") is _FIGURE
    assert answer_type_asked("How do I file a complaint about a fee you charged me by mistake?") is _FIGURE
    assert answer_type_asked("How much is the fee for a transfer?") is _MONEY_VALUE


def test_the_price_question_gets_the_shipping_price_not_the_store_of_that_city():
    """Same words, same embedding: the type of what is asked decides between the two units."""
    hit = SearchHit(chunk_id=987601, document_id=1, document_title="Envíos", heading="Envíos y tiendas",
                    text="Envío a Rosario: tienda en Córdoba 1452.\n\nEnvío a Rosario: ARS 9.900.",
                    score=0.6, language="es")

    def embed(texts):
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0

    selection = select_answer("¿Cuánto sale el envío a Rosario?", np.ones(4, dtype=np.float32) / 2.0, [hit],
                              language="es", embed=embed, params={"extra_units": 0, "span": 1}, ranker={"none": True})
    assert selection.text == "Envío a Rosario: ARS 9.900.", selection.text


def test_an_amount_in_any_currency_of_the_americas_is_the_customers_own():
    from apps.knowledge.lexical import LexicalIndex

    index = LexicalIndex(["Free shipping on orders of MXN 1,499 or more.", "Envío: ARS 9.900."])
    assert unknown_amounts("Mi tarjeta Banorte me rechazó la compra de MXN 24,999. ¿Por qué?", index.figures) == 1
    assert unknown_amounts("Paid R$ 350 and S/ 120 and COP 45.000", index.figures) == 3
    assert unknown_amounts("Is shipping free over MXN 1,499?", index.figures) == 0  # a page's figure
    assert unknown_amounts("I took the bus 300 times", index.figures) == 0


def test_an_amount_beside_one_the_pages_state_asks_about_the_pages():
    """"I spent ARS 180,000 and you still charged me ARS 9.900 for shipping": the fee is the page's, so the
    question is about the page's rule, not only about the customer's own invoice."""
    from apps.knowledge.lexical import LexicalIndex

    index = LexicalIndex(["Free shipping on orders of MXN 1,499 or more.", "Envío: ARS 9.900."])
    assert unknown_amounts("I spent ARS 180,000 and you still charged me ARS 9.900 for shipping?!", index.figures) == 0
    assert unknown_amounts("I spent ARS 180,000 and you still charged me ARS 12.400 for shipping?!",
                           index.figures) == 2


PAGE = """# Changing or cancelling an order

## When we cancel an order

**Argentina.** We refund the full amount within 48 hours.

## FAQ

**The order says Preparing and I need to change the postcode.** It can't be changed at that stage. Request the cancellation and place a new order.

**Can I add a product?** No. Place a new order.
"""


def test_an_faq_entry_can_open_with_the_customers_situation():
    sections = parse_markdown(PAGE.encode())
    rules, faq = sections[-2], sections[-1]
    assert faq.heading.endswith("FAQ")
    text = "\n\n".join(faq.paragraphs)
    assert "The order says Preparing and I need to change the postcode.\nIt can't be changed" in text
    units = split_units(text, faq=True)
    assert [(u.text, u.asks) for u in units] == [
        ("It can't be changed at that stage.", "The order says Preparing and I need to change the postcode."),
        ("Request the cancellation and place a new order.", "The order says Preparing and I need to change the postcode."),
        ("No. Place a new order.", "Can I add a product?")]
    # outside an FAQ section a bold opening is a label of the text, shown as written
    assert "\n".join(rules.paragraphs) == "Argentina. We refund the full amount within 48 hours."
    assert [u.asks for u in split_units("\n".join(rules.paragraphs))] == ["", ""]
    # and the same text read outside an FAQ section keeps its statement
    assert split_units(text)[0].text == "The order says Preparing and I need to change the postcode."


@pytest.mark.django_db
def test_the_units_a_worker_prepares_read_the_faq_question_they_answer(monkeypatch):
    """``units_warm`` fills the cache ``_units_with_vectors`` reads: both must embed a unit the same way,
    the FAQ question first, or the entry is found by its answer's words alone once a worker has started."""
    from apps.agent import compose
    from apps.knowledge.models import Chunk, Document

    doc = Document.objects.create(title="Orders", file="kb/orders.md", language="en")
    chunk = Chunk.objects.create(document=doc, ordinal=0, heading="Orders › FAQ",
                                 text="The order says Preparing and I need to change the postcode.\n"
                                      "It can't be changed at that stage.")
    seen: list[str] = []

    def embed_texts(texts):
        seen.extend(texts)
        return np.ones((len(texts), 4), dtype=np.float32)

    monkeypatch.setattr("apps.knowledge.embeddings.embed_texts", embed_texts)
    monkeypatch.setattr(compose, "_unit_cache", {})
    assert compose.units_warm() == 1
    assert seen == ["FAQ: The order says Preparing and I need to change the postcode. It can't be changed at that stage."]
    units, _vectors = compose._unit_cache[compose._unit_key(chunk.pk, chunk.heading, chunk.text)]
    assert units[0].asks.startswith("The order says Preparing")
