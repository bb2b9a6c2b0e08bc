"""Small talk by the nearest example (``apps.agent.smalltalk``) on CLINC150: how often a short message of
another intent, or an out-of-scope one, would be taken for small talk, and how many real small-talk
messages are recognised, with the right class.

Data: CLINC150 "full" (Larson et al. 2019, CC BY 3.0), at ../shared/data/clinc150/data_full.json (override
with --data). Short messages only (at most ``smalltalk.MAX_WORDS`` words, as the agent applies it).

- Positives, with the class they must get: ``greeting`` -> greeting, ``goodbye`` -> goodbye,
  ``are_you_a_bot`` and ``what_can_i_ask_you`` -> about_bot.
- Ignored (questions about the assistant whose about-the-bot reply is fair either way): ``what_is_your_name``,
  ``who_made_you``, ``who_do_you_work_for``, ``how_old_are_you``, ``where_are_you_from``, ``user_name``,
  ``what_are_your_hobbies``, ``do_you_have_pets``, ``meaning_of_life``, ``thank_you``, ``yes``, ``no``,
  ``maybe``, ``repeat``, ``cancel`` (a one-word reply such as "yes" or "cancel that" is not small talk the
  agent answers, nor an intent it has).
- Negatives: every other intent, and the out-of-scope messages.

The threshold is chosen on the validation split (the lowest value on a 0.05 grid at which no negative reaches
it, plus one step of margin) and reported on the test split once, beside the shipped ``MIN_SIMILARITY``.
Baseline in the same run: the examples' own words only (up to case and punctuation), a keyword list.

    python bench/smalltalk.py [--data PATH]

Prints figures; the last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("LOG_LEVEL", "WARNING")

POSITIVES = {"greeting": "greeting", "goodbye": "goodbye", "are_you_a_bot": "about_bot",
             "what_can_i_ask_you": "about_bot"}
IGNORED = {"what_is_your_name", "who_made_you", "who_do_you_work_for", "how_old_are_you", "where_are_you_from",
           "user_name", "what_are_your_hobbies", "do_you_have_pets", "meaning_of_life", "thank_you", "yes", "no",
           "maybe", "repeat", "cancel"}
GRID = [round(x, 2) for x in np.arange(0.5, 0.96, 0.05)]


def _rows(data: dict, split: str, max_words: int) -> list[tuple[str, str]]:
    rows = [(t, label) for t, label in data[split] if label not in IGNORED]
    rows += [(t, "oos") for t, _label in data[f"oos_{split}"]]
    return [(t, label) for t, label in rows if len(t.split()) <= max_words]


def _score(rows, found: list[tuple[str, float]], threshold: float | None) -> dict:
    """found: (class, similarity) per row; threshold None: exact words only (similarity 1.0 marks them)."""
    positives = [(label, f) for (_t, label), f in zip(rows, found) if label in POSITIVES]
    negatives = [f for (_t, label), f in zip(rows, found) if label not in POSITIVES]
    cut = 1.0 if threshold is None else threshold
    right = sum(1 for label, (cls, sim) in positives if sim >= cut and cls == POSITIVES[label])
    false = sum(1 for cls, sim in negatives if sim >= cut)
    return {"recall": round(100 * right / max(1, len(positives)), 1), "positives": len(positives),
            "false_positives": false, "negatives": len(negatives),
            "false_positive_rate": round(100 * false / max(1, len(negatives)), 2)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "clinc150" / "data_full.json"))
    args = parser.parse_args(argv)
    path = Path(args.data)
    if not path.exists():
        print(f"CLINC150 is missing: {path} (see ../shared/data/SOURCES.md)")
        print(json.dumps({"error": "dataset missing", "path": str(path)}))
        return 1
    import django

    django.setup()
    from apps.agent import smalltalk
    from apps.agent.engine import embed

    started = time.perf_counter()
    data = json.loads(path.read_text())
    exact = smalltalk._EXACT
    result = {}
    found = {}
    for split in ("val", "test"):
        rows = _rows(data, split, smalltalk.MAX_WORDS)
        print(f"{split}: {len(rows)} short messages, embedding...", flush=True)
        vectors = embed([t for t, _label in rows])
        nearest = [smalltalk.nearest_smalltalk(v, embed) for v in vectors]
        # an example's own words count as similarity 1 (the agent takes them whatever the classifier says)
        found[split] = (rows, [(exact[smalltalk._plain(t)], 1.0) if smalltalk._plain(t) in exact else n
                               for (t, _label), n in zip(rows, nearest)])
    rows, val = found["val"]
    negatives = _score(rows, val, 0.5)["negatives"]
    print(f"\nvalidation: threshold -> recall of small talk (right class), false positives of {negatives}")
    clean = None
    for threshold in GRID:
        s = _score(rows, val, threshold)
        bar = "#" * int(s["recall"] / 4)
        print(f"  {threshold:.2f}  recall {s['recall']:5.1f}%  false positives {s['false_positives']:3d}  {bar}")
        if clean is None and s["false_positives"] == 0:
            clean = threshold
    chosen = round(min(0.95, (clean if clean is not None else GRID[-1]) + 0.05), 2)
    print(f"  lowest clean threshold {clean}; chosen with one step of margin: {chosen:.2f}; "
          f"shipped MIN_SIMILARITY {smalltalk.MIN_SIMILARITY}")
    rows, test = found["test"]
    shipped = _score(rows, test, smalltalk.MIN_SIMILARITY)
    baseline = _score(rows, test, None)
    print(f"\ntest (reported once): shipped {smalltalk.MIN_SIMILARITY}: {shipped}")
    print(f"test, baseline (the examples' own words only): {baseline}")
    result = {"threshold_chosen_on_validation": chosen, "shipped_min_similarity": smalltalk.MIN_SIMILARITY,
              "recall_test": shipped["recall"], "false_positive_rate_test": shipped["false_positive_rate"],
              "false_positives_test": shipped["false_positives"], "negatives_test": shipped["negatives"],
              "positives_test": shipped["positives"], "baseline_exact_recall_test": baseline["recall"],
              "baseline_exact_false_positives_test": baseline["false_positives"],
              "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
