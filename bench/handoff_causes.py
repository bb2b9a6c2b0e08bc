"""Why does the agent hand off conversations it should have answered? (issue 12: false handoffs)

Run:  python bench/handoff_causes.py DETAILS_DIR [--list] [--floors 0.55,0.5,0.45] [--kb NAME=DIR ...]

DETAILS_DIR is the ``--details`` folder of ``evaluate_agent --business ... --leave-one-out`` (one
``<business>.jsonl`` per left-out business; each turn carries ``read``: the draft answer the decision
saw and every candidate passage of its selection, recorded by the evaluation runner). Every
conversation expected resolved that was handed off is put in exactly one class:

  a  premature: handed off on an earlier turn than the labelled (last) one; sub-classed by what that
     turn was (greeting, vague, a question of its own, a statement giving context) and its trigger
  b  low confidence on the labelled turn while the selected (draft) answer DID hold every fact:
     the verifier was too cautious
  c  low confidence on the labelled turn, the draft lacked the facts but some top-k candidate
     passage held them all: the selection
  d  low confidence on the labelled turn and no candidate held the facts (or nothing was retrieved)
  e  another trigger fired on the labelled turn (which one is counted)

Confidence of b/c cases is summarised too (how far under the hedge floor 0.6 / threshold 0.75).
``--floors``: what a lower hedge floor would have changed on the labelled last turns (offline).
``--kb NAME=DIR`` (repeatable): where the facts of each conversation the KB answers were (the draft, only
another candidate, only a file of DIR: retrieval missed them, or nowhere as written). Without it the demo
(FibraSur: apps/knowledge/demo_kb) and the packs found in ../shared/data/business-packs (by the name in
their business.json) are used; a business with no KB folder found is said and skipped.
Prints a table per business and ends with ONE JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("details", help="the --details folder of a leave-one-out run")
    parser.add_argument("--list", action="store_true", help="print every false handoff")
    parser.add_argument("--floors", default="", metavar="F,F,...",
                        help="also simulate lower hedge floors on the labelled turns (e.g. 0.55,0.5,0.45,0.4,0.3)")
    parser.add_argument("--kb", action="append", default=[], metavar="NAME=DIR",
                        help="a business's knowledge-base folder, for where the facts were (repeatable)")
    args = parser.parse_args()
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    import django

    django.setup()
    from apps.agent.evaluation.causes import CLASSES, NAMES, classify, hedge_floor_effect, summarise, where_facts

    kb_dirs = _kb_dirs(args.kb)

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
        floors = [float(f) for f in args.floors.split(",") if f.strip()]
        if floors:
            summary["floors"] = [hedge_floor_effect(rows, f) for f in floors]
            for e in summary["floors"]:
                print(f"  hedge floor {e['floor']}: +{e['right']} answers with facts, +{e['wrong']} without, "
                      f"{e['due_answered']} low-confidence handoffs due answered; answers with facts (of given) "
                      f"{e['answers_with_facts_before']} -> {e['answers_with_facts_after']}")
        kb = kb_dirs.get(path.stem)
        if kb is None:
            print(f"  where the facts were: no knowledge-base folder for {path.stem!r} (--kb NAME=DIR)")
        else:
            summary["where"] = where_facts(rows, _kb_texts(kb))
            print(f"  where the facts were (of the conversations the KB answers): {summary['where']}")
        if args.list:
            for c in sorted(cases, key=lambda c: (c["class"], c["id"])):
                conf = "-" if c["confidence"] is None else f"{c['confidence']:.2f}"
                print(f"    {c['class']} {c['id']:10s} turn {c['turn'] + 1}/{c['of']} {c['trigger']:18s} "
                      f"{c['intent'][:22]:22s} conf {conf}  {c['text'][:90]!r}")
    total = {k: sum(s[k] for s in result.values()) for k in ("false_handoffs", "expected_resolved", *CLASSES)}
    print(json.dumps({"businesses": result, "total": total}, ensure_ascii=False))
    return 0


def _kb_dirs(given: list[str]) -> dict[str, Path]:
    """Business name -> KB folder: the ``--kb`` pairs, else the demo's and the shared packs' own."""
    dirs: dict[str, Path] = {}
    for pair in given:
        name, _sep, where = pair.partition("=")
        dirs[name] = Path(where)
    if given:
        return dirs
    dirs["FibraSur"] = ROOT / "apps" / "knowledge" / "demo_kb"
    packs = ROOT.parent / "shared" / "data" / "business-packs"
    if not packs.is_dir():
        packs = ROOT.parent.parent / "shared" / "data" / "business-packs"
    for business in sorted(packs.glob("*/business.json")) if packs.is_dir() else []:
        try:
            dirs[json.loads(business.read_text(encoding="utf-8"))["name"]] = business.parent / "kb"
        except (OSError, ValueError, KeyError):
            continue
    return dirs


def _kb_texts(folder: Path) -> list[str]:
    texts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            try:
                texts.append(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                continue
    return texts


if __name__ == "__main__":
    raise SystemExit(main())
