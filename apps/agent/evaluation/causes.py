"""Why a conversation expected resolved was handed off (issue 12: false handoffs).

Pure functions on the ``--details`` lines of ``evaluate_agent`` (each turn carries ``read``: the
draft answer the decision saw and every candidate passage of its selection). Every false handoff
gets exactly one class:

- ``a`` premature: handed off on an earlier turn than the labelled (last) one; the turn's kind
  (greeting, vague, a question of its own, a statement giving context or data) is kept;
- ``b`` low confidence on the labelled turn while the draft answer held every expected fact (the
  verifier too cautious);
- ``c`` low confidence on the labelled turn, the draft lacked the facts but a candidate passage of
  the selection held them all (the selection);
- ``d`` low confidence on the labelled turn and no candidate held them (or nothing was retrieved);
- ``e`` another trigger fired on the labelled turn.

``bench/handoff_causes.py`` prints the counts per business.
"""
from __future__ import annotations

from collections import Counter

from .scoring import holds_facts

CLASSES = ("a", "b", "c", "d", "e")
NAMES = {"a": "premature (earlier turn)", "b": "verifier too cautious (draft held the facts)",
         "c": "selection (a candidate held them)", "d": "no candidate held them", "e": "another trigger"}


def turn_kind(turn: dict) -> str:
    """What an earlier turn was: a greeting, a vague opener, a question of its own, or a statement
    (context or data given before the question: "I have the Plus plan", "I'm travelling to Brazil")."""
    intent = turn.get("intent") or ""
    text = turn.get("customer") or ""
    if intent in ("greeting", "thanks"):
        return "greeting"
    if intent in ("vague", "clarify"):
        return "vague"
    return "question" if "?" in text else "statement"


def classify(row: dict) -> dict | None:
    """The class of one conversation's false handoff, or None (not a false handoff)."""
    if row["expected"]["outcome"] != "resolved":
        return None
    at = row["verdict"].get("handoff_turn")
    if at is None:
        return None
    turns = row["turns"]
    last = len(row["messages"]) - 1
    turn = turns[at]
    read = turn.get("read") or {}
    facts = list(row["expected"].get("facts") or [])
    confidence = (turn.get("scores") or {}).get("confidence")
    out = {"id": row["id"], "category": row.get("category", ""), "turn": at, "of": last + 1,
           "trigger": turn.get("trigger") or "", "intent": turn.get("intent") or "", "confidence": confidence,
           "text": turn.get("customer", "")}
    draft = read.get("draft") or ""
    candidates = read.get("candidates") or []
    out["draft_facts"] = holds_facts(facts, draft)
    out["candidate_facts"] = any(holds_facts(facts, c) for c in candidates)
    out["candidates"] = len(candidates)
    if at < last:
        out["class"] = "a"
        out["kind"] = turn_kind(turn)
    elif out["trigger"] != "low_confidence":
        out["class"] = "e"
    elif out["draft_facts"]:
        out["class"] = "b"
    elif out["candidate_facts"]:
        out["class"] = "c"
    else:
        out["class"] = "d"
    return out


def summarise(cases: list[dict], expected_resolved: int) -> dict:
    counts = Counter(c["class"] for c in cases)
    conf = {k: sorted(c["confidence"] for c in cases if c["class"] == k and c["confidence"] is not None)
            for k in ("b", "c")}

    def bands(values):
        return {"under_0.3": sum(v < 0.3 for v in values), "0.3-0.5": sum(0.3 <= v < 0.5 for v in values),
                "0.5-0.6": sum(0.5 <= v < 0.6 for v in values), "at_least_0.6": sum(v >= 0.6 for v in values)}

    return {"expected_resolved": expected_resolved, "false_handoffs": len(cases),
            **{k: counts.get(k, 0) for k in CLASSES},
            "premature_kinds": dict(Counter(f"{c['kind']} / {c['trigger']}" for c in cases if c["class"] == "a")),
            "other_triggers": dict(Counter(c["trigger"] for c in cases if c["class"] == "e")),
            "confidence_b": bands(conf["b"]), "confidence_c": bands(conf["c"])}


def hedge_floor_effect(rows: list[dict], floor: float, *, current_floor: float = 0.6) -> dict:
    """What a lower hedge floor would have changed on the labelled turns of one run's details, had
    nothing else moved: every low-confidence handoff on the last turn whose draft scored in
    [floor, current_floor) becomes a hedged answer, right when the draft holds every fact (expected
    resolved), wrong where a low-confidence handoff was due. Earlier turns are not simulated."""
    right = wrong = due_answered = 0
    for row in rows:
        at = row["verdict"].get("handoff_turn")
        if at is None or at != len(row["messages"]) - 1:
            continue
        turn = row["turns"][at]
        draft = (turn.get("read") or {}).get("draft") or ""
        confidence = (turn.get("scores") or {}).get("confidence", 0.0)
        if turn.get("trigger") != "low_confidence" or not draft or not floor <= confidence < current_floor:
            continue
        if row["expected"]["outcome"] == "resolved":
            ok = holds_facts(list(row["expected"].get("facts") or []), draft)
            right, wrong = right + ok, wrong + (not ok)
        elif row["expected"].get("trigger") == "low_confidence":
            due_answered += 1
    resolved = [r for r in rows if r["expected"]["outcome"] == "resolved"]
    given = sum(1 for r in resolved if r["verdict"].get("answered"))
    with_facts = sum(1 for r in resolved if r["verdict"].get("answered") and r["verdict"].get("facts_ok"))
    return {"floor": floor, "right": right, "wrong": wrong, "due_answered": due_answered,
            "answers_with_facts_before": round(with_facts / given, 4) if given else None,
            "answers_with_facts_after": round((with_facts + right) / (given + right + wrong), 4)
            if given + right + wrong else None}


WHERE = ("draft", "candidate", "kb_file", "nowhere")


def where_facts(rows: list[dict], kb_texts: list[str]) -> dict:
    """Where the facts of every conversation the knowledge base answers were, on its labelled (last)
    turn when the conversation reached it: in the composed draft, only in another candidate passage
    of the selection, only in a file of the knowledge base (retrieval missed them: no chunk that
    holds them was among the candidates), or nowhere as written. Counts per place."""
    counts = Counter({k: 0 for k in WHERE})
    for row in rows:
        facts = list(row["expected"].get("facts") or [])
        if row["expected"]["outcome"] != "resolved" or not facts or len(row["turns"]) != len(row["messages"]):
            continue
        read = row["turns"][-1].get("read") or {}
        if holds_facts(facts, read.get("draft") or ""):
            counts["draft"] += 1
        elif any(holds_facts(facts, c) for c in read.get("candidates") or []):
            counts["candidate"] += 1
        elif any(holds_facts(facts, t) for t in kb_texts):
            counts["kb_file"] += 1
        else:
            counts["nowhere"] += 1
    return dict(counts)
