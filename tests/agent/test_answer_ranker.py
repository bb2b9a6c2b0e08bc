"""The answer ranker (which candidate unit becomes the answer), the supplementary unit of the same
document, and the leave-one-business-out protocol of the ranker."""
from __future__ import annotations

import numpy as np
import pytest

from apps.agent import compose
from apps.agent.compose import ranker_use, select_answer, unit_candidates
from apps.agent.evaluation import harness
from apps.agent.evaluation.ranker import fit_ranker
from apps.knowledge.search import SearchHit


def _flat_embed(texts):
    return np.ones((len(texts), 4), dtype=np.float32) / 2.0


VECTOR = np.ones(4, dtype=np.float32) / 2.0
TOPICAL = SearchHit(chunk_id=988001, document_id=1, document_title="Plans", heading="Monthly fee", language="en",
                    score=0.62, text="The monthly fee of every plan is shown in the app and on your invoice.")
FIGURE = SearchHit(chunk_id=988002, document_id=2, document_title="Prices", heading="Plus", language="en",
                   score=0.55, text="Plus costs ARS 79,900.")


def _rows(business: str, n: int = 30) -> list[dict]:
    """Labelled turns where the candidate stating a figure holds the facts and the topical one does
    not, though the topical one has the higher hand-set score."""
    rows = []
    for k in range(n):
        lift = 0.01 * (k % 5)
        rows.append({"business": business, "candidates": [
            {"features": {"hand_score": 0.80 + lift, "hand_gap": 0.0, "has_figure": 0.0}, "label": False},
            {"features": {"hand_score": 0.74 + lift, "hand_gap": -0.06, "has_figure": 1.0}, "label": True},
            {"features": {"hand_score": 0.30, "hand_gap": -0.5, "has_figure": 1.0}, "label": False}]})
    return rows


def test_the_learned_ranker_picks_the_unit_holding_the_figure_over_a_topical_one():
    question = "How much is the monthly fee of Plus?"
    with ranker_use({"none": True}):  # the hand-set score prefers the topical unit
        hand = select_answer(question, VECTOR, [TOPICAL, FIGURE], language="en", embed=_flat_embed,
                             params={"extra_units": 0})
    assert "79,900" not in hand.text
    model = fit_ranker(_rows("A") + _rows("B"))
    assert model["coef"][model["features"].index("has_figure")] > 0
    learned = select_answer(question, VECTOR, [TOPICAL, FIGURE], language="en", embed=_flat_embed,
                            params={"extra_units": 0, "main_by": "ranker"}, ranker=model)
    assert learned.text == "Plus costs ARS 79,900."
    assert learned.features["ranker_margin"] > 0


def test_the_ranker_picks_the_supplementary_unit_that_states_the_figure():
    # one document, three sections: the passage, a topical sentence, the figure
    def hit(chunk_id, heading, text, score):
        return SearchHit(chunk_id=chunk_id, document_id=9, document_title="Plans", heading=heading, language="en",
                         score=score, text=text)

    passage = hit(988101, "Plus fee", "The Plus plan fee is charged every month.", 0.7)
    topical = hit(988102, "Plus fee changes", "The Plus fee changes with the plan you choose.", 0.6)
    figure = hit(988103, "Prices", "Plus costs ARS 79,900.", 0.5)
    question = "How much is the Plus plan fee?"
    hits = [passage, topical, figure]
    with ranker_use({"none": True}):
        hand = select_answer(question, VECTOR, hits, language="en", embed=_flat_embed, params={"extra_units": 1})
    assert hand.text.startswith(passage.text) and "79,900" not in hand.text
    model = fit_ranker(_rows("A") + _rows("B"))
    with ranker_use(model):
        learned = select_answer(question, VECTOR, hits, language="en", embed=_flat_embed,
                                params={"extra_units": 1, "main_by": "hand"})
    assert learned.text == f"{passage.text} {figure.text}"
    assert learned.features["answer_chars"] == len(passage.text)  # the verifier reads the passage
    # shipped (main_by "ranker"): the ranker's pick is the passage itself, the verifier reads it
    with ranker_use(model):
        shipped = select_answer(question, VECTOR, hits, language="en", embed=_flat_embed, params={"extra_units": 1})
    assert shipped.text.startswith(figure.text) and shipped.features["answer_chars"] == len(figure.text)


def test_fit_ranker_needs_labelled_candidates():
    assert fit_ranker([{"business": "A", "candidates": None}]) is None
    assert fit_ranker([{"business": "A", "candidates": [{"features": {"hand_score": 1.0}, "label": False}]}]) is None


def test_candidates_carry_gaps_to_the_best_and_the_figure_flag():
    candidates, chunks = unit_candidates("How much is Plus?", VECTOR, [TOPICAL, FIGURE], language="en",
                                         embed=_flat_embed)
    assert len(chunks) == 2 and len(candidates) == 2
    assert max(c["features"]["hand_gap"] for c in candidates) == 0.0
    by_text = {chunks[c["chunk"]][2][c["unit"]].text: c["features"] for c in candidates}
    assert by_text["Plus costs ARS 79,900."]["has_figure"] == 1.0
    assert by_text[TOPICAL.text]["has_figure"] == 0.0


def test_the_next_best_unit_of_the_same_document_joins_a_short_answer():
    page = SearchHit(chunk_id=988010, document_id=7, document_title="Cancelling", heading="Cancelling", language="en",
                     score=0.6, text="You can cancel your plan at any time in the app.")
    same_doc = SearchHit(chunk_id=988011, document_id=7, document_title="Cancelling", heading="Changing your mind",
                         language="en", score=0.5,
                         text="You can withdraw a cancellation until the day before it takes effect.")
    other_doc = SearchHit(chunk_id=988012, document_id=8, document_title="Fees", heading="Fees", language="en",
                          score=0.55, text="Cancelling a card costs nothing.")
    question = "Can I cancel my plan at any time?"
    with ranker_use({"none": True}):
        one = select_answer(question, VECTOR, [page, other_doc, same_doc], language="en", embed=_flat_embed,
                            params={"extra_units": 0})
        two = select_answer(question, VECTOR, [page, other_doc, same_doc], language="en", embed=_flat_embed)
        short = select_answer(question, VECTOR, [page, other_doc, same_doc], language="en", embed=_flat_embed,
                              params={"extra_chars": 60})
    assert one.text == page.text
    assert two.text == f"{page.text} {same_doc.text}"        # not the other document's unit
    assert "Cancelling a card" not in two.text
    assert short.text == page.text                            # over the length budget: the passage alone


def test_leave_one_out_never_ranks_a_business_with_a_ranker_that_saw_it(monkeypatch):
    class B:
        def __init__(self, name):
            self.name = name

    businesses = [B("A"), B("B"), B("C")]
    seen_by_ranker: list[set] = []

    def ranker_fitter(rows):
        names = {r["business"] for r in rows}
        seen_by_ranker.append(names)
        return {"features": ["hand_score"], "mean": [0.0], "scale": [1.0], "coef": [1.0], "intercept": 0.0,
                "saw": sorted(names)}

    scored_under: dict[tuple, list] = {}

    def turn_rows(business, *, provider=None, rankers=None):
        out = {}
        for label, model in (rankers or {"": None}).items():
            scored_under[(business.name, label)] = (model or {}).get("saw", "hand" if model else None)
            out[label] = [{"business": business.name, "candidates": [{"features": {"hand_score": 1.0}, "label": True},
                                                                     {"features": {"hand_score": 0.0}, "label": False}],
                           "ranked_by": (model or {}).get("saw")}]
        return out

    verifier_rows: dict[str, list] = {}

    def verifier_fitter(rows):
        verifier_rows[current[0]] = rows
        return {}

    current = [""]
    evaluated: dict[str, list] = {}

    def evaluate_business(business, **kw):
        evaluated[business.name] = compose.ranker_load()["saw"]
        return {"summary": {}}

    monkeypatch.setattr(harness, "business_turn_rows", turn_rows)
    monkeypatch.setattr(harness, "evaluate_business", evaluate_business)
    original_fit_all = harness.fit_all

    def fit_all(rows, fitters):
        current[0] = next(b.name for b in businesses if b.name not in {r["business"] for r in rows})
        return original_fit_all(rows, fitters)

    monkeypatch.setattr(harness, "fit_all", fit_all)
    harness.leave_one_out(businesses, fitters=[verifier_fitter], ranker_fitter=ranker_fitter)
    for name in "ABC":
        assert name not in evaluated[name]                          # the ranker it is run with
        rows = verifier_rows[name]
        assert {r["business"] for r in rows} == set("ABC") - {name}
        for r in rows:                                               # the verifier's rows: ranked without it
            assert name not in r["ranked_by"] and r["business"] not in r["ranked_by"]
