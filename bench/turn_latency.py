"""Decision latency per customer turn, each turn's readings done once (shipped) against every reading
done afresh (baseline: before ``providers.TurnReader`` kept a turn's topic votes), in the same run.

A frustrated late turn votes the conversation's topic over its earlier turns (``local_signals``), and a
draft it may not give votes again over the same turns (``handoff_topic_vote``): each vote a classifier
reading of the turn and its clauses and a knowledge-base search. The shipped reader keeps each vote for
the rest of the turn; the baseline reads it again.

Every scenario of each business runs through the real services (``evaluation.runner.run_scenario``,
rolled back) once per mode per repeat, the two modes interleaved (A/B, then B/A) so both see the same
machine load. Reported per business and mode: the decision latency p50 / p95 / mean over every turn (the
figure ``evaluate_agent`` reports), the p95 of the turns that read the vote twice (a frustrated turn
whose draft was not given), and how many turns' decisions, replies and scores differ between the modes
(none should: the change only skips repeated work).

    python bench/turn_latency.py [--business demo|DIR ...] [--repeat N]

Default businesses: the demo, the two packs in ../shared/data/business-packs/ (skipped, with a message,
when missing) and bench/packs/tecnomundo. Each is installed in a scratch database
(``apps.agent.evaluation.harness``). The last line is one JSON object.
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


def _default_businesses() -> list[str]:
    from bench._common import development_businesses

    return development_businesses() + [str(ROOT / "bench" / "packs" / "tecnomundo")]


def _comparable(turn: dict) -> tuple:
    return (turn["decision"], turn["trigger"], turn["department"], turn["intent"], tuple(turn["replies"]),
            json.dumps(turn.get("scores") or {}, sort_keys=True, default=str))


def _twice_read(turn: dict, cfg) -> bool:
    """A frustrated turn (the vote in ``local_signals``) whose draft was not given (the vote again)."""
    scores = turn.get("scores") or {}
    return (float(scores.get("sentiment", 1.0)) <= cfg.sentiment_threshold
            and float(scores.get("confidence", 1.0)) < cfg.confidence_threshold
            and len(scores.get("sentiment_window") or []) > 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--business", action="append", default=[])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    import django

    django.setup()
    from apps.agent import providers
    from apps.agent.evaluation.harness import _warm_up, scratch_environment
    from apps.agent.evaluation.runner import run_scenario
    from apps.agent.models import AgentSettings
    from apps.agent.packs import business_install, business_read

    shipped = providers.embedder
    modes = {"baseline": lambda: providers.TurnReader(memo=False), "shipped": shipped}
    result: dict = {"repeat": args.repeat, "businesses": {}}
    started = time.perf_counter()
    places = args.business or _default_businesses()
    for n, place in enumerate(places, 1):
        business = business_read(place)
        rows = business.scenarios
        print(f"[{n}/{len(places)}] {business.name}: {len(rows)} conversations x {args.repeat} x 2 modes", flush=True)
        latency = {m: [] for m in modes}
        twice = {m: [] for m in modes}
        differing = 0
        compared = 0
        with scratch_environment():
            business_install(business)
            _warm_up()
            cfg = AgentSettings.load()
            try:
                for rep in range(args.repeat):
                    for i, row in enumerate(rows):
                        order = list(modes) if (i + rep) % 2 == 0 else list(reversed(modes))
                        turns = {}
                        for mode in order:
                            providers.embedder = modes[mode]
                            turns[mode] = run_scenario(row).turns
                            latency[mode] += [t["latency_ms"] for t in turns[mode]]
                            twice[mode] += [t["latency_ms"] for t in turns[mode] if _twice_read(t, cfg)]
                        a, b = turns["baseline"], turns["shipped"]
                        compared += max(len(a), len(b))
                        differing += sum(1 for x, y in zip(a, b) if _comparable(x) != _comparable(y)) + abs(len(a) - len(b))
                        if (i + 1) % 50 == 0 or i + 1 == len(rows):
                            print(f"  repeat {rep + 1}: {i + 1}/{len(rows)}  ({time.perf_counter() - started:.0f} s)",
                                  flush=True)
            finally:
                providers.embedder = shipped
        out = {"turns": compared, "turns_differing": differing, "twice_read_turns": len(twice["shipped"])}
        for mode in modes:
            out[f"{mode}_p50_ms"] = round(float(np.percentile(latency[mode], 50)), 2)
            out[f"{mode}_p95_ms"] = round(float(np.percentile(latency[mode], 95)), 2)
            out[f"{mode}_mean_ms"] = round(float(np.mean(latency[mode])), 2)
            out[f"{mode}_twice_read_p95_ms"] = (round(float(np.percentile(twice[mode], 95)), 2)
                                                if twice[mode] else None)
            print(f"  {mode:8}  p50 {out[f'{mode}_p50_ms']:7.1f} ms  p95 {out[f'{mode}_p95_ms']:7.1f} ms  "
                  f"mean {out[f'{mode}_mean_ms']:7.1f} ms  vote-read-twice turns p95 "
                  f"{out[f'{mode}_twice_read_p95_ms']} ms", flush=True)
        print(f"  turns whose decision, replies or scores differ between the modes: {differing} of {compared}",
              flush=True)
        result["businesses"][business.name] = out
    result["load_average"] = round(os.getloadavg()[0], 2)
    result["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
