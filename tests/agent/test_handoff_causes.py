"""Why conversations expected resolved were handed off: the runner records what each turn read, and
every false handoff gets one cause (``apps.agent.evaluation.causes``, ``bench/handoff_causes.py``)."""
from __future__ import annotations

import pytest

from apps.agent.evaluation.causes import classify, summarise, turn_kind, where_facts


def _row(messages, facts, turns, *, handoff_turn):
    return {"id": "x", "category": "kb_answerable", "messages": messages,
            "expected": {"outcome": "resolved", "facts": facts},
            "verdict": {"handoff_turn": handoff_turn}, "turns": turns}


def _turn(text, *, trigger="low_confidence", intent="plans", confidence=0.4, draft="", candidates=()):
    return {"customer": text, "decision": "handoff" if trigger else "answer", "trigger": trigger, "intent": intent,
            "scores": {"confidence": confidence}, "read": {"draft": draft, "candidates": list(candidates)}}


FACTS = ["ARS 15,000"]


@pytest.mark.parametrize("turn, expected", [
    (_turn("How much is the 300 mega plan?", draft="The 300 Mb plan costs ARS 15.000 per month.",
           candidates=["The 300 Mb plan costs ARS 15.000 per month."]), "b"),
    (_turn("How much is the 300 mega plan?", draft="Installation takes 5 days.",
           candidates=["Installation takes 5 days.", "300 Mb: ARS 15,000 a month"]), "c"),
    (_turn("How much is the 300 mega plan?", draft="Installation takes 5 days.",
           candidates=["Installation takes 5 days."]), "d"),
    (_turn("How much is the 300 mega plan?", draft="", candidates=[]), "d"),
    (_turn("How much is the 300 mega plan?", trigger="out_of_scope", draft="The plan costs ARS 15,000."), "e"),
])
def test_a_false_handoff_on_the_labelled_turn_gets_its_cause(turn, expected):
    case = classify(_row(["How much is the 300 mega plan?"], FACTS, [turn], handoff_turn=0))
    assert case["class"] == expected


def test_a_handoff_before_the_labelled_turn_is_premature_whatever_its_draft():
    turns = [_turn("I have the Plus plan.", draft="The plan costs ARS 15,000.", intent="plans")]
    case = classify(_row(["I have the Plus plan.", "how much is it?"], FACTS, turns, handoff_turn=0))
    assert case["class"] == "a" and case["kind"] == "statement"
    assert turn_kind(_turn("hola", intent="greeting")) == "greeting"
    assert turn_kind(_turn("Do you cover Villa Mitre?")) == "question"


def test_answered_conversations_and_expected_handoffs_are_not_false_handoffs():
    answered = _row(["q?"], FACTS, [_turn("q?", trigger="", draft="ARS 15,000")], handoff_turn=None)
    assert classify(answered) is None
    due = _row(["q?"], [], [_turn("q?")], handoff_turn=0)
    due["expected"] = {"outcome": "handoff", "trigger": "low_confidence"}
    assert classify(due) is None
    counts = summarise([classify(_row(["q?"], FACTS, [_turn("q?", draft="ARS 15000")], handoff_turn=0))], 3)
    assert (counts["false_handoffs"], counts["b"], counts["a"], counts["expected_resolved"]) == (1, 1, 0, 3)
    assert counts["confidence_b"]["0.3-0.5"] == 1


@pytest.mark.django_db
def test_the_runner_records_the_draft_and_the_candidates_each_turn_read(fibrasur):
    from apps.agent.evaluation import run_scenario
    from apps.agent.models import AgentSettings

    cfg = AgentSettings.load()
    cfg.confidence_threshold = 0.999  # whatever is decided, the draft the decision saw is recorded
    cfg.save()
    out = run_scenario({"id": "x", "language": "en", "messages": ["How do I file a claim?"],
                        "expected": {"outcome": "resolved"}})
    read = out.turns[0]["read"]
    assert read["draft"] and read["candidates"]
    assert all(isinstance(text, str) and text for text in read["candidates"])
    if out.turns[0]["decision"] == "answer":  # a hedged answer shows the draft it read
        assert read["draft"].split("\n")[0] in out.turns[0]["replies"][0]


def test_a_lower_hedge_floor_is_simulated_on_the_labelled_turns_only():
    from apps.agent.evaluation.causes import hedge_floor_effect

    right = _row(["q?"], FACTS, [_turn("q?", confidence=0.55, draft="ARS 15,000")], handoff_turn=0)
    wrong = _row(["q?"], FACTS, [_turn("q?", confidence=0.52, draft="5 days")], handoff_turn=0)
    below = _row(["q?"], FACTS, [_turn("q?", confidence=0.3, draft="ARS 15,000")], handoff_turn=0)
    due = _row(["q?"], [], [_turn("q?", confidence=0.58, draft="5 days")], handoff_turn=0)
    due["expected"] = {"outcome": "handoff", "trigger": "low_confidence"}
    answered = _row(["q?"], FACTS, [_turn("q?", trigger="", draft="ARS 15,000")], handoff_turn=None)
    answered["verdict"].update(answered=True, facts_ok=True)
    effect = hedge_floor_effect([right, wrong, below, due, answered], 0.5)
    assert (effect["right"], effect["wrong"], effect["due_answered"]) == (1, 1, 1)
    assert effect["answers_with_facts_before"] == 1.0 and effect["answers_with_facts_after"] == pytest.approx(2 / 3, abs=1e-3)


def test_where_the_facts_were_draft_candidate_kb_file_or_nowhere():
    kb = ["# Plans\n\n| Plan | Price |\n| 300 Mb | ARS 15,000 |\n", "Installation takes 5 days."]

    def answered(draft, candidates=()):
        return _row(["How much is the 300 mega plan?"], FACTS, [_turn("How much?", trigger="", draft=draft,
                                                                       candidates=candidates)], handoff_turn=None)

    rows = [answered("The 300 Mb plan costs ARS 15.000 per month."),        # draft (separators ignored)
            answered("Installation takes 5 days.", ["300 Mb: ARS 15,000"]),  # only another candidate
            answered("Installation takes 5 days.", ["Installation takes 5 days."]),  # only the KB file
            _row(["How much?"], ["USD 99"], [_turn("How much?", draft="Installation takes 5 days.")],
                 handoff_turn=0),                                          # nowhere as written
            _row(["Hi", "How much?"], FACTS, [_turn("Hi", trigger="low_confidence")], handoff_turn=0),  # not reached
            {**answered("ARS 15,000"), "expected": {"outcome": "handoff", "trigger": "low_confidence", "facts": FACTS}}]
    assert where_facts(rows, kb) == {"draft": 1, "candidate": 1, "kb_file": 1, "nowhere": 1}
