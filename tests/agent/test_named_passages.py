"""Stop 53: a word of the question the knowledge base writes in a few chunks only names the passage that
answers it (``compose.named_passages``). "if i order a kettle today to neuquen when will it arrive" is
answered by the shipping table's row for Neuquén, but that long table, whose other rows dilute its
similarity to the question, ranked below every order-status passage and never reached the candidates the
answer is chosen from (TecnoMundo t024). The most relevant chunk naming such a word joins the hits, within
the ones the answer reads, kept whatever its score; the ranker and the verifier judge it as any other."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.django_db

REGIONS = ["CABA and Greater Buenos Aires", "Rest of Buenos Aires province", "Córdoba and Santa Fe", "Mendoza",
           "San Juan and San Luis", "La Pampa", "Tucumán and Salta", "Jujuy and Catamarca", "Misiones and Corrientes",
           "Chaco and Formosa", "Neuquén and Río Negro", "Chubut and Santa Cruz", "Tierra del Fuego"]
SHIPPING = ("# Shipping\n\n## Delivery times and costs\n\n| Region | Delivery time | Cost |\n|---|---|---|\n"
            + "".join(f"| {region} | {2 + n % 5}–{5 + n % 6} business days | ARS {6900 + 1000 * n} |\n"
                      for n, region in enumerate(REGIONS))).encode()
ENVIOS = ("# Envíos\n\n## Plazos y costos de entrega\n\n| Región | Plazo | Costo |\n|---|---|---|\n"
          "| Neuquén y Río Negro | 4–7 días hábiles | ARS 13.900 |\n| Tierra del Fuego | 6–10 días hábiles | ARS 16.900 |\n"
          ).encode()
ORDERS = ("# Your orders\n\n"
          + "".join(f"## {title}\n\n{text}\n\n" for title, text in (
              ("Order today", "Orders placed today before 14:00 are prepared today; later orders, the next day."),
              ("When will my order arrive?", "Your order arrives on the date shown in My orders."),
              ("Tracking an order", "When your order leaves the warehouse today you get an email with its tracking link."),
              ("Changing an order", "You can change an order placed today while it is Confirmed."),
              ("Cancelling an order", "You can cancel an order today from My orders while it is not shipped."),
              ("Order statuses", "Confirmed, Preparing, Shipped and Delivered: what each status of your order means."),
              ("Order arrived damaged", "If your order arrives damaged, report it within 48 hours."),
              ("Order arrived incomplete", "If your order arrives incomplete, report it within 5 days."),
              ("Split orders", "An order with items from two warehouses may arrive in two packages."),
              ("Order invoices", "The invoice of your order arrives by email when it is shipped."),
              ("Ordering for someone else", "You can order today for someone else and have it arrive at their address."),
          ))).encode()
QUESTION = "if i order a kettle today to neuquen when will it arrive"


@pytest.fixture
def shop(cast, kb_store):
    from apps.knowledge.services import document_create, document_ingest

    ids = {}
    for name, data, language in (("shipping", SHIPPING, "en"), ("orders", ORDERS, "en"), ("envios", ENVIOS, "es")):
        doc = document_create(title=name.title(), filename=f"{language}-{name}.md", data=data, language=language,
                              source=f"kb/{language}-{name}.md")
        document_ingest(document_id=doc.pk)
        ids[name] = doc.pk
    return ids


def _search(question, k):
    from apps.agent.engine import embed
    from apps.knowledge.search import knowledge_search_vector

    vector = np.asarray(embed([question])[0], dtype=np.float32)
    return vector, knowledge_search_vector(vector, query=question, k=k)


def test_a_rare_word_of_the_question_brings_the_chunk_that_names_it(shop):
    from apps.agent.compose import PARAMS, _kb_lexical, named_passages, named_words

    vector, hits = _search(QUESTION, 3)
    assert not any("Neuquén" in h.text for h in hits)  # the order passages outrank the table
    lexical = _kb_lexical()
    assert "neuquen" in named_words(QUESTION, lexical)
    assert "order" not in named_words(QUESTION, lexical)  # written in every order passage
    joined = named_passages(hits, vector, question=QUESTION, document_ids=None, departments=[], lexical=lexical,
                            language="en")
    added = [h for h in joined if h.chunk_id not in {k.chunk_id for k in hits}]
    assert [h.document_id for h in added] == [shop["shipping"]] and "Neuquén and Río Negro" in added[0].text
    # the page in the customer's language first: the Spanish table for a Spanish-speaking customer
    spanish = named_passages(hits, vector, question=QUESTION, document_ids=None, departments=[], lexical=lexical,
                             language="es")
    assert [h.document_id for h in spanish if h.chunk_id not in {k.chunk_id for k in hits}] == [shop["envios"]]
    # placed within the hits the answer reads, after the better-ranked ones
    _vector, ten = _search(QUESTION, PARAMS["max_hits"])
    joined = named_passages(ten, vector, question=QUESTION, document_ids=None, departments=[], lexical=lexical,
                            language="en")
    assert any("Neuquén" in h.text for h in joined[:PARAMS["max_hits"]])
    assert [h.chunk_id for h in joined[:PARAMS["max_hits"] - 1]] == [h.chunk_id for h in ten[:PARAMS["max_hits"] - 1]]
    # hits that already name every rare word of the question get nothing more
    both = list(hits) + added
    assert named_passages(both, vector, question=QUESTION, document_ids=None, departments=[], lexical=lexical,
                          language="en") == both
    assert "kettle" not in named_words(QUESTION, lexical)  # a word the pages never write names nothing
    # only the documents the answer may quote are looked through
    assert named_passages(hits, vector, question=QUESTION, document_ids=[shop["orders"]], departments=[],
                          lexical=lexical, language="en") == hits


def test_the_answer_reads_the_row_of_the_place_named(shop, monkeypatch):
    from apps.agent import compose
    from apps.agent.engine import embed

    def candidates():
        vector = np.asarray(embed([QUESTION])[0], dtype=np.float32)
        with compose.candidates_capture() as box:
            compose.local_answer(question=QUESTION, vector=vector, language="en", document_ids=None, departments=[],
                                 intent_probability=0.5, embed=embed)
        return [c["text"] for c in box]

    assert any("Neuquén and Río Negro" in text for text in candidates())
    monkeypatch.setattr(compose, "NAMED_PASSAGE_MAX_CHUNKS", 0)  # no word is rare enough: the table stays out
    assert not any("Neuquén and Río Negro" in text for text in candidates())
