"""Why does the agent hand off conversations it should have answered? (issue 12: false handoffs)

Run:  python bench/handoff_causes.py DETAILS_DIR [--list]

DETAILS_DIR is the ``--details`` folder of ``evaluate_agent --business ... --leave-one-out`` (one
``<business>.jsonl`` per left-out business; each turn carries ``read``: the draft answer the decision
saw and every candidate passage of its selection, recorded by the evaluation runner). Every
conversation expected resolved that was handed off is put in exactly one class:

  a  premature: handed off on an earlier turn than the labelled (last) one; sub-classed by what that
     turn was (greeting / small talk, a statement or partial question, vague) and by its trigger
  b  low confidence on the labelled turn while the selected (draft) answer DID hold every fact:
     the verifier was too cautious
  c  low confidence on the labelled turn, the draft lacked the facts but some top-k candidate
     passage held them all: the selection
  d  low confidence on the labelled turn and no candidate held the facts (or nothing was retrieved)
  e  another trigger fired on the labelled turn (which one is counted)

Confidence of b/c cases is summarised too (how far under the hedge floor 0.6 / threshold 0.75).
Prints a table per business and ends with ONE JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CLASSES = ("a", "b", "c", "d", "e")
NAMES = {"a": "premature (earlier turn)", "b": "verifier too cautious (draft held the facts)",
         "c": "selection (a candidate held them)", "d": "no candidate held them", "e": "another trigger"}


def _facts_in(facts: list[str], text: str) -> bool:
    from apps.agent.evaluation.scoring import facts_present

    return bool(facts) and bool(text) and all(facts_present(facts, text))


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
    out["draft_facts"] = _facts_in(facts, draft)
    out["candidate_facts"] = any(_facts_in(facts, c) for c in candidates)
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("details", help="the --details folder of a leave-one-out run")
    parser.add_argument("--list", action="store_true", help="print every false handoff")
    args = parser.parse_args()
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    import django

    django.setup()
    folder = Path(args.details)
    files = sorted(p for p in folder.glob("*.jsonl") if not p.name.startswith("turns-"))
    if not files:
        print(f"no <business>.jsonl in {folder}", file=sys.stderr)
        print(json.dumps({"error": "no details", "path": str(folder)}))
        return 2
    result = {}
    for path in files:
        rows = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        if rows and "read" not in (rows[0]["turns"] or [{}])[0]:
            print(f"{path.name}: turns carry no 'read' (details written before the runner recorded it)",
                  file=sys.stderr)
        cases = [c for c in (classify(r) for r in rows) if c is not None]
        expected_resolved = sum(1 for r in rows if r["expected"]["outcome"] == "resolved")
        result[path.stem] = summary = summarise(cases, expected_resolved)
        print(f"== {path.stem}: {summary['false_handoffs']} false handoffs of {expected_resolved} expected resolved")
        for k in CLASSES:
            print(f"  ({k}) {NAMES[k]:48s} {summary[k]:3d}")
        if summary["premature_kinds"]:
            print(f"  premature turns (kind / trigger): {summary['premature_kinds']}")
        if summary["other_triggers"]:
            print(f"  other triggers: {summary['other_triggers']}")
        print(f"  confidence of (b): {summary['confidence_b']}   of (c): {summary['confidence_c']}")
        if args.list:
            for c in sorted(cases, key=lambda c: (c["class"], c["id"])):
                conf = "-" if c["confidence"] is None else f"{c['confidence']:.2f}"
                print(f"    {c['class']} {c['id']:10s} turn {c['turn'] + 1}/{c['of']} {c['trigger']:18s} "
                      f"{c['intent'][:22]:22s} conf {conf}  {c['text'][:90]!r}")
    total = {k: sum(s[k] for s in result.values()) for k in ("false_handoffs", "expected_resolved", *CLASSES)}
    print(json.dumps({"businesses": result, "total": total}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
