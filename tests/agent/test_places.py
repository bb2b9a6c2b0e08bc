"""A place the customer names reads as its country when the help pages write per country and never
name the place ("How long does the card take to get to Rosario?" against "Argentina: rest of the
country"): the search and the verifier read the country, and the place is not a name the pages never
mention (``apps.agent.places``, ``compose.local_answer``, ``compose.unknown_names``)."""
from __future__ import annotations

import numpy as np
import pytest

from apps.agent import places
from apps.agent.compose import unknown_names
from apps.knowledge.lexical import LexicalIndex

PAGE = """# Card delivery

How long the physical card takes to arrive, by destination:

| Destination | Delivery time |
|---|---|
| Argentina: Buenos Aires City and Greater Buenos Aires | 3 to 5 business days |
| Argentina: rest of the country | 6 to 9 business days |
| Chile: Santiago Metropolitan Region | 2 to 4 business days |
| Chile: other regions | 4 to 7 business days |

The first physical card is free. Cards are valid for 5 years.
"""


def test_the_places_a_message_names_and_their_countries():
    known = LexicalIndex([PAGE]).idf
    assert places.named_places("How long does the card take to get to Córdoba?") == [
        ("Cordoba", ("Argentina", "Argentina"))]
    assert places.countries_for("How long does the card take to get to Rosario?", known) == ["Argentina"]
    assert places.countries_for("Soy de Cordoba y vivo en Valparaíso", known) == ["Argentina", "Chile"]
    # the longest name first: Santiago del Estero is in Argentina, Santiago in Chile
    assert places.named_places("Vivo en Santiago del Estero")[0][1] == ("Argentina", "Argentina")
    # a place the pages name is read as written; a country the message names is not added again
    assert places.countries_for("Is Buenos Aires faster?", known) == []
    assert places.countries_for("I'm in Rosario, Argentina. How long?", known) == []
    # a country the pages never write for, an everyday word, a lower-case word
    assert places.countries_for("I live in Montevideo", known) == []
    assert places.countries_for("Tengo la plata en la cuenta", known) == []
    assert places.countries_for("me voy a rosario", known) == []
    # a place's name as the customer's own name, or a common surname, is no place
    assert places.countries_for("Hola, soy Santiago. ¿Cuánto tarda la tarjeta?", known) == []
    assert places.countries_for("I'm Santiago, from Rosario", known) == ["Argentina"]
    assert places.named_places("Soy Juan Moreno y escribo desde Flores") == []


def test_a_place_of_a_country_the_pages_write_for_is_not_an_unknown_name():
    known = LexicalIndex([PAGE]).idf
    assert unknown_names("How long does the card take to get to Rosario?", known) == 0
    assert unknown_names("Can I add the card to Zorblax?", known) == 1
    other = LexicalIndex(["Delivery takes 3 to 5 business days everywhere in Peru."]).idf
    assert unknown_names("How long does the card take to get to Rosario?", other) == 1
    # every word of a place of several
    uruguay = LexicalIndex(["Plus — Uruguay: UYU 2.800 per year for glasses."]).idf
    assert unknown_names("What do I get for glasses in Punta del Este?", uruguay) == 0
    assert unknown_names("What do I get for glasses in Punta del Este?", other) == 2  # Punta, Este


@pytest.fixture
def delivery_page(kb_store):
    from apps.knowledge import services

    document = services.document_create(title="Card delivery", filename="card-delivery.md", data=PAGE.encode(),
                                        language="en")
    services.document_ingest(document_id=document.pk)


@pytest.mark.django_db
def test_the_country_of_the_place_finds_its_row_and_raises_the_confidence(delivery_page, monkeypatch):
    from apps.agent import compose
    from apps.knowledge.embeddings import embed_texts

    question = "How long does the physical card take to get to Rosario?"

    def answer():
        vector = np.asarray(embed_texts([question])[0], dtype=np.float32)
        return compose.local_answer(question=question, vector=vector, language="en", document_ids=None,
                                    departments=[], intent_probability=0.5, embed=embed_texts)

    found = answer()
    assert "6 to 9 business days" in found["answer"]
    assert found["features"]["unknown_names"] == 0
    # the same turn without reading the place: Rosario is a name the pages never mention
    monkeypatch.setattr(places, "countries_for", lambda text, known: [])
    monkeypatch.setattr(places, "place_words", lambda text, known: frozenset())
    blind = answer()
    assert blind["features"]["unknown_names"] == 1
    assert found["confidence"] > blind["confidence"], (found["confidence"], blind["confidence"])
