"""Grounded answers: the composer (sentences, lists, tables, abbreviations, FAQ markup), the
cross-lingual notice, the evaluation's fact and handoff-turn scoring, configuration a new business
gets right (documents: [], departments by name, kb_ingest --mapping, validated datasets)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.agent.compose import (answer_confidence, answer_type_asked, asks_how_to, compose_reply, declares_quote, drop_stray_polarity, render,
                                select_answer, split_sentences, split_units, type_matches, unknown_names, verifier_load,
                                whole_procedure, with_intro)
from apps.knowledge.search import SearchHit
from apps.agent.evaluation import ScenarioError, load_scenarios
from apps.agent.evaluation.scoring import fact_present, reply_language_ok, scenario_score


# --- composer ---------------------------------------------------------------------------------------

def test_sentences_keep_abbreviations_whole():
    text = ("Visitanos en Av. Colón 1234, Córdoba. La Dra. Pérez atiende los martes. "
            "Pampa Pay S.A. es una empresa regulada. Abrimos de 9 a 18 h.")
    assert split_sentences(text) == ["Visitanos en Av. Colón 1234, Córdoba.", "La Dra. Pérez atiende los martes.",
                                     "Pampa Pay S.A. es una empresa regulada.", "Abrimos de 9 a 18 h."]
    assert split_sentences("Ask Dr. Smith. He knows.") == ["Ask Dr. Smith.", "He knows."]


def test_a_page_sentence_ends_only_before_a_capital_or_a_figure():
    """A period followed by a lower-case word ends no sentence of a page ("18 hs. sábados"): the
    composer's splitter, not the customer-message splitter of ``question_focus`` (which splits there)."""
    assert split_sentences("Atendemos de lunes a viernes de 9 a 18 hs. sábados de 9 a 13 hs. Feriados cerrado.") == [
        "Atendemos de lunes a viernes de 9 a 18 hs. sábados de 9 a 13 hs.", "Feriados cerrado."]


def test_table_rows_read_with_their_headers_and_lists_stay_lists():
    chunk = ("Fees per person and month.\n\nPlan | Argentina | Uruguay\nVitalia Plus | ARS 79,900 | UYU 3,890\n"
             "Vitalia Integral | ARS 126,400 | UYU 5,970\n\n"
             "| Esencial | Plus\nPharmacy discount | 40% | 50%\n\n"
             "You can pay with:\n- **debit** card\n- [Mercado Pago](https://example.com)\n")
    units = split_units(chunk)
    texts = [u.text for u in units]
    assert "Vitalia Plus — Argentina: ARS 79,900; Uruguay: UYU 3,890" in texts
    assert "Pharmacy discount — Esencial: 40%; Plus: 50%" in texts  # empty corner cell aligned
    # column names that hold figures over an empty corner are still the header, as the parser stores
    # "| | 1 extra year | 2 extra years |" (they read "1 extra year: 2 extra years", a row of data)
    extended = split_units("| 1 extra year | 2 extra years\nPrice | 9% of the product price | 15% of the product price")
    assert [u.text for u in extended] == ["Price — 1 extra year: 9% of the product price; 2 extra years: 15% of the product price"]
    items = [u for u in units if u.kind == "item"]
    assert [u.text for u in items] == ["debit card", "Mercado Pago"]  # no Markdown left
    assert render(items) == "- debit card\n- Mercado Pago"
    assert not any("|" in t or "**" in t for t in texts)


def test_a_long_column_name_never_runs_into_its_value():
    """"Deadline to open a dispute 120 calendar days", "What we ask for photos of your ID": each value
    reads after its column's name and a colon, the row's name first."""
    table = ("Payment | Deadline to open a dispute | What we ask for\n"
             "Card purchase | 120 calendar days from the transaction date | photos of both sides of your ID\n"
             "QR payment | 30 calendar days from the payment |")
    texts = [u.text for u in split_units(table)]
    assert texts == ["Card purchase — Deadline to open a dispute: 120 calendar days from the transaction date; "
                     "What we ask for: photos of both sides of your ID",
                     "QR payment — Deadline to open a dispute: 30 calendar days from the payment"]


@pytest.mark.parametrize("table", [
    # as a chunk stores it (no separator row) and as a page's markdown has it
    "Nivel | Saldo máximo | Transferencias salientes por mes calendario\n"
    "Nivel 1 – Básico | ARS 500.000 | ARS 1.000.000\nNivel 2 – Verificado | ARS 5.000.000 | ARS 10.000.000",
    "| Nivel | Saldo máximo | Transferencias salientes por mes calendario |\n|---|---|---|\n"
    "| Nivel 1 – Básico | ARS 500.000 | ARS 1.000.000 |\n| Nivel 2 – Verificado | ARS 5.000.000 | ARS 10.000.000 |",
])
def test_a_column_name_longer_than_forty_characters_is_still_the_header(table):
    """Pampa Pay's verification levels: the header "Transferencias salientes por mes calendario" (43
    characters) was read as a data row of a table continued from another chunk, and every level read
    "ARS 25.000.000 / CLP 15.000.000; ARS 10.000.000 / CLP 6.000.000; ARS 50.000.000 / ..." with no
    column to say which is the balance and which the monthly limit."""
    assert [u.text for u in split_units(table)] == [
        "Nivel 1 – Básico — Saldo máximo: ARS 500.000; Transferencias salientes por mes calendario: ARS 1.000.000",
        "Nivel 2 – Verificado — Saldo máximo: ARS 5.000.000; Transferencias salientes por mes calendario: ARS 10.000.000"]
    # a first row that holds a figure is data: a table continued from the previous chunk
    continued = split_units("Nivel 2 – Verificado | ARS 5.000.000 | ARS 10.000.000\nNivel 3 – Plus | ARS 25.000.000 | ARS 50.000.000")
    assert [u.text for u in continued] == ["Nivel 2 – Verificado: ARS 5.000.000; ARS 10.000.000",
                                           "Nivel 3 – Plus: ARS 25.000.000; ARS 50.000.000"]


PAY_BY_COUNTRY = ("Argentina | Uruguay\n"
                  "Débito automático con tarjeta (Visa, Mastercard) | Débito automático con tarjeta (Visa, OCA)\n"
                  "Mercado Pago | Transferencia bancaria\n"
                  "Transferencia bancaria | Abitab y Redpagos\n"
                  "Pago Mis Cuentas y Red Link | \n"
                  "Rapipago y Pago Fácil |")


def test_a_table_of_lists_side_by_side_reads_each_cell_under_its_column():
    """Columns that are lists (the ways to pay in each country, one column ending before the other):
    "Mercado Pago" is a way to pay in Argentina, never "Mercado Pago — Uruguay: Transferencia bancaria"."""
    texts = [u.text for u in split_units(PAY_BY_COUNTRY)]
    assert "Argentina: Mercado Pago" in texts and "Uruguay: Abitab y Redpagos" in texts
    assert texts.index("Argentina: Rapipago y Pago Fácil") < texts.index("Uruguay: Débito automático con tarjeta (Visa, OCA)")
    assert not any(" — " in t for t in texts) and len(texts) == 8  # no row names; 5 + 3 ways to pay
    # records keep their row names: figures, repeated values, or columns of the same length
    prices = "Plan | Argentina | Uruguay\nEsencial | ARS 49,900 | UYU 2,490\nPlus | ARS 79,900 | \nIntegral | ARS 99,900 |"
    assert [u.text for u in split_units(prices)][1] == "Plus — Argentina: ARS 79,900"
    services = "Servicio | Argentina | Uruguay\nTelemedicina | Sí | Sí\nFarmacia | Sí | \nÓptica | Sí |"
    assert [u.text for u in split_units(services)][1] == "Farmacia — Argentina: Sí"
    square = "Argentina | Uruguay\nMercado Pago | Abitab\nRapipago | Redpagos\nPago Fácil | BROU"
    assert [u.text for u in split_units(square)][0] == "Mercado Pago — Uruguay: Abitab"  # nothing says they are lists


NEVER_ASK = ("No one from Pampa Pay will ever ask you, by phone, chat or email, for:\n\n"
             "- your card PIN;\n- the 6-digit verification codes we send you by SMS;\n\n"
             "If someone asks for any of these, it is a scam.")


def test_list_items_are_shown_with_the_sentence_that_introduces_them():
    # "the 6-digit codes we send you" alone reads as something to hand over: its lead-in says the opposite
    units = split_units(NEVER_ASK)
    codes = next(u for u in units if u.text.startswith("the 6-digit"))
    assert codes.kind == "item" and codes.intro.endswith("chat or email, for:")  # across the blank line
    assert render(with_intro([codes])) == ("No one from Pampa Pay will ever ask you, by phone, chat or email, for:\n"
                                           "- the 6-digit verification codes we send you by SMS;")
    # shown once when the passage already holds it; a sentence after the list has no lead-in
    assert with_intro(units[:3]) == units[:3]
    scam = next(u for u in units if u.text.startswith("If someone"))
    assert with_intro([scam]) == [scam]
    # a lead-in inside the same paragraph too, and a plain sentence before a list is no lead-in
    same = split_units("If you pay late:\n- a 4% surcharge is added;\n- coverage continues.")
    assert [u.intro for u in same if u.kind == "item"] == ["If you pay late:"] * 2
    plain = split_units("We accept cards.\n- debit card\n- Mercado Pago")
    assert [u.intro for u in plain if u.kind == "item"] == ["", ""]


def test_the_selected_answer_keeps_its_list_lead_in():
    answer = _select_flat("Do you need the 6-digit verification codes you send by SMS?", NEVER_ASK, "Security", {"span": 1})
    assert answer.startswith("No one from Pampa Pay will ever ask you"), answer
    assert "\n- " in answer


def _select_flat(question: str, chunk: str, heading: str, params: dict) -> str:
    """The hand-set selection when every text embeds to the same vector: only the scores' other terms decide."""
    hit = SearchHit(chunk_id=987001, document_id=1, document_title="Help", heading=heading, text=chunk, score=0.6,
                    language="en")

    def embed(texts):
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0

    # the hand-set score alone (no learned ranker), one passage (no supplementary unit)
    return select_answer(question, np.ones(4, dtype=np.float32) / 2.0, [hit], language="en", embed=embed,
                         params={"extra_units": 0, **params}, ranker={"none": True}).text


RESTART = ("Restarting the router fixes slow connections and does not erase the Wi-Fi password.\n\n"
           "1. Unplug the router from the power socket.\n2. Wait 30 seconds.\n"
           "3. Plug the router back in and wait 2 minutes.\n\nA remote restart from the app takes 3 minutes.")


@pytest.mark.parametrize("span", [1, 4])
def test_a_how_to_question_gets_the_whole_procedure_in_order(span):
    # one step out of three ("Plug the router back in") does not tell the customer how
    answer = _select_flat("How do I restart the router?", RESTART, "Router", {"span": span, "extra_units": 2})
    steps = [answer.find(s) for s in ("Unplug the router", "Wait 30 seconds", "Plug the router back in")]
    assert -1 not in steps and steps == sorted(steps), answer
    # the passage itself on a step: the list from its first step, the step kept even when space runs out
    units = split_units(RESTART)
    third = next(j for j, u in enumerate(units) if u.text.startswith("Plug the router back"))
    assert [units[j].text[:6] for j in whole_procedure(units, [third], max_chars=420)] == ["Unplug", "Wait 3", "Plug t"]
    assert whole_procedure(units, [third], max_chars=10) == [third]
    # never a gap: when the first steps do not fit before the chosen one, the run that ends with it
    long = split_units("\n".join(f"{n}. Step {n}: " + "do this carefully " * 6 for n in range(1, 8)))
    picked = whole_procedure(long, [6], max_chars=320)
    assert picked == list(range(picked[0], 7)) and picked[0] > 0
    assert asks_how_to("¿Cómo pido que venga un técnico?") and asks_how_to("how can I pay my bill")
    assert not asks_how_to("¿Cómo funciona el cashback?") and not asks_how_to("How much is the visit?")
    # what it takes, and a question after the customer's context
    assert asks_how_to("What do I need to sign up for the service?") and asks_how_to("¿Qué necesito para contratar?")
    assert asks_how_to("I run a bakery in Valparaíso and want to accept QR payments. What do I need?")
    assert asks_how_to("Me mudé. ¿Qué tengo que hacer para cambiar el domicilio?")
    assert not asks_how_to("¿Cómo que no me lo pueden mostrar?") and not asks_how_to("What do I get on Plus?")
    # "how do you work it out" asks for an explanation, not for steps
    assert asks_how_to("¿Cómo paso al Nivel 3?") and asks_how_to("¿Cómo se pide un reintegro?")
    assert not asks_how_to("¿Cómo calculan el rendimiento de la cuenta?")


def test_a_how_to_question_is_answered_with_the_instruction_not_a_remark_on_the_same_words():
    # both paragraphs hold the question's words: only "Go to ... >" says how (Pampa Pay p119 got "If a
    # check fails, the app shows the result" to "How do I upgrade to Level 3?")
    chunk = ("An upgrade to Level 3 is reviewed by our team.\n\n"
             "Go to Profile > Verification and request the upgrade to Level 3.")
    assert _select_flat("How do I upgrade to Level 3?", chunk, "", {}).startswith("Go to Profile")
    # not for a question that asks something else
    assert _select_flat("Is an upgrade to Level 3 reviewed?", chunk, "", {}).startswith("An upgrade")
    looks = answer_type_asked("¿Cómo paso al Nivel 3?")
    assert looks is not None
    # what the verifier reads leaves the how-to type out
    assert answer_type_asked("How do I upgrade to Level 3?", instructions=False) is None
    for instruction in ("Entra en Perfil > Verificación > Nivel 3 y sube un comprobante.", "Tocá Pagar y escaneá el QR.",
                        "In the app, tap Card > Pause card.", "Puedes pedirlo desde la app o en una sucursal."):
        assert looks.search(instruction), instruction
    for remark in ("If a check fails, the app shows the result.", "Our Compliance team reviews it within 3 days.",
                   "La verificación tarda 3 días hábiles."):
        assert not looks.search(remark), remark


def test_a_how_long_question_is_answered_with_a_term_not_with_any_figure():
    # "Level 2" is a figure, not a time: the delivery time wins (Pampa Pay: "How long does the physical
    # card take to arrive?" got "Physical card: requires Level 2")
    chunk = "Physical cards need Level 2 to arrive.\n\nPhysical cards arrive in 3 to 5 business days."
    assert _select_flat("How long do physical cards take to arrive?", chunk, "", {}).endswith("business days.")
    looks = answer_type_asked("¿Cuándo me llega la tarjeta?")
    for term in ("de 3 a 5 días hábiles", "within 24 h", "from 8 am to 10 pm", "el 10 de cada mes", "on Saturdays",
                 "al instante", "in 1848"):
        assert looks.search(term), term
    for figure in ("Physical card: requires Level 2.", "ARS 4,500", "Tienes 3 intentos cada vez"):
        assert not looks.search(figure), figure
    # "¿Cuánto tardan...?" asks how long, though "cuánto" is also "how much"
    chunk = "La instalación cuesta 3 cuotas.\n\nLa instalación se hace en 48 horas."
    assert _select_flat("¿Cuánto tardan en instalar?", chunk, "", {}) == "La instalación se hace en 48 horas."
    assert _select_flat("¿Cuánto cuesta instalar?", chunk, "", {}) == "La instalación cuesta 3 cuotas."


def test_a_question_for_the_things_of_a_kind_is_answered_with_a_list():
    # "Which payment methods do you accept?" names no figure and no term: the list of methods answers
    # it, not a sentence about one of them (the demo's "What plans do you have?" got "You can upgrade
    # at any time at no cost" at confidence 0.85)
    chunk = ("Card payments are credited at once and you get an email.\n\n"
             "You can pay with:\n\n- a debit card\n- a credit card\n- a bank transfer")
    assert _select_flat("Which payment methods do you accept?", chunk, "", {"span": 1}).startswith(
        "You can pay with:\n- a debit card")
    # not for a question that asks something else
    assert _select_flat("Are card payments credited at once?", chunk, "", {"span": 1}).startswith("Card payments")
    looks = answer_type_asked("Which payment methods do you accept?")
    for question in ("What plans do you have?", "¿Qué planes tienen?", "¿Qué documentos necesito para la portabilidad?",
                     "¿Cuáles son los medios de pago?", "What kinds of cards are there?"):
        assert answer_type_asked(question) is looks, question
    for question in ("What is your cancellation policy?", "Can I keep my number?", "¿Qué pasa si pago tarde?",
                     "What does the Plus plan cover?", "What time slots are there?"):
        assert answer_type_asked(question) is not looks, question
    for enumeration in ("You can pay by card, Mercado Pago, bank transfer or cash.",
                        "Podés pagar con tarjeta, Mercado Pago o transferencia.", "- a spouse\n- children under 21"):
        assert looks.search(enumeration), enumeration
    for remark in ("Yes, at any time and at no cost.", "Sí, en cualquier momento y sin costo.",
                   "Collections reviews it within 10 business days and, if it applies, the amount is refunded."):
        assert not looks.search(remark), remark
    # a list item or a table row is one, whatever its words
    units = split_units("| Plan | Speed |\n|---|---|\n| Fibra 100 | 100 Mbps |\n| Fibra 300 | 300 Mbps |")
    rows = [u for u in units if u.kind == "row"]
    assert len(rows) == 2 and all(type_matches(looks, u) for u in rows)
    assert not type_matches(looks, split_units("Every plan includes a router on loan.")[0])


def test_a_name_the_knowledge_base_never_mentions_lowers_the_confidence():
    # "Can I add the card to Google Pay?": the help pages say nothing about Google Pay, whatever passage
    # the words around the name find (Pampa Pay p015 was answered at 0.61 where a person was due)
    vocabulary = {w: 1.0 for w in "pampa card add can you the santiago region europa monday".split()}
    assert unknown_names("¿Puedo agregar la tarjeta Pampa a Google Pay o Apple Pay?", vocabulary) == 4
    assert unknown_names("Can I use the Pampa card in Santiago?", vocabulary) == 0  # the pages name it
    assert unknown_names("I'm travelling to Europe next month", vocabulary) == 0  # "Europa": the same first five letters
    # a sentence's first word, weekdays and months are capitalised without being names
    assert unknown_names("Thanks. Can I add it? Where do I go?", vocabulary) == 0
    assert unknown_names("My baby was born on Monday in March.", vocabulary) == 0
    assert unknown_names("My card was declined at the Shell station", vocabulary) == 1
    assert unknown_names("Any question", None) == 0
    # the verifier reads it, and the shipped one weighs it against the answer
    assert "unknown_names" in verifier_load()["features"]
    selection = _selection_for("How long does the card take?", "The card arrives in 3 to 5 business days.")
    assert answer_confidence(selection, unknown_names=2) < answer_confidence(selection, unknown_names=0)


def _selection_for(question: str, chunk: str):
    hit = SearchHit(chunk_id=987002, document_id=1, document_title="Help", heading="", text=chunk, score=0.6,
                    language="en")

    def embed(texts):
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0

    return select_answer(question, np.ones(4, dtype=np.float32) / 2.0, [hit], language="en", embed=embed,
                         params={"extra_units": 0}, ranker={"none": True})


def test_a_passage_in_the_other_language_counts_the_question_words_it_translates():
    # an English question, a Spanish-only page: "authorization" is not "autorización" letter by letter,
    # but the encoder puts a word and its translation close, so the sentence about the authorization
    # wins over the one about the account (every sentence embeds alike here: only the words decide)
    axes: dict[str, int] = {}

    def embed(texts):
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for n, text in enumerate(texts):
            word = {"autorizacion": "authorization"}.get(text, text)
            out[n, 0 if " " in text else 1 + axes.setdefault(word, len(axes))] = 1.0
        return out

    chunk = "La cuenta se revisa en tres días.\n\nLa autorización se revisa en tres días."
    hit = SearchHit(chunk_id=987002, document_id=2, document_title="Ayuda", heading="", text=chunk, score=0.6,
                    language="es")
    vector = np.eye(64, dtype=np.float32)[0]

    def pick(**params):
        return select_answer("Is the authorization reviewed?", vector, [hit], language="en", embed=embed,
                             params={"extra_units": 0, "span": 1, **params}, ranker={"none": True}).text

    assert pick() == "La autorización se revisa en tres días."
    assert pick(translated_overlap=False) == "La cuenta se revisa en tres días."


def test_an_faq_entry_for_a_narrower_question_loses_to_the_entry_the_customer_asked():
    # both entries hold every word of "Which plans do you offer?"; the first answers a narrower question
    # (the demo's "What plans do you have?" got "No, every plan has unlimited data")
    def entry(n, question, answer):
        return SearchHit(chunk_id=987200 + n, document_id=7, document_title="FAQ", heading=question,
                         text=f"Q: {question}\nA: {answer}", score=0.6, language="en")

    hits = [entry(1, "Which plans do you offer with a data cap?", "None: no plan has a data cap."),
            entry(2, "Which plans do you offer?", "Fibra 100 and Fibra 300.")]

    def embed(texts):
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0

    def pick(**params):
        return select_answer("Which plans do you offer?", np.ones(4, dtype=np.float32) / 2.0, hits, language="en",
                             embed=embed, params={"extra_units": 0, **params}, ranker={"none": True}).text

    assert pick() == "Fibra 100 and Fibra 300."
    assert pick(faq_unasked_weight=0.0) == "None: no plan has a data cap."


def test_a_unit_stating_a_figure_wins_a_tie_with_one_that_only_names_the_topic():
    # both paragraphs share the question's words: only the figure tells them apart
    chunk = "Fees are updated regularly.\n\nFees are updated every 30 days."
    assert _select_flat("How often do fees change?", chunk, "", {"specific_bonus": 0.1}) == \
        "Fees are updated every 30 days."
    assert _select_flat("How often do fees change?", chunk, "", {"specific_bonus": 0.0}) == \
        "Fees are updated regularly."


def test_the_units_own_words_break_a_tie_between_units_under_one_heading():
    chunk = "Cards arrive by courier.\n\nA lost card is blocked from the app."
    own = {"unit_overlap_weight": 0.15, "lexical_weight": 0.0}
    assert _select_flat("I lost my card", chunk, "Cards", own) == "A lost card is blocked from the app."
    assert _select_flat("I lost my card", chunk, "Cards", {**own, "unit_overlap_weight": 0.0}) == \
        "Cards arrive by courier."


def test_faq_markup_is_not_shown():
    units = split_units("Q: How much is installation?\nA: Installation costs $25,000. It is free with Fibra 300.")
    assert [u.text for u in units] == ["Installation costs $25,000.", "It is free with Fibra 300."]


def test_a_passage_ranked_below_the_first_six_chunks_is_still_read():
    """Bilingual pages fill the first places with both languages' copies of the same paragraphs
    ("¿Cuánto sale el plan Esencial en Uruguay?": the price table was not among the first six chunks): the
    answer reads the units of the first ``max_hits`` (10) chunks."""
    target = "Vitalia Esencial: Argentina ARS 48.500; Uruguay UYU 2.350"

    def embed(texts):
        return np.array([[1.0, 0.0] if "UYU 2.350" in t else [0.6, 0.8] for t in texts], dtype=np.float32)

    hits = [SearchHit(chunk_id=987300 + n, document_id=1 + n % 2, document_title="Planes", heading="Planes",
                      text=f"Paragraph {n} about the plans and how they change.", score=0.40 - n / 200, language="es")
            for n in range(8)]
    hits.append(SearchHit(chunk_id=987399, document_id=1, document_title="Planes", heading="Cuotas", score=0.355,
                          text=target, language="es"))
    chosen = select_answer("¿Cuánto sale el plan Esencial en Uruguay?", np.array([1.0, 0.0], dtype=np.float32), hits,
                           language="es", embed=embed, params={"extra_units": 0}, ranker={"none": True})
    assert "UYU 2.350" in chosen.text, chosen.text


def test_a_short_follow_up_is_searched_with_the_customers_previous_question():
    from apps.agent.compose import question_in_context

    history = [{"role": "customer", "text": "¿Necesito autorización para una resonancia?"},
               {"role": "agent", "text": "Sí, ..."}]
    assert question_in_context("¿Y cuánto tardan en contestar?", history) == "¿Necesito autorización para una resonancia?"
    # the conversation's first message, a long turn that stands alone, a greeting before it: no context
    assert question_in_context("¿Y cuánto tardan en contestar?", []) == ""
    assert question_in_context("How long does the authorization of a scheduled surgery take when the clinic "
                               "sends the request on a Friday afternoon?", history) == ""
    assert question_in_context("how do I pay with a bank transfer?",
                               [{"role": "customer", "text": "good morning"}]) == ""


@pytest.mark.django_db
def test_the_local_provider_reads_a_follow_up_with_its_context(fibrasur, monkeypatch):
    from apps.agent import compose
    from apps.agent.providers import LocalProvider, TurnContext

    seen = []
    real = compose.local_answer
    monkeypatch.setattr(compose, "local_answer", lambda **kw: seen.append(kw["context"]) or real(**kw))
    history = [{"role": "customer", "text": "¿Cuánto cuesta la instalación?"}, {"role": "agent", "text": "..."}]
    analysis = LocalProvider().analyse(TurnContext(conversation_id=0, language="es", history=history,
                                                   text="¿Y con débito automático?"))
    assert seen == ["¿Cuánto cuesta la instalación?"] and analysis.answer
    # the knowledge base's evidence of scope is the turn's own search: context never makes an
    # off-topic follow-up look covered
    off_topic = "¿Y me ayudás con la declaración de impuestos?"
    alone = LocalProvider().analyse(TurnContext(conversation_id=0, language="es", history=[], text=off_topic))
    followed = LocalProvider().analyse(TurnContext(conversation_id=0, language="es", history=history, text=off_topic))
    assert seen[-1] == "¿Cuánto cuesta la instalación?"
    assert followed.extra["kb_scope"] == alone.extra["kb_scope"] and followed.scope == alone.scope


def test_an_faq_entry_is_never_supplemented_by_another_entrys_answer():
    """Each FAQ row answers its own question: joining another row's answer made "¿Tienen planes para
    pymes?" read "No, todos los planes son sin límite de datos. No. Ningún plan de FibraSur tiene
    permanencia mínima..."; units of another document's prose may still supplement a passage."""
    def hit(chunk_id, text, score):
        return SearchHit(chunk_id=chunk_id, document_id=7, document_title="FAQ", heading=text.split("\n")[0][3:],
                         text=text, score=score, language="en")

    hits = [hit(987201, "Q: Do you have business plans?\nA: Yes. Business plans include a static IP.", 0.62),
            hit(987202, "Q: Is there a data cap?\nA: No, every plan has unlimited data.", 0.61),
            hit(987203, "Q: Is there a minimum term?\nA: No. No plan has a minimum term.", 0.60)]

    def embed(texts):
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0

    vector = np.ones(4, dtype=np.float32) / 2.0
    faq = select_answer("Do you have business plans?", vector, hits, language="en", embed=embed,
                        params={"extra_units": 2}, ranker={"none": True})
    assert faq.text == "Yes. Business plans include a static IP.", faq.text
    prose = [SearchHit(chunk_id=987211 + n, document_id=8, document_title="Plans", heading="Plans", text=t,
                       score=0.62 - n / 100, language="en")
             for n, t in enumerate(["Business plans include a static IP.", "Business plans are billed with VAT."])]
    joined = select_answer("Do you have business plans?", vector, prose, language="en", embed=embed,
                           params={"extra_units": 2}, ranker={"none": True})
    assert "static IP" in joined.text and "billed with VAT" in joined.text, joined.text


@pytest.mark.parametrize("answer, question, shown", [
    ("Yes, a static IP costs $4,500 per month.", "How much is a static IP address?", "A static IP costs $4,500 per month."),
    ("No, every plan has unlimited data.", "what plans do you have?", "Every plan has unlimited data."),
    ("Sí, la IP fija cuesta $4.500 por mes.", "¿Cuánto sale una IP fija?", "La IP fija cuesta $4.500 por mes."),
    ("No. Installations take place Monday to Saturday.", "Hi! How long does installation take?",
     "Installations take place Monday to Saturday."),
    # a yes/no question keeps its yes or no, also beside a what/when question
    ("No, every plan has unlimited data.", "Is there a data cap on your plans?", "No, every plan has unlimited data."),
    ("Sí, en cualquier momento.", "¿Puedo pasarme a un plan más rápido? ¿Cuándo se aplica?", "Sí, en cualquier momento."),
    ("Yes, retirees get 15%.", "Do you have any discount for pensioners?", "Yes, retirees get 15%."),
    ("Nosotros instalamos los sábados.", "¿Cuándo instalan?", "Nosotros instalamos los sábados."),  # a word, not "No"
])
def test_a_stray_yes_or_no_is_dropped_under_a_what_or_how_question(answer, question, shown):
    """An FAQ answer opens with the yes/no of *its* question; under "How much is ...?" it answers
    nothing the customer asked ("Yes, a static IP costs ...")."""
    assert drop_stray_polarity(answer, question) == shown


@pytest.mark.django_db
def test_the_reply_to_a_how_much_question_does_not_open_with_yes(fibrasur):
    from apps.agent.providers import LocalProvider, TurnContext

    analysis = LocalProvider().analyse(TurnContext(conversation_id=0, language="en", history=[],
                                                   text="How much is a static IP address?"))
    assert "4,500" in analysis.answer
    assert not re.match(r"(?i)yes\b", analysis.answer)


def test_quote_from_the_other_language_is_declared_in_the_customers():
    reply = compose_reply("Only electronic prescriptions are accepted.", language="es", passage_language="en",
                          title="Pharmacy discounts", link="https://example.com/pharmacy")
    first_line = reply.splitlines()[0]
    assert "inglés" in first_line and declares_quote(reply, "es")
    assert reply.endswith("Fuente: Pharmacy discounts (https://example.com/pharmacy)")
    assert reply_language_ok(reply, "es", declared_quote=True)
    # the same quote without the notice is a silent switch
    assert not reply_language_ok("Only electronic prescriptions are accepted at the counter.", "es")
    same = compose_reply("Solo se aceptan recetas electrónicas.", language="es", passage_language="es", title="Farmacias")
    assert not declares_quote(same, "es") and same.startswith("Solo se aceptan")
    # a gloss in the other language, in parentheses, does not make an English reply Spanish
    glossed = ("Pampa Pay Chile SpA is an issuer of prepaid cards (emisor de tarjetas de pago con provisión de "
               "fondos) supervised by the Comisión para el Mercado Financiero (CMF).")
    assert reply_language_ok(glossed, "en")
    assert not reply_language_ok("Los teléfonos reacondicionados (refurbished) tienen 6 meses de garantía.", "en")


# --- scoring ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fact, reply, found", [
    ("ARS 6,500", "Pagás ARS 6.500 por visita.", True),
    ("ARS 1.000.000", "over ARS 1,000,000 to a new recipient", True),
    ("90 días", "An MRI is covered after 90 days.", True),            # faithful translation
    ("31 March", "hasta el 31 de marzo de cada año", True),
    ("10 días hábiles", "respondemos en 10 DIAS HABILES", True),      # case and accents
    ("10 días hábiles", "we answer within 10 business days", True),
    ("25", "children up to 250 years", False),                       # not glued to other digits
    ("ARS 79,900", "Vitalia Plus costs ARS 48,500", False),
    ("60 días corridos", "within 60 business days", False),
    ("FS-", "Your customer number looks like FS-0012345.", True),
    ("electronic prescription", "Only electronic prescriptions are accepted.", True),  # a plural ending
    ("receta electrónica", "Solo se aceptan recetas electrónicas.", False),  # not an inflection inside
    ("Plus", "the Plusvalía fee", False),                            # still a whole word
    ("card", "your cardholder number", False),
])
def test_fact_present(fact, reply, found):
    assert fact_present(fact, reply) is found


def _turn(decision, trigger="", department="", reply=""):
    return {"decision": decision, "trigger": trigger, "department": department, "replies": [reply] if reply else [],
            "language_ok": True}


def test_a_premature_handoff_is_wrong_even_with_the_right_trigger():
    row = {"messages": ["a", "b", "c"], "expected": {"outcome": "handoff", "trigger": "negative_sentiment",
                                                     "department": "Member Services", "facts": []}}
    early = scenario_score(row, [_turn("answer", reply="x"), _turn("handoff", "negative_sentiment", "member-services")])
    assert early["premature_handoff"] and not early["correct"] and not early["handoff_on_time"]
    on_time = scenario_score(row, [_turn("answer", reply="x"), _turn("answer", reply="y"),
                                   _turn("handoff", "negative_sentiment", "member-services")])
    assert on_time["correct"] and on_time["department_ok"]  # department by name vs slug
    missed = scenario_score(row, [_turn("answer", reply="x")] * 3)
    assert missed["missed_handoff"] and missed["wrong_answer"] and not missed["correct"]


def test_a_resolved_case_needs_every_fact_in_the_last_answer():
    row = {"messages": ["q"], "expected": {"outcome": "resolved", "trigger": None, "department": None,
                                           "facts": ["ARS 79,900", "UYU 3,890"]}}
    assert scenario_score(row, [_turn("answer", reply="Plus: ARS 79.900; UYU 3.890")])["correct"]
    partial = scenario_score(row, [_turn("answer", reply="Plus: ARS 79.900")])
    assert not partial["correct"] and partial["facts_found"] == [True, False]
    switched = scenario_score(row, [{**_turn("answer", reply="Plus: ARS 79.900; UYU 3.890"), "language_ok": False}])
    assert not switched["correct"] and switched["silent_language_switches"] == 1


def test_dataset_fields_are_validated(tmp_path):
    good = {"id": "a", "language": "es", "messages": ["hola"], "category": "kb",
            "expected": {"outcome": "resolved", "trigger": None, "department": None, "facts": ["x"]}}
    cases = [({**good, "language": "fr"}, "language"),
             ({**good, "expected": {**good["expected"], "trigger": "angry"}}, "expected.trigger"),
             ({**good, "expected": {**good["expected"], "facts": "x"}}, "expected.facts"),
             ({**good, "expected": {"outcome": "handoff", "trigger": "low_confidence", "facts": ["x"]}}, "facts"),
             ({**good, "expected": {**good["expected"], "department": "sales"}}, "resolved")]
    for row, field in cases:
        path = tmp_path / "s.jsonl"
        path.write_text(json.dumps(good) + "\n" + json.dumps({**row, "id": "b"}) + "\n")
        with pytest.raises(ScenarioError, match=rf"line 2: .*{re.escape(field)}"):
            load_scenarios(path)
    path.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    with pytest.raises(ScenarioError, match="duplicate id"):
        load_scenarios(path)


# --- the agent on a business it has never seen -------------------------------------------------------

@pytest.mark.django_db
def test_cross_lingual_answer_quotes_with_a_notice_and_names_its_source(cast, kb_store):
    """A Spanish question whose only source is an English page: the local provider says so in
    Spanish, quotes the English sentence that answers, and names the page."""
    from apps.agent.config import config_import
    from apps.agent.providers import LocalProvider, TurnContext
    from apps.knowledge.services import document_create, document_ingest

    text = (b"# Pharmacy discounts\n\nNetwork pharmacies apply the discount at the counter.\n\n"
            b"## Prescriptions\n\nOnly electronic prescriptions are accepted. Handwritten prescriptions are not "
            b"valid at the counter. A prescription is valid for 30 days.\n\n## Delivery\n\n"
            b"Home delivery costs ARS 1,500 in Buenos Aires.\n")
    doc = document_create(title="Pharmacy discounts", filename="en-pharmacy.md", data=text, language="en",
                          source="kb/en-pharmacy.md")
    document_ingest(document_id=doc.pk)
    config_import({"version": 1, "company_name": "Vitalia",
                   "departments": [{"slug": "member-services", "name": "Member Services", "is_default": True}],
                   "topics": [{"slug": "pharmacy", "name": "Pharmacy", "department": "Member Services",
                               "documents": ["kb/en-pharmacy.md"],
                               "examples": ["pharmacy discount", "descuento en farmacia", "receta"]}]})
    analysis = LocalProvider().analyse(TurnContext(conversation_id=0, language="es", history=[],
                                                   text="¿Aceptan recetas escritas a mano en la farmacia?"))
    assert declares_quote(analysis.answer, "es")
    assert "Only electronic prescriptions are accepted" in analysis.answer
    assert "Home delivery" not in analysis.answer
    assert analysis.answer.endswith("Fuente: Pharmacy discounts")
    assert reply_language_ok(analysis.answer, "es", declared_quote=True)


@pytest.mark.django_db
def test_a_passage_outside_the_guessed_topics_documents_answers_when_it_ranks_above_them(cast, kb_store):
    """The topic is the classifier's guess: its documents are searched first, and a passage of
    another document joins them when it ranks above all of theirs. Documents only a topic the agent
    may not answer uses are never quoted for another topic."""
    from apps.agent.config import config_import
    from apps.agent.providers import LocalProvider, TurnContext
    from apps.knowledge.services import document_create, document_ingest

    pages = {
        "kb/en-pharmacy.md": b"# Pharmacy discounts\n\nNetwork pharmacies apply a 40% discount on prescription "
                             b"medicines at the counter.\n",
        "kb/en-delivery.md": b"# Home delivery of medicines\n\nHome delivery of medicines costs ARS 1,500 in "
                             b"Buenos Aires and arrives within 48 hours.\n",
        "kb/en-fraud-desk.md": b"# Fraud desk\n\nHome delivery of medicines paid with a stolen card: the fraud "
                               b"desk refunds ARS 99,999 to the card holder.\n",
    }
    for source, data in pages.items():
        doc = document_create(title=source, filename=source.split("/")[-1], data=data, language="en", source=source)
        document_ingest(document_id=doc.pk)
    config_import({"version": 1, "company_name": "Vitalia",
                   "departments": [{"slug": "member-services", "name": "Member Services", "is_default": True}],
                   "topics": [{"slug": "pharmacy", "name": "Pharmacy", "department": "Member Services",
                               "documents": ["kb/en-pharmacy.md"],
                               "examples": ["pharmacy discount", "discount on medicines", "descuento en farmacia",
                                            "how much do medicines cost", "medicines"]},
                              {"slug": "fraud", "name": "Fraud", "department": "Member Services",
                               "bot_may_answer": False, "documents": ["kb/en-fraud-desk.md"],
                               "examples": ["someone used my stolen card", "identity theft", "fraude con mi tarjeta"]}]})
    analysis = LocalProvider().analyse(TurnContext(conversation_id=0, language="en", history=[],
                                                   text="How much does home delivery of medicines cost?"))
    assert analysis.topic_slug == "pharmacy"
    assert "ARS 1,500" in analysis.answer and "99,999" not in analysis.answer
    assert analysis.sources[0]["title"] == "kb/en-delivery.md"
    # the topic's own page still answers what it holds
    analysis = LocalProvider().analyse(TurnContext(conversation_id=0, language="en", history=[],
                                                   text="What discount do network pharmacies give?"))
    assert "40% discount" in analysis.answer


@pytest.mark.django_db
def test_documents_empty_means_always_hand_off_and_departments_by_name(fibrasur):
    from apps.agent.config import config_import
    from apps.agent.engine import engine_invalidate
    from apps.agent.evaluation import run_scenario
    from apps.agent.models import AgentSettings, Topic

    config_import({"topics": [{"slug": "plans", "name": "Plans", "department": "Sales", "documents": [],
                               "examples": ["what plans do you have", "how much is the 300 mega plan",
                                            "qué planes tienen", "cuánto sale el plan de 300 megas"]}],
                   "company_name": "FibraSur Norte"})
    engine_invalidate()
    topic = Topic.objects.get(slug="plans")
    assert topic.department.slug == "sales" and topic.answers_from_kb is False
    assert AgentSettings.load().company_name == "FibraSur Norte"
    out = run_scenario({"id": "x", "language": "en", "messages": ["how much is the 300 mega plan?"],
                        "expected": {"outcome": "handoff", "trigger": "low_confidence", "department": "sales"}})
    assert out.outcome == "handoff" and out.trigger == "low_confidence" and out.department == "sales"


@pytest.mark.django_db
def test_kb_ingest_mapping_limits_each_file_to_its_departments(fibrasur, tmp_path):
    from apps.knowledge.models import Document

    folder = tmp_path / "docs"
    (folder / "internal").mkdir(parents=True)
    (folder / "internal" / "collections-notes.md").write_text("# Collections notes\n\nCall debtors after day 10.\n")
    (folder / "public.md").write_text("# Opening hours\n\nWe are open from 9 to 18.\n")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("internal/collections-notes.md: [Collections, sales]\n")
    call_command("kb_ingest", str(folder), "--mapping", str(mapping), "--no-progress")
    notes = Document.objects.get(source="docs/internal/collections-notes.md")
    assert sorted(notes.departments.values_list("slug", flat=True)) == ["collections", "sales"]
    assert not Document.objects.get(source="docs/public.md").departments.exists()
    mapping.write_text("public.md: Ghost team\n")
    with pytest.raises(CommandError, match="unknown department 'Ghost team'"):
        call_command("kb_ingest", str(folder), "--mapping", str(mapping), "--no-progress")
    mapping.write_text("missing.md: sales\n")
    with pytest.raises(CommandError, match="missing.md"):
        call_command("kb_ingest", str(folder), "--mapping", str(mapping), "--no-progress")


def test_readme_thresholds_are_the_shipped_defaults():
    import yaml

    from apps.agent.models import AgentSettings

    readme = (Path(__file__).resolve().parents[2] / "apps" / "agent" / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", readme, re.S).group(1)
    documented = yaml.safe_load(block)["settings"]
    for name, value in documented.items():
        if name == "default_department":
            continue
        assert AgentSettings._meta.get_field(name).default == value, name


def test_fitting_hooks_see_turn_rows_and_return_settings():
    from apps.agent.evaluation.harness import fit_all, fit_confidence_threshold, fit_threshold, fitter_load

    # good items above 0.6, bad below 0.4: the threshold lands between them
    t = fit_threshold([0.2, 0.3, 0.35, 0.7, 0.8, 0.9], [False, False, False, True, True, True])
    assert 0.35 < t <= 0.7
    rows = [{"due": "", "intent": "plans", "facts_ok": True, "scores": {"confidence": c}} for c in (0.8, 0.9)]
    rows += [{"due": "low_confidence", "intent": "plans", "facts_ok": None, "scores": {"confidence": c}} for c in (0.1, 0.2)]
    rows += [{"due": "explicit_request", "intent": "plans", "facts_ok": None, "scores": {"confidence": 0.99}}] * 3
    fitted = fit_confidence_threshold(rows)["confidence_threshold"]
    assert 0.2 < fitted <= 0.8  # the explicit-request turn (another trigger decides it) is ignored
    hook = fitter_load("apps.agent.evaluation.harness:fit_confidence_threshold")
    assert fit_all(rows, [hook, lambda r: {"sentiment_window": 4}]) == {"confidence_threshold": fitted,
                                                                         "sentiment_window": 4}


# --- the learned answer verifier --------------------------------------------------------------------

def _verifier_rows(n: int = 120, seed: int = 3) -> list[dict]:
    """Synthetic selections: the answer holds the facts when the unit is similar *and* states what
    was asked; the other features are noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sim = float(rng.uniform(0.1, 0.9))
        match = float(rng.integers(0, 2))
        label = sim > 0.45 and match == 1.0
        rows.append({"business": "ab"[i % 2], "label": bool(label),
                     "features": {"unit_similarity": sim, "type_match": match, "type_asked": 1.0,
                                  "overlap": float(rng.uniform(0, 1)), "answer_chars": float(rng.integers(40, 400))}})
    return rows


def test_verifier_is_learned_monotonic_and_its_threshold_meets_the_precision_target():
    from apps.agent.compose import verifier_score
    from apps.agent.evaluation.verifier import fit, fit_model, threshold_for_precision

    rows = _verifier_rows()
    model = fit_model(rows)
    base = {"type_asked": 1.0, "type_match": 1.0, "overlap": 0.5, "answer_chars": 120.0}
    scores = [verifier_score({**base, "unit_similarity": s}, model) for s in (0.1, 0.3, 0.5, 0.7, 0.9)]
    assert scores == sorted(scores) and scores[-1] - scores[0] > 0.5  # more similar, more confident
    assert verifier_score({**base, "unit_similarity": 0.8}, model) > \
        verifier_score({**base, "unit_similarity": 0.8, "type_match": 0.0}, model)
    # the threshold: the lowest whose answers hold their facts >= 95% of the time
    t = threshold_for_precision([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3], [1, 1, 1, 1, 1, 0, 0], target=0.95, min_answers=2)
    assert 0.4 < t <= 0.5
    assert threshold_for_precision([0.9, 0.8, 0.7], [0, 0, 1], target=0.95, min_answers=1) > 0.9  # none good enough
    model, threshold, info = fit(rows, target=0.9)  # the former rule: a raw threshold for a precision
    given = [r for r in rows if verifier_score(r["features"], model) >= threshold]
    assert given and sum(r["label"] for r in given) / len(given) >= 0.9
    assert info["business_rows"] == len(rows)


def test_shipped_verifier_threshold_is_the_default_and_an_override_is_used_while_active():
    from apps.agent.compose import Selection, answer_confidence, verifier_load, verifier_use
    from apps.agent.models import AgentSettings

    shipped = verifier_load()
    assert AgentSettings._meta.get_field("confidence_threshold").default == shipped["threshold"]
    answering = {"unit_similarity": 0.7, "unit_score": 1.0, "overlap": 0.8, "idf_overlap": 0.8, "own_overlap": 0.7,
                 "hit_score": 0.7, "top_hit_score": 0.7, "hit_margin": 0.1, "chunk_margin": 0.2, "unit_margin": 0.2,
                 "rank": 0.0, "type_asked": 1.0, "type_match": 1.0, "same_language": 1.0, "question_words": 4.0,
                 "answer_chars": 150.0}
    loose = {**answering, "unit_similarity": 0.2, "unit_score": 0.25, "overlap": 0.1, "idf_overlap": 0.1,
             "own_overlap": 0.0, "hit_score": 0.3, "top_hit_score": 0.3, "type_match": 0.0}
    hit = SearchHit(chunk_id=1, document_id=1, document_title="t", heading="", text="x", score=0.5, language="en")

    def selection(features):
        return Selection(text="x", hit=hit, unit_score=0.0, similarity=0.0, overlap=0.0, language="en",
                         features=features)

    assert answer_confidence(selection(answering)) > answer_confidence(selection(loose))
    # an unknown case number in the question makes the answer less likely to be the one asked for
    assert answer_confidence(selection(answering), unknown_terms=1) <= answer_confidence(selection(answering))
    constant = {"features": ["unit_similarity"], "mean": [0.0], "scale": [1.0], "coef": [0.0], "intercept": 0.0,
                "threshold": 0.5}
    with verifier_use(constant):
        assert answer_confidence(selection(answering)) == pytest.approx(0.5)
    assert answer_confidence(selection(answering)) != pytest.approx(0.5)


def test_a_spanish_question_prefers_the_spanish_passage_of_a_bilingual_page():
    en = SearchHit(chunk_id=987101, document_id=1, document_title="Warranty", heading="", language="en", score=0.6,
                   text="Refurbished phones have a 6-month warranty.")
    es = SearchHit(chunk_id=987102, document_id=2, document_title="Garantía", heading="", language="es", score=0.6,
                   text="Los teléfonos reacondicionados tienen 6 meses de garantía.")
    words: dict[str, int] = {}

    def embed(texts):  # every passage alike; single words (the translation check) each their own
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for n, text in enumerate(texts):
            if " " in text:
                out[n, :4] = 0.5
            else:
                out[n, 4 + words.setdefault(text, len(words)) % 60] = 1.0
        return out

    vector = np.zeros(64, dtype=np.float32)
    vector[:4] = 0.5
    for hits in ([en, es], [es, en]):
        chosen = select_answer("¿Cuánta garantía tiene un teléfono reacondicionado?", vector, hits, language="es",
                               embed=embed)
        assert chosen.language == "es" and "6 meses" in chosen.text
        assert chosen.features["same_language"] == 1.0
    chosen = select_answer("How long is the warranty of a refurbished phone?", vector, [es, en], language="en",
                           embed=embed)
    assert chosen.language == "en" and chosen.features["same_language"] == 1.0


def test_the_customer_reads_the_copy_in_their_language_when_the_other_copy_wins():
    """Both copies of a bilingual FAQ entry, the Spanish one ranked first by a hair (en-010, "Can I move
    to a faster plan?", was quoted in Spanish under "our help pages only have this in Spanish"): the
    answer is the English copy (a unit close to the winner in the encoder's space, stating the same
    figures), judged as the winner was. A passage that only resembles it (other figures) is no copy."""
    es = SearchHit(chunk_id=987201, document_id=1, document_title="Preguntas frecuentes", heading="¿Puedo subir de plan?",
                   language="es", score=0.52,
                   text="Q: ¿Puedo subir de plan?\nA: Sí, en cualquier momento. El cambio se aplica en menos de 2 horas.")
    en = SearchHit(chunk_id=987202, document_id=2, document_title="Frequently asked questions",
                   heading="Can I upgrade my plan?", language="en", score=0.50,
                   text="Q: Can I upgrade my plan?\nA: Yes, at any time. The change takes effect within 2 hours.")
    other = SearchHit(chunk_id=987203, document_id=2, document_title="Frequently asked questions",
                      heading="How long does installation take?", language="en", score=0.49,
                      text="Q: How long does installation take?\nA: Installation takes 3 hours.")
    question = "Can I move to a faster plan and when does it apply?"
    vector = np.array([1.0, 0.0, 0.0], dtype=np.float32)

    def embed(texts):  # the Spanish copy closest to the question; its English copy 0.81 from it
        rows = []
        for t in texts:
            if "cambio se aplica" in t:
                rows.append([0.9, 0.4359, 0.0])
            elif "takes effect" in t:
                rows.append([0.8, 0.2, 0.5657])
            elif "Installation takes" in t:
                rows.append([0.8, 0.6, 0.0])  # closer to the winner than the copy (0.98), other figures
            else:
                rows.append([0.1, 0.0, 0.995])
        return np.array(rows, dtype=np.float32)

    picked = select_answer(question, vector, [es, en, other], language="en", embed=embed, ranker={"none": True},
                           params={"extra_units": 0, "translation_cosine": 0.0})
    assert picked.language == "es" and "2 horas" in picked.text  # without the preference: the Spanish copy
    chosen = select_answer(question, vector, [es, en, other], language="en", embed=embed, ranker={"none": True},
                           params={"extra_units": 0})
    assert chosen.language == "en" and "within 2 hours" in chosen.text and "Installation" not in chosen.text
    assert chosen.hit.chunk_id == 987202
    assert chosen.features == picked.features  # judged as the match the ranker chose


def test_the_copy_in_the_customers_language_is_looked_for_when_the_search_did_not_find_it():
    """A bilingual knowledge base holds most pages twice, but the question's own search can miss the
    copy in the customer's language ("¿cuánto sale el plan de 300?" matched the English plans page's
    words and no Spanish chunk of that section): the copy is then looked for near the chosen unit
    (``copies``), and shown, judged as the match the ranker chose. A passage near it that states other
    figures is no copy, and an answer already in the customer's language searches nothing."""
    en = SearchHit(chunk_id=987301, document_id=2, document_title="Plans and prices", heading="Business plans",
                   language="en", score=0.5,
                   text="Fibra Pyme 300 costs $32,000 per month plus VAT and includes a static IP.")
    es_copy = SearchHit(chunk_id=987302, document_id=1, document_title="Planes y precios", heading="Planes pyme",
                        language="es", score=0.3,
                        text="Fibra Pyme 300 cuesta $32.000 por mes más IVA e incluye IP fija.")
    es_other = SearchHit(chunk_id=987303, document_id=1, document_title="Planes y precios", heading="Planes hogar",
                         language="es", score=0.3, text="Fibra 300 cuesta $19.900 por mes con IVA incluido.")
    vector = np.array([1.0, 0.0, 0.0], dtype=np.float32)

    def embed(texts):  # the copy 0.8 from the English unit; the other Spanish plan closer (0.95), other figures
        return np.array([[0.9, 0.4359, 0.0] if "static IP" in t else [0.8, 0.0, 0.6] if "IP fija" in t
                         else [0.95, 0.3122, 0.0] if "19.900" in t else [0.0, 0.0, 1.0] for t in texts],
                        dtype=np.float32)

    asked = []

    def copies(unit_vector, found=(es_other, es_copy)):
        asked.append(np.asarray(unit_vector, dtype=float).round(4).tolist())
        return list(found)

    question = "¿cuánto sale el plan pyme de 300?"
    alone = select_answer(question, vector, [en], language="es", embed=embed, ranker={"none": True},
                          params={"extra_units": 0})
    assert alone.language == "en"  # the quote, under a notice, when no copy is looked for
    chosen = select_answer(question, vector, [en], language="es", embed=embed, ranker={"none": True},
                           params={"extra_units": 0}, copies=copies)
    assert asked == [[0.9, 0.4359, 0.0]]  # looked for near the chosen unit
    assert chosen.language == "es" and chosen.hit.chunk_id == 987302 and "$32.000" in chosen.text
    assert chosen.hit.score == 0.5  # it stands for the passage chosen: that passage's retrieval score
    assert "19.900" not in chosen.text
    assert chosen.features == alone.features  # judged as the match the ranker chose
    none = select_answer(question, vector, [en], language="es", embed=embed, ranker={"none": True},
                         params={"extra_units": 0}, copies=lambda v: copies(v, found=(es_other,)))
    assert none.language == "en" and none.text == alone.text
    asked.clear()
    select_answer(question, vector, [es_copy], language="es", embed=embed, ranker={"none": True}, copies=copies)
    assert asked == []


@pytest.mark.django_db
def test_the_demo_answers_a_spanish_price_question_in_spanish(fibrasur):
    """"¿cuánto sale el plan de 300?" on the demo: its search finds the English plans page's sentence
    first, and the Spanish page holds the same sentence; the customer reads the Spanish one, with no
    notice that the help pages only have it in English."""
    from apps.agent.providers import LocalProvider, TurnContext

    analysis = LocalProvider().analyse(TurnContext(conversation_id=0, language="es", history=[],
                                                   text="¿cuánto sale el plan de 300?"))
    assert analysis.answer and "$32.000" in analysis.answer
    assert "inglés" not in analysis.answer and "Fuente: Planes y precios de FibraSur" in analysis.answer


@pytest.mark.parametrize("before, leaning", [
    ("Replacing a router needs a new unit from the warehouse.", "It costs $12,000 when the customer caused the damage."),
    # a place named before it: "there" is Punta Alta, not wherever the passage is about
    ("There is no coverage in Punta Alta or Monte Hermoso.", "A technician visit cannot be booked there."),
    ("No hay cobertura en Punta Alta ni en Monte Hermoso.", "Una visita técnica no se puede pedir allí."),
])
def test_a_sentence_that_leans_on_the_one_before_it_is_never_supplementary_alone(before, leaning):
    """"It costs $12,000 when the customer caused the damage" after a passage about something else reads
    as the price of that something: a sentence opening with "it", "this", "esto"... or ending on a place
    named before it ("there", "allí") joins the answer only with the sentence it leans on."""
    passage = SearchHit(chunk_id=987401, document_id=7, document_title="Technician visits", heading="Visits",
                        language="en", score=0.6, text="A technician visit is free when the fault is ours.")
    other = SearchHit(chunk_id=987402, document_id=7, document_title="Technician visits", heading="Other",
                      language="en", score=0.5, text=f"{before} {leaning}")

    def embed(texts):
        return np.array([[1.0, 0.0] if "visit is free" in t else [0.9, 0.436] if leaning in t else [0.1, 0.995]
                         for t in texts], dtype=np.float32)

    chosen = select_answer("How much does a technician visit cost?", np.array([1.0, 0.0], dtype=np.float32),
                           [passage, other], language="en", embed=embed, ranker={"none": True})
    assert chosen.text.startswith("A technician visit is free when the fault is ours.")
    assert leaning not in chosen.text, chosen.text


def test_a_list_from_another_section_joins_the_answer_with_its_lead_in():
    """A supplementary list shows what it is a list of: five neighbourhoods of partial coverage added
    under "the service moves with you" without "Installation can take up to 7 business days:" read as
    the places it moves to."""
    passage = SearchHit(chunk_id=987501, document_id=8, document_title="Coverage", heading="Moving house",
                        language="en", score=0.6, text="If you move within the coverage area, the service moves with you.")
    other = SearchHit(chunk_id=987502, document_id=8, document_title="Coverage", heading="Partial coverage",
                      language="en", score=0.5,
                      text="Most blocks have the network. Installation can take up to 7 business days:\n\n"
                           "- Villa Rosas\n- Patagonia\n- Noroeste")

    def embed(texts):
        return np.array([[1.0, 0.0] if "moves with you" in t else [0.9, 0.436] if t in ("Villa Rosas", "Patagonia", "Noroeste")
                         else [0.1, 0.995] for t in texts], dtype=np.float32)

    chosen = select_answer("Can I move the service?", np.array([1.0, 0.0], dtype=np.float32), [passage, other],
                           language="en", embed=embed, ranker={"none": True})
    lines = chosen.text.splitlines()
    assert lines[0] == "If you move within the coverage area, the service moves with you.", chosen.text
    assert "- Villa Rosas" in lines, chosen.text
    assert lines[lines.index("- Villa Rosas") - 1] == "Installation can take up to 7 business days:", chosen.text


def test_a_list_from_another_section_with_no_lead_in_joins_under_its_heading():
    """"¿Cómo pido un reintegro?" got the three steps and then, as a supplementary list, "Tratamientos
    estéticos... Medicamentos..." with nothing to say they are what is *not* reimbursed: read as more
    steps. A list of another section with no lead-in of its own comes under its section's heading."""
    passage = SearchHit(chunk_id=987601, document_id=9, document_title="Reintegros", heading="Reintegros › Cómo pedirlo",
                        language="es", score=0.6, text="1. Entra en la app Mi Vitalia.\n2. Envía la solicitud con la factura.")
    other = SearchHit(chunk_id=987602, document_id=9, document_title="Reintegros",
                      heading="Reintegros › Qué no se reintegra", language="es", score=0.5,
                      text="- Tratamientos estéticos.\n- Medicamentos.\n- Lo que recibas durante una carencia.")

    def embed(texts):
        return np.array([[1.0, 0.0] if "Envía la solicitud" in t or "Mi Vitalia" in t else [0.9, 0.436] if t.endswith("estéticos.")
                         or t in ("Medicamentos.", "Lo que recibas durante una carencia.") else [0.1, 0.995]
                         for t in texts], dtype=np.float32)

    chosen = select_answer("¿Cómo pido un reintegro?", np.array([1.0, 0.0], dtype=np.float32), [passage, other],
                           language="es", embed=embed, ranker={"none": True})
    lines = chosen.text.splitlines()
    assert lines[:2] == ["- Entra en la app Mi Vitalia.", "- Envía la solicitud con la factura."], chosen.text
    assert "- Medicamentos." in lines, chosen.text
    assert lines[lines.index("- Tratamientos estéticos.") - 1] == "Qué no se reintegra:", chosen.text


def test_sentences_sharing_no_word_with_the_knowledge_base_are_left_out_of_an_upset_question():
    from apps.agent.compose import question_focus

    vocabulary = {"long", "tarda", "pagarse", "reintegro", "semanas", "reconnection", "fee", "went", "prices", "raise"}
    assert question_focus("Estoy harta!!! cuanto tarda en pagarse un reintegro?? ya pasaron 2 semanas",
                          vocabulary) == "cuanto tarda en pagarse un reintegro?? ya pasaron 2 semanas"
    assert question_focus("This is a joke!!! I'm furious. How much is the reconnection fee??",
                          vocabulary) == "How much is the reconnection fee??"
    # nothing to leave out: one sentence, or every sentence (or none) shares a word with the pages
    assert question_focus("How much is the reconnection fee??", vocabulary) == "How much is the reconnection fee??"
    assert question_focus("Unbelievable!!! Useless!!!", vocabulary) == "Unbelievable!!! Useless!!!"
    assert question_focus("My fee went up. Why do you raise prices?", vocabulary) == "My fee went up. Why do you raise prices?"
    assert question_focus("Estoy harta!!! cuanto tarda?", None) == "Estoy harta!!! cuanto tarda?"  # no knowledge base yet


def test_an_exclamation_opening_an_upset_sentence_is_left_out_too():
    """"La puta madre, la heladera vino abollada...": a short leading clause that shares no word with the
    pages goes with the venting; a leading clause that asks ("When does it arrive, and...") stays."""
    from apps.agent.compose import question_focus

    vocabulary = {"heladera", "repartidor", "abollada", "paid", "transfer", "order", "arrive", "payments"}
    assert question_focus("La puta madre, la heladera vino abollada y el repartidor ya se fue. ¿Y ahora qué carajo hago?",
                          vocabulary) == "la heladera vino abollada y el repartidor ya se fue."
    assert question_focus("For God's sake, I paid by bank transfer and you CANCELLED the order?",
                          vocabulary) == "I paid by bank transfer and you CANCELLED the order?"
    assert question_focus("When does it arrive, and can I take payments meanwhile??", vocabulary) == \
        "When does it arrive, and can I take payments meanwhile??"
    assert question_focus("Hey, the order?", vocabulary) == "the order?"


@pytest.mark.django_db
@pytest.mark.parametrize("upset, calm", [
    ("This is a joke!!! I'm furious. How much is the reconnection fee??", "How much is the reconnection fee??"),
    ("Unbelievable!!! Useless!!! What is the phone number for claims??", "What is the phone number for claims??"),
])
def test_venting_around_a_question_does_not_change_its_answer(fibrasur, upset, calm):
    """An upset customer's question gets the passage and the confidence the same question gets asked
    calmly: the venting sentences (words the help pages never use) are not searched with it."""
    from apps.agent.providers import LocalProvider, TurnContext

    def analyse(text):
        return LocalProvider().analyse(TurnContext(conversation_id=0, language="en", history=[], text=text))

    angry, plain = analyse(upset), analyse(calm)
    assert angry.extra["frustration"] >= 0.5
    assert angry.answer == plain.answer
    assert abs(angry.confidence - plain.confidence) < 0.02


def test_the_focus_splits_sentences_at_runs_of_marks_without_breaking_them():
    from apps.agent.compose import question_focus

    vocabulary = {"reintegro", "tarda"}
    assert question_focus("Estoy harta!!!cuanto tarda un reintegro??", vocabulary) == "cuanto tarda un reintegro??"
    # every sentence shares a word with the pages: the message is kept as written, marks included
    assert question_focus("Reintegro!!! Cuanto tarda??", vocabulary) == "Reintegro!!! Cuanto tarda??"


def test_a_list_item_that_supplements_a_passage_brings_its_whole_list_in_order():
    """Two items of a four-item list as supplementary units ("- Anything else: 5 business days.",
    "- Slow or intermittent service: 48 hours.") answered "How long do you take to answer a claim?"
    with half the list, backwards: a list item brings its whole list, in the page's order, when it fits."""
    passage = SearchHit(chunk_id=987501, document_id=7, document_title="How to file a claim", heading="Claims",
                        language="en", score=0.6, text="You receive the claim number by email when the claim is recorded.")
    times = SearchHit(chunk_id=987502, document_id=7, document_title="How to file a claim",
                      heading="Claims › Response times", language="en", score=0.5,
                      text="- Technical fault with no service: 24 hours.\n- Slow or intermittent service: 48 hours.\n"
                           "- Billing: 10 business days.\n- Anything else: 5 business days.")

    def embed(texts):
        return np.array([[1.0, 0.0] if "claim number" in t else [0.9, 0.436] if "Anything else" in t
                         else [0.85, 0.527] if "Slow or" in t else [0.1, 0.995] for t in texts], dtype=np.float32)

    chosen = select_answer("How long do you take to answer a claim?", np.array([1.0, 0.0], dtype=np.float32),
                           [passage, times], language="en", embed=embed, ranker={"none": True})
    assert chosen.text.startswith("You receive the claim number"), chosen.text
    items = [chosen.text.find(s) for s in ("- Technical fault", "- Slow or", "- Billing", "- Anything else")]
    assert -1 not in items and items == sorted(items), chosen.text
    # the verifier still reads the passage the ranker chose, not the list that supplements it
    assert chosen.features["answer_chars"] == len(passage.text)


def test_an_item_of_the_passages_own_list_is_shown_in_its_place_in_the_list():
    """The passage is two items of a list and a third item supplements it: the three in the page's
    order ("Fibra 100", "Fibra 300", "Fibra 600"), not the first one appended after the others."""
    plans = SearchHit(chunk_id=987601, document_id=8, document_title="Plans and prices", heading="Plans",
                      language="en", score=0.6,
                      text="- Fibra 100 costs $14,900 per month.\n- Fibra 300 costs $19,900 per month.\n"
                           "- Fibra 600 costs $26,500 per month.\n- Fibra 1000 costs $34,900 per month.")

    def embed(texts):
        return np.array([[1.0, 0.0] if "Fibra 600" in t else [0.95, 0.312] if "Fibra 300" in t
                         else [0.9, 0.436] if "Fibra 100 " in t else [0.1, 0.995] for t in texts], dtype=np.float32)

    chosen = select_answer("How much is Fibra 600?", np.array([1.0, 0.0], dtype=np.float32), [plans],
                           language="en", embed=embed, params={"span": 2, "extra_units": 1}, ranker={"none": True})
    shown = [chosen.text.find(f"- Fibra {n} costs") for n in (100, 300, 600)]
    assert -1 not in shown and shown == sorted(shown), chosen.text
    assert "Fibra 1000" not in chosen.text, chosen.text


@pytest.mark.django_db
@pytest.mark.parametrize("question, language", [
    ("What plans do you have?", "en"), ("Which plans do you offer?", "en"), ("¿Qué planes tienen?", "es"),
])
def test_a_list_question_is_answered_with_the_whole_list_of_the_section_it_names(fibrasur, question, language):
    """"What plans do you have?" names the section "Home internet plans" (the four plans), which the
    search missed: short FAQ entries that merely mention plans outranked it, and the demo answered "You
    can upgrade at any time at no cost" / "Todos los planes son sin límite de datos". The answer is the
    section's table, the four plans in order (its described list would not fit), and nothing else."""
    from apps.agent.providers import LocalProvider, TurnContext

    analysis = LocalProvider().analyse(TurnContext(conversation_id=0, language=language, history=[], text=question))
    body = analysis.answer.split("\n\n")[0]
    assert re.findall(r"Fibra (\d+)\b", body) == ["100", "300", "600", "1000"], analysis.answer
    assert all(line.startswith("- Fibra ") for line in body.splitlines()), analysis.answer
    assert analysis.sources and "plan" in analysis.sources[0]["title"].lower()


@pytest.mark.django_db
def test_only_a_list_question_is_given_the_section_its_words_name(fibrasur):
    from apps.agent.compose import listed_section, listed_things
    from apps.agent.providers import embed, topic_documents
    from apps.knowledge.models import Chunk

    # what is asked to be listed is named in the plural, as the section that lists it: "Changing plan" or
    # "What each plan includes" (a list about one plan) is not the list of plans
    assert listed_things("What plans do you have?") == {"plans"}
    assert listed_things("¿Qué medios de pago aceptan?") == {"medios"}
    assert listed_things("What add-ons do you offer?") == {"add-ons"}

    documents = topic_documents("plans")
    for question in ("What plans do you have?", "Which plans do you offer?", "¿Qué planes tienen?"):
        hits, section = listed_section([], embed([question])[0], question=question, document_ids=documents,
                                       departments=[])
        chunk = Chunk.objects.get(pk=section)
        assert chunk.heading.split("›")[-1].strip() in ("Home internet plans", "Planes de internet para el hogar")
        assert [h.chunk_id for h in hits] == [section]
    # not a question for a list, and not a list question whose words name no section with a list
    for question in ("How much does the 300 plan cost?", "What colours do you have?"):
        assert listed_section([], embed([question])[0], question=question, document_ids=documents,
                              departments=[]) == ([], None), question
    # a turn with no topic: among every document the answer may quote ("What add-ons do you offer?" read
    # as no topic got the billing page's "an add-on you did not order" instead of the plans page's add-ons)
    hits, section = listed_section([], embed(["What add-ons do you offer?"])[0], question="What add-ons do you offer?",
                                   document_ids=None, departments=[])
    assert Chunk.objects.get(pk=section).heading.split("›")[-1].strip() == "Add-ons"


@pytest.mark.django_db
@pytest.mark.parametrize("question, language, headings", [
    ("Which neighbourhoods do you cover?", "en",
     ["Neighbourhoods with full coverage.", "Neighbourhoods with partial coverage."]),
    ("¿Qué barrios cubren?", "es", ["Barrios con cobertura total.", "Barrios con cobertura parcial."]),
])
def test_a_list_question_several_sections_of_a_page_answer_gets_each_list_under_its_heading(
        fibrasur, question, language, headings):
    """"Which neighbourhoods do you cover?" names two sections of the coverage page ("Neighbourhoods
    with full coverage", "... with partial coverage"); the demo answered with the partial list alone,
    which reads as the only neighbourhoods covered (Centro missing). Each list under its heading, in
    the page's order; the sections that do not name neighbourhoods ("Coming soon") stay out."""
    from apps.agent.providers import LocalProvider, TurnContext

    analysis = LocalProvider().analyse(TurnContext(conversation_id=0, language=language, history=[], text=question))
    lines = analysis.answer.split("\n\n")[0].splitlines()
    labels = [line for line in lines if not line.startswith("- ")]
    assert [label.split(". ")[0] + "." for label in labels] == headings, analysis.answer
    items = [line[2:] for line in lines if line.startswith("- ")]
    assert items[0].startswith("Centro") and items[8] == "Bella Vista" and items[9].startswith("Villa Rosas"), items
    assert len(items) == 14 and lines.index(labels[1]) == 10, analysis.answer
    assert "Cerri" not in analysis.answer and "Grünbein" not in analysis.answer


def test_an_exception_is_shown_with_the_table_it_is_an_exception_to():
    """"How long does the physical card take to get to Córdoba?" picked "Exception: deliveries to Tierra
    del Fuego ... take up to 15 business days." alone: the delivery times by region it is an exception to
    come first, whole and in order."""
    chunk = ("Order it in Card > Order physical card.\n\n| Destination | Delivery time |\n|---|---|\n"
             "| Argentina: AMBA | 3–5 business days |\n| Argentina: rest of the country | 5–10 business days |\n\n"
             "Exception: deliveries to Tierra del Fuego take up to 15 business days.")
    shown = _select_flat("How long do deliveries to Córdoba take?", chunk, "Ordering and delivery", {"span": 1})
    assert shown.splitlines() == ["- Argentina: AMBA — Delivery time: 3–5 business days",
                                  "- Argentina: rest of the country — Delivery time: 5–10 business days",
                                  "Exception: deliveries to Tierra del Fuego take up to 15 business days."], shown
    # an exception with no list or table before it stays as it is
    plain = "Deliveries take 5 business days.\n\nException: deliveries to Tierra del Fuego take up to 15 business days."
    assert _select_flat("How long do deliveries to Tierra del Fuego take?", plain, "", {"span": 1}).startswith("Exception")


def test_a_long_word_matches_its_inflections_not_every_word_sharing_five_letters():
    """"¿Por qué no me anda el contactless?" matched "Contactamos a la entidad de destino" (the first
    five letters, "conta"), which then outranked the page on contactless payments."""
    from apps.agent.compose import _overlap, inflection_of

    assert _overlap({"contactless"}, "Contactamos a la entidad de destino dentro de los 2 días hábiles.") == 0.0
    assert _overlap({"contactless"}, "Contactless payments are enabled after your first purchase.") == 1.0
    for word, other in (("transfer", "transferencia"), ("autorizacion", "autorizaciones"), ("cancel", "cancellation"),
                        ("payment", "payments"), ("consultation", "consulta"), ("demora", "demoran")):
        assert inflection_of(word, other), (word, other)
    for word, other in (("contactless", "contactamos"), ("service", "servidor"), ("consulta", "consumo")):
        assert not inflection_of(word, other), (word, other)


@pytest.mark.django_db
def test_a_named_list_longer_than_a_passage_is_shown_whole_within_a_whole_answers_length(fibrasur):
    """The six ways to pay (about 520 characters) do not fit one passage (420) but fit a whole answer
    with its supplementary units (600): "What payment methods do you accept?" got the sentence on when
    payments are credited and one item of the list."""
    from apps.agent.providers import LocalProvider, TurnContext

    analysis = LocalProvider().analyse(TurnContext(conversation_id=0, language="en", history=[],
                                                   text="What payment methods do you accept?"))
    lines = analysis.answer.split("\n\n")[0].splitlines()
    assert [line.split()[1] for line in lines] == ["Direct", "Debit", "Mercado", "Bank", "Cash", "At"], analysis.answer
