"""Scoring a handoff that first collects data (the customer number): it is made on the turn the
collection ends, so a scenario whose last customer turn is the datum is on time."""
from __future__ import annotations

from apps.agent.evaluation.scoring import handoff_turn, scenario_score


def _turn(decision, trigger="", department="", reply=""):
    return {"decision": decision, "trigger": trigger, "department": department, "replies": [reply] if reply else [],
            "language_ok": True}


ROW = {"messages": ["I want to cancel my internet service", "FS-0012345"],
       "expected": {"outcome": "handoff", "trigger": "out_of_scope", "department": "cancellations", "facts": []}}


def test_a_collection_that_ends_in_a_handoff_on_the_last_turn_is_on_time():
    verdict = scenario_score(ROW, [_turn("collect", "out_of_scope", "cancellations", "What is your customer number?"),
                                   _turn("handoff", "out_of_scope", "cancellations")])
    assert verdict["handoff_turn"] == 1 and verdict["handoff_on_time"] and verdict["correct"]
    assert not verdict["premature_handoff"]


def test_a_handoff_without_collection_before_the_last_turn_is_still_premature():
    verdict = scenario_score(ROW, [_turn("handoff", "out_of_scope", "cancellations"), _turn("answer", reply="x")])
    assert verdict["handoff_turn"] == 0 and verdict["premature_handoff"] and not verdict["correct"]


def test_an_unfinished_collection_counts_from_its_first_turn():
    assert handoff_turn([_turn("answer", reply="x"), _turn("collect"), _turn("collect")]) == 1
    assert handoff_turn([_turn("collect"), _turn("collect"), _turn("handoff")]) == 2
    assert handoff_turn([_turn("answer", reply="x")]) is None
    # a collection finished early in a longer conversation is premature
    row = {**ROW, "messages": ["a", "b", "c"]}
    early = scenario_score(row, [_turn("collect"), _turn("handoff", "out_of_scope", "cancellations"),
                                 _turn("answer", reply="x")])
    assert early["premature_handoff"] and not early["correct"]


def test_a_collection_in_a_conversation_expected_resolved_is_a_false_handoff():
    row = {"messages": ["q", "FS-1"], "expected": {"outcome": "resolved", "trigger": None, "department": None,
                                                   "facts": []}}
    verdict = scenario_score(row, [_turn("collect"), _turn("handoff", "out_of_scope", "x")])
    assert verdict["handoff_turn"] == 1 and not verdict["answered"] and not verdict["correct"]
