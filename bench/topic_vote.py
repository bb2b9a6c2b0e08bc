"""Cost of the conversation-topic vote on frustrated turns (the sustained-frustration handoff's
department, ``apps.agent.providers.topic_vote_of``): the current turn read with its own knowledge-base
search (before) against the current turn read with its classifier reading only (shipped: the answer's
retrieval already searches those words), in the same run.

For every scenario of the business that expects a sustained-frustration handoff, its last customer
turn (the one the handoff is decided on) is analysed by the local provider with the earlier turns as
history, in both modes, interleaved (A/B, then B/A) so both see the same machine load. Reported per
mode: the knowledge-base searches per analysed turn, the whole analysis latency p50/p95, and how many
turns' voted topic differs between the two modes (the department would).

    python bench/topic_vote.py [--business demo|DIR] [--repeat N]

Installs the business in a scratch database (``apps.agent.evaluation.harness``). The last line is
one JSON object.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--business", default=str(ROOT.parent / "shared/data/business-packs/pampapay"))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    from apps.agent import providers
    from apps.agent.evaluation.harness import _warm_up, scratch_environment
    from apps.agent.packs import business_install, business_read
    from apps.knowledge import search

    business = business_read(args.business)
    cases = [row for row in business.scenarios
             if (row["expected"].get("trigger") == "negative_sentiment" and len(row["messages"]) > 1)]
    shipped_vote = providers.topic_vote_of
    searches = {"n": 0}
    original_search = search.knowledge_search_vector

    def counting(vector, **kwargs):
        searches["n"] += 1
        return original_search(vector, **kwargs)

    def before_vote(*a, search: bool = True, **kw):  # noqa: ARG001 - the current turn searched again
        return shipped_vote(*a, search=True, **kw)

    modes = {"before": before_vote, "shipped": shipped_vote}
    with scratch_environment():
        business_install(business, settings_override={"confidence_threshold": 0.0})
        _warm_up()
        search.knowledge_search_vector = counting
        provider = providers.LocalProvider()
        latency = {m: [] for m in modes}
        calls = {m: [] for m in modes}
        topics: dict[str, dict[str, str]] = {m: {} for m in modes}
        try:
            for rep in range(args.repeat):
                order = list(modes) if rep % 2 == 0 else list(reversed(modes))
                for row in cases:
                    history = [item for text in row["messages"][:-1]
                               for item in ({"role": "customer", "text": text}, {"role": "agent", "text": ""})]
                    ctx = providers.TurnContext(conversation_id=0, text=row["messages"][-1],
                                                language=row.get("language") or "es", history=history)
                    for mode in order:
                        providers.topic_vote_of = modes[mode]
                        searches["n"] = 0
                        started = time.perf_counter()
                        analysis = provider.analyse(ctx)
                        latency[mode].append((time.perf_counter() - started) * 1000)
                        calls[mode].append(searches["n"])
                        topics[mode][row["id"]] = analysis.signals.get("conversation_topic", "")
        finally:
            providers.topic_vote_of = shipped_vote
            search.knowledge_search_vector = original_search
    load = os.getloadavg()[0]
    result = {"business": business.name, "turns": len(cases), "repeat": args.repeat, "load_average": round(load, 2),
              "topics_differing": sum(1 for k in topics["before"] if topics["before"][k] != topics["shipped"][k])}
    for mode in modes:
        result[f"{mode}_searches_per_turn"] = round(float(np.mean(calls[mode])), 2)
        result[f"{mode}_p50_ms"] = round(float(np.percentile(latency[mode], 50)), 2)
        result[f"{mode}_p95_ms"] = round(float(np.percentile(latency[mode], 95)), 2)
        print(f"{mode:8} searches/turn {result[f'{mode}_searches_per_turn']:.2f}  analysis p50 "
              f"{result[f'{mode}_p50_ms']:.1f} ms  p95 {result[f'{mode}_p95_ms']:.1f} ms")
    print(f"voted topic differs on {result['topics_differing']} of {len(cases)} turns; load average {load:.2f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
