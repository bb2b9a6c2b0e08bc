"""How far the per-fold refit alone moves a left-out business's answers (issue 12: the noise of the protocol).

Run:  python manage.py evaluate_agent --business demo --business DIR --business DIR --leave-one-out --json \
          --details /tmp/a > /tmp/a.log
      python bench/verifier_stability.py --turns /tmp/a [--resamples 20] [--seed 0]

For each business left out, the answer verifier is fitted as ``evaluate_agent --leave-one-out`` fits it (the
default hook, ``fit_verifier``: the other businesses' labelled turns and XQuAD's tuning half): once on the
other businesses' conversations as they are (the baseline, in the same run), then on ``--resamples``
bootstrap resamples of those conversations. Each fit scores the left-out business's labelled answer turns
(the verifier's rows: turns due an answer with expected facts, and low-confidence turns with a draft). It
prints how many of those turns cross the 0.6 hedge floor against the baseline (median and range) and the
spread of the mean confidence shift. A change whose end-to-end effect is within that range cannot be told
from the refit by the conversations it wins or loses: judge it on its drafts (``bench/loo_runs.py diff``:
drafts that gained or lost their facts). Reads the run's ``turns-*.jsonl`` and XQuAD's tuning features
(``/tmp/asiste-xquad-tune-features.jsonl``, ``bench/xquad.py --tune-only --tune-features``); says when
either is missing. Ends with one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("LOG_LEVEL", "WARNING")

HEDGE_FLOOR = 0.6


def main(argv=None) -> int:
    import django

    django.setup()
    import numpy as np

    from apps.agent.compose import calibrated, verifier_score
    from apps.agent.evaluation.verifier import business_rows, fit_verifier, xquad_rows

    parser = argparse.ArgumentParser(description="Spread of the per-fold verifier refit on the left-out business.")
    parser.add_argument("--turns", required=True, help="an evaluate_agent --leave-one-out --details folder")
    parser.add_argument("--resamples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    files = sorted(Path(args.turns).glob("turns-*.jsonl"))
    if not files:
        print(f"no turns-*.jsonl in {args.turns}: run evaluate_agent --leave-one-out --details there first")
        return 2
    if not xquad_rows():
        print("XQuAD's tuning features are missing (bench/xquad.py --tune-only --tune-features): "
              "the fits below use the businesses' rows only")
    rows: dict[str, list[dict]] = {}
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows.setdefault(row["business"], []).append(row)
    rng = np.random.default_rng(args.seed)
    out = {}
    for left in sorted(rows):
        others = [r for name, group in rows.items() if name != left for r in group]
        target = business_rows(rows[left])

        def confidences(model):
            return np.array([calibrated(verifier_score(r["features"], model), model.get("calibration"))
                             for r in target])

        baseline = confidences(fit_verifier(others)["answer_verifier"])
        by_conversation: dict[tuple, list[dict]] = {}
        for r in others:
            by_conversation.setdefault((r["business"], r["id"]), []).append(r)
        keys = sorted(by_conversation)
        crossings, shifts = [], []
        for n in range(args.resamples):
            sample = [r for j in rng.integers(0, len(keys), len(keys)) for r in by_conversation[keys[j]]]
            got = confidences(fit_verifier(sample)["answer_verifier"])
            crossings.append(int(np.sum((baseline >= HEDGE_FLOOR) != (got >= HEDGE_FLOOR))))
            shifts.append(float(np.mean(got - baseline)))
            print(f"  {left}: resample {n + 1}/{args.resamples}", end="\r", flush=True)
        near = int(np.sum(np.abs(baseline - HEDGE_FLOOR) < 0.05))
        out[left] = {"turns": len(target), "near_floor": near, "crossings_median": float(np.median(crossings)),
                     "crossings_min": int(min(crossings)), "crossings_max": int(max(crossings)),
                     "mean_shift_sd": round(float(np.std(shifts)), 4)}
        print(f"{left}: {len(target)} labelled answer turns, {near} within 0.05 of the {HEDGE_FLOOR} floor; over "
              f"{args.resamples} resamples of the other businesses' conversations, turns crossing the floor: median "
              f"{np.median(crossings):.0f} (range {min(crossings)}-{max(crossings)}); sd of the mean confidence "
              f"shift {np.std(shifts):.3f}")
    print(json.dumps({"resamples": args.resamples, "seed": args.seed, "businesses": out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
