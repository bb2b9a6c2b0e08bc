"""The answer confidence: the verifier's Platt calibration fitted on held-out businesses (never on
the business it is reported on), the expected-utility threshold on the calibrated probability, and
the hedged band under it (the passage with an offer of a person instead of a handoff)."""
from __future__ import annotations

import numpy as np
import pytest

from apps.agent.models import AgentSettings
from apps.conversations.models import ConversationEvent, Status

from .helpers import say
from .helpers import start as _start


def start(cast, *, language: str = ""):
    """A new customer each time (one open conversation per customer and channel)."""
    from apps.conversations.models import Contact

    return _start(cast, contact=Contact.objects.create(name=f"Customer {Contact.objects.count() + 1}"),
                  language=language)

FEATURES = {"unit_similarity": 0.0, "type_match": 0.0, "type_asked": 1.0, "overlap": 0.0, "answer_chars": 120.0}


def _turn_rows(business: str, n: int, seed: int, *, flip: bool = False) -> list[dict]:
    """Turn rows as ``harness.turn_scores`` writes them: labelled last turns whose facts are found
    when the unit is similar and states what was asked; ``flip`` inverts the labels."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        sim, match = float(rng.uniform(0.1, 0.9)), float(rng.integers(0, 2))
        label = (sim > 0.45 and match == 1.0) or rng.uniform() < 0.1
        rows.append({"business": business, "id": f"{business}{i}", "turn": 0, "last": True, "due": "",
                     "intent": "plans", "has_answer": True, "facts_ok": bool(label) != flip,
                     "features": {**FEATURES, "unit_similarity": sim, "type_match": match,
                                  "overlap": float(rng.uniform(0, 1))}})
    return rows


class _Business:
    def __init__(self, name: str):
        self.name = name


def _leave_one_out(monkeypatch, rows_of: dict[str, list[dict]]) -> dict[str, dict]:
    """``harness.leave_one_out`` with the scratch installs replaced by the given turn rows; returns the
    verifier and settings each left-out business was scored with."""
    from apps.agent import compose
    from apps.agent.evaluation import harness

    seen: dict[str, dict] = {}

    def turn_rows(business, *, provider=None, rankers=None):
        return {"": rows_of[business.name]}

    def evaluate(business, *, provider=None, settings_override=None, details=None, **_kw):
        seen[business.name] = {"verifier": compose.verifier_load(), "settings": dict(settings_override or {})}
        return {"summary": {"business": business.name}}

    monkeypatch.setattr(harness, "business_turn_rows", turn_rows)
    monkeypatch.setattr(harness, "evaluate_business", evaluate)
    harness.leave_one_out([_Business(n) for n in rows_of])
    return seen


def test_calibration_fitted_for_a_business_never_sees_that_business(monkeypatch, tmp_path):
    from apps.agent.evaluation.verifier import ANSWER_PROBABILITY

    monkeypatch.setenv("XQUAD_TUNE_FEATURES", str(tmp_path / "none.jsonl"))  # the businesses alone
    rows = {"a": _turn_rows("a", 80, 1), "b": _turn_rows("b", 80, 2), "c": _turn_rows("c", 80, 3)}
    first = _leave_one_out(monkeypatch, rows)
    # c's labels inverted: what c is scored with must not move; what a and b are scored with must
    second = _leave_one_out(monkeypatch, {**rows, "c": _turn_rows("c", 80, 3, flip=True)})
    for name in "abc":
        calibration = first[name]["verifier"]["calibration"]
        assert calibration["rows"] == 160  # the held-out scores of the two other businesses
        assert first[name]["settings"]["confidence_threshold"] == ANSWER_PROBABILITY
    assert first["c"]["verifier"] == second["c"]["verifier"]
    assert first["a"]["verifier"]["calibration"] != second["a"]["verifier"]["calibration"]
    assert first["b"]["verifier"]["coef"] != second["b"]["verifier"]["coef"]


def test_platt_calibration_corrects_an_overconfident_verifier_and_weighs_businesses_alike():
    from apps.agent.compose import calibrated
    from apps.agent.evaluation.verifier import fit_calibration

    rng = np.random.default_rng(5)
    raw = rng.uniform(0.02, 0.99, 4000)
    logit = np.log(raw / (1 - raw))
    truth = 1 / (1 + np.exp(-(0.5 * logit - 0.3)))  # the raw score claims more than it delivers
    labels = rng.uniform(size=raw.size) < truth
    calibration = fit_calibration(raw, labels)
    assert 0.4 < calibration["a"] < 0.6 and -0.45 < calibration["b"] < -0.15
    assert calibrated(0.95, calibration) < 0.8 and calibrated(0.95, None) == 0.95
    # a big business does not dominate: 3,000 rows of a constant-rate business beside the 4,000
    names = ["x"] * raw.size + ["y"] * 3000
    skewed = fit_calibration(np.concatenate([raw, np.full(3000, 0.9)]),
                             np.concatenate([labels, rng.uniform(size=3000) < 0.2]), names)
    unweighted = fit_calibration(np.concatenate([raw, np.full(3000, 0.9)]),
                                 np.concatenate([labels, rng.uniform(size=3000) < 0.2]))
    assert skewed != unweighted
    # held-out scores that do not rank at all: the identity, never an inverted calibration
    assert fit_calibration([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == {"a": 1.0, "b": 0.0, "rows": 4}


def test_fit_returns_the_expected_utility_threshold_and_its_answers_are_mostly_right():
    from apps.agent.compose import calibrated, verifier_score
    from apps.agent.evaluation.verifier import ANSWER_PROBABILITY, WRONG_ANSWER_COST, business_rows, fit

    assert ANSWER_PROBABILITY == pytest.approx(WRONG_ANSWER_COST / (WRONG_ANSWER_COST + 1))
    rows = business_rows(_turn_rows("a", 150, 7) + _turn_rows("b", 150, 8))
    model, threshold, _info = fit(rows)
    assert threshold == ANSWER_PROBABILITY and "calibration" in model
    confident = [r for r in rows if calibrated(verifier_score(r["features"], model), model["calibration"]) >= threshold]
    assert confident and sum(r["label"] for r in confident) / len(confident) >= ANSWER_PROBABILITY


# --- the hedged band on a real turn (FibraSur KB, local provider) ------------------------------------

ANSWERABLE = "How do I restart the router?"
UNANSWERABLE = "Can I get a 10 Gbps plan for my house?"  # in scope (plans); no page answers it


def _confidence(cast, text: str) -> float:
    cfg = AgentSettings.load()
    cfg.confidence_threshold = 0.0
    cfg.save()
    conv = start(cast, language="en")
    conv, _replies = say(cast, conv, text)
    event = conv.events.filter(kind=ConversationEvent.Kind.AGENT_DECISION).latest("id")
    return float(event.payload["scores"]["confidence"])


def test_medium_confidence_first_turn_is_answered_with_an_offer_and_an_unanswerable_one_handed_off(fibrasur, monkeypatch):
    from apps.agent import policy
    from apps.agent.compose import verifier_load, verifier_use

    # the verifier's own band alone (the lower band for recognised questions has its own test below)
    monkeypatch.setattr(policy, "TOPIC_HEDGE_PROBABILITY", None)

    high, low = _confidence(fibrasur, ANSWERABLE), _confidence(fibrasur, UNANSWERABLE)
    assert low < high  # the verifier ranks the answerable question above the unanswerable one
    cfg = AgentSettings.load()
    cfg.confidence_threshold = min(1.0, high + 0.01)  # both under the answer threshold
    cfg.save()
    with verifier_use({**verifier_load(), "hedge_probability": (low + high) / 2}):
        conv = start(fibrasur, language="en")
        conv, replies = say(fibrasur, conv, ANSWERABLE)
        assert conv.status == Status.BOT
        assert [r.meta["kind"] for r in replies] == ["answer"] and replies[0].sources
        assert replies[0].body.endswith(cfg.message("hedge", "en"))
        decision = conv.events.filter(kind=ConversationEvent.Kind.AGENT_DECISION).latest("id")
        assert decision.payload["decision"] == "answer" and decision.payload["hedged"] is True
        # the offer is kept: "no, that's not it" hands off, to the topic's department
        conv, replies = say(fibrasur, conv, "No, that's not it")
        assert conv.handoff["trigger"] == "low_confidence"
        assert conv.department.slug == "technical-support"
        assert [r.meta["kind"] for r in replies] == ["handoff"]

        conv = start(fibrasur, language="en")
        conv, replies = say(fibrasur, conv, UNANSWERABLE)
        assert conv.handoff["trigger"] == "low_confidence"
        assert conv.department.slug == "sales"
        assert [r.meta["kind"] for r in replies] == ["handoff"]
    # a verifier without a hedged band: the medium-confidence turn is handed off as before
    with verifier_use({k: v for k, v in verifier_load().items() if k != "hedge_probability"}):
        conv = start(fibrasur, language="en")
        conv, replies = say(fibrasur, conv, ANSWERABLE)
        assert conv.handoff["trigger"] == "low_confidence"
        assert [r.meta["kind"] for r in replies] == ["handoff"]


@pytest.mark.parametrize("text,declines", [
    ("No, that's not it", True), ("no", True), ("That is not what I asked", True), ("No es eso", True),
    ("no me sirve", True), ("No, no era eso", True), ("No thanks, all good", False),
    ("no puedo entrar a la app", False), ("No, I want the price of the plan", False), ("Nobody told me", False),
])
def test_declining_a_hedged_answer_is_read_in_both_languages(text, declines):
    from apps.agent.policy import declines_answer

    assert declines_answer(text) is declines


# --- the hedged band for a question the topics recognise ---------------------------------------------

def test_the_band_starts_lower_for_a_question_a_topic_the_bot_may_answer_recognises():
    """``policy.hedge_floor_for``: the verifier's floor, lowered to ``TOPIC_HEDGE_PROBABILITY`` only when
    the turn's own topic is one the bot may answer and the classifier is at least
    ``RESTRICTED_MIN_PROBABILITY`` sure of it; never raised, and no band stays no band."""
    from types import SimpleNamespace

    from apps.agent.policy import RESTRICTED_MIN_PROBABILITY, TOPIC_HEDGE_PROBABILITY, hedge_floor_for

    answerable, restricted = SimpleNamespace(bot_may_answer=True), SimpleNamespace(bot_may_answer=False)
    sure = SimpleNamespace(extra={"intent_probability": RESTRICTED_MIN_PROBABILITY})
    unsure = SimpleNamespace(extra={"intent_probability": RESTRICTED_MIN_PROBABILITY - 0.01})
    assert TOPIC_HEDGE_PROBABILITY < 0.6
    assert hedge_floor_for(sure, answerable, 0.6) == TOPIC_HEDGE_PROBABILITY
    assert hedge_floor_for(unsure, answerable, 0.6) == 0.6
    assert hedge_floor_for(sure, restricted, 0.6) == 0.6
    assert hedge_floor_for(sure, None, 0.6) == 0.6
    assert hedge_floor_for(sure, answerable, None) is None
    assert hedge_floor_for(sure, answerable, 0.4) == 0.4


def test_a_recognised_question_is_answered_hedged_from_the_lower_floor_and_an_unrecognised_one_handed_off(fibrasur):
    """The same medium-confidence draft ("How do I restart the router?", its confidence under the
    verifier's floor, here raised above it): answered with the offer of a person while the topic
    examples recognise the question; handed off on low confidence once the topic has no examples that
    recognise it (the classifier then reads it as something else: a handoff, on low confidence or as out
    of scope, never the hedged passage)."""
    from apps.agent.compose import verifier_load, verifier_use
    from apps.agent.engine import engine_invalidate
    from apps.agent.models import TopicExample
    from apps.agent.policy import TOPIC_HEDGE_PROBABILITY

    confidence = _confidence(fibrasur, ANSWERABLE)
    assert confidence >= TOPIC_HEDGE_PROBABILITY  # the draft is in the lower band's reach
    cfg = AgentSettings.load()
    cfg.confidence_threshold = 1.0  # nothing is answered outright
    cfg.save()
    with verifier_use({**verifier_load(), "hedge_probability": 0.999}):  # the verifier's own band: out of reach
        conv = start(fibrasur, language="en")
        conv, replies = say(fibrasur, conv, ANSWERABLE)
        decision = conv.events.filter(kind=ConversationEvent.Kind.AGENT_DECISION).latest("id")
        assert decision.payload["scores"]["intent_probability"] >= 0.3
        assert conv.status == Status.BOT and decision.payload["hedged"] is True
        assert [r.meta["kind"] for r in replies] == ["answer"] and replies[0].sources
        assert replies[0].body.endswith(cfg.message("hedge", "en"))

        topic = decision.payload["topic"] or decision.payload["intent"]
        TopicExample.objects.filter(topic__slug=topic).delete()
        engine_invalidate()
        conv = start(fibrasur, language="en")
        conv, replies = say(fibrasur, conv, ANSWERABLE)
        decision = conv.events.filter(kind=ConversationEvent.Kind.AGENT_DECISION).latest("id")
        assert decision.payload["intent"] != topic and decision.payload.get("hedged") is not True
        assert conv.handoff["trigger"] in ("low_confidence", "out_of_scope")  # no topic reads it: in scope or not
        assert [r.meta["kind"] for r in replies] == ["handoff"]
