"""Regenerate the shipped answer verifier (apps/agent/answer_verifier.json) from all development data.

Run:  python bench/xquad.py --tune-features /tmp/asiste-xquad-tune-features.jsonl
      python manage.py evaluate_agent --business demo --business DIR --business DIR --leave-one-out \
          --details /tmp/turns --json
      python bench/fit_answer_verifier.py --turns /tmp/turns [--xquad FILE] [--hedge 1.5|none] [--target 0.9] --write

The model is fitted on every business's labelled turns plus XQuAD's tuning half, and calibrated on
each business's scores by the model fitted without it (``apps.agent.evaluation.verifier``); the
threshold is the calibrated probability W / (W + 1) (``WRONG_ANSWER_COST``), or, with ``--target``,
the former raw threshold for that precision. ``--hedge W`` sets the hedged band from W / (W + 1)
(default ``HEDGE_COST``; ``none``: no band).
Write it, then keep ``AgentSettings.confidence_threshold``'s default (a migration) and the README
equal to the printed threshold.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
os.environ.setdefault("SECRET_KEY", "fit-only")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import argparse  # noqa: E402
import json  # noqa: E402


def main(argv=None) -> int:
    from apps.agent.evaluation.verifier import HEDGE_COST, XQUAD_DEFAULT, business_rows, fit, xquad_rows

    parser = argparse.ArgumentParser(description="Fit the answer verifier on all development data.")
    parser.add_argument("--turns", required=True, help="folder of turns-*.jsonl (evaluate_agent --details DIR)")
    parser.add_argument("--xquad", default=None, help=f"XQuAD tuning-half features (default {XQUAD_DEFAULT})")
    parser.add_argument("--target", type=float, default=None,
                        help="the former rule: a raw threshold for this precision (default: calibrated)")
    parser.add_argument("--hedge", default=str(HEDGE_COST), metavar="W",
                        help=f"hedged band from calibrated P(facts) W / (W + 1) (default {HEDGE_COST}; none: no band)")
    parser.add_argument("--write", action="store_true", help="write apps/agent/answer_verifier.json")
    args = parser.parse_args(argv)
    turn_rows = []
    for path in sorted(Path(args.turns).glob("turns-*.jsonl")):
        turn_rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = business_rows(turn_rows) + xquad_rows(args.xquad)
    if not any(r["business"] == "xquad" for r in rows):
        print("warning: no XQuAD tuning-half features (run bench/xquad.py --tune-features FILE)", file=sys.stderr)
    model, threshold, info = fit(rows, target=args.target)
    model["threshold"] = threshold
    if args.hedge != "none" and args.target is None:
        model["hedge_probability"] = round(float(args.hedge) / (float(args.hedge) + 1.0), 6)
    model["fitted_on"] = {**info, "target_precision": args.target}
    print(json.dumps({"threshold": threshold, "calibration": model.get("calibration"),
                      "hedge_probability": model.get("hedge_probability"), **info}))
    if args.write:
        from apps.agent.compose import VERIFIER_PATH

        VERIFIER_PATH.write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {VERIFIER_PATH}")
    return 0


if __name__ == "__main__":
    import django

    django.setup()
    sys.exit(main())
