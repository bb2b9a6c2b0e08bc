"""Requests for a person against messages that only mention someone (issue 13: "a person, in any
wording", and never on keywords): the shipped scope classifier, trained with the hard negatives of
asking for a person (``builtin.ABOUT_SOMEONE``, absorbed: ``ScopeClassifier.absorb``) and the
attending examples (``builtin.HUMAN_ATTENDING``), against the same classifier without both (the
baseline), in the same run, on each business.

Two sets of texts are scored with the agent's own reading (``triggers.explicit_request``, the
message and each of its clauses) at the business's explicit-request threshold:

- ``bench/data/explicit_requests.tsv``: requests for a person ("person") and messages that name
  someone but ask for no one ("not"), split into ``dev`` (read while choosing the examples) and
  ``report`` (written before the change, scored once; see the agent README);
- the business's own labelled conversations: the last turn of every conversation that expects an
  explicit-request handoff ("person") against every other customer turn ("not"). These are the
  development businesses: every figure on them is a development figure.

    python bench/explicit_requests.py [--business demo --business DIR ...]

Without ``--business``: the demo (FibraSur) and the packs in ``../shared/data/business-packs``
(said when missing). Each business is installed in a scratch database. The last line is one JSON
object: per business and set, the recall of requests and the share of other messages read as one,
shipped and baseline.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from bench._common import development_businesses  # noqa: E402

DATA = ROOT / "bench" / "data" / "explicit_requests.tsv"


def read_texts(path: Path = DATA) -> list[tuple[str, str, str]]:
    """(split, kind, text) rows of the data file; kind is "person" or "not"."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        split, kind, text = line.split("\t", 2)
        if kind not in ("person", "not"):
            raise ValueError(f"{path}: kind must be person or not, got {kind!r}")
        rows.append((split, kind, text.strip()))
    return rows


def scenario_texts(business) -> list[tuple[str, str, str]]:
    """("scenarios", kind, text): the due turn of each explicit-request conversation, every other turn."""
    rows = []
    for row in business.scenarios:
        last = len(row["messages"]) - 1
        for i, text in enumerate(row["messages"]):
            due = row["expected"].get("trigger") == "explicit_request" and i == last
            rows.append(("scenarios", "person" if due else "not", text))
    return rows


def rates(rows, probabilities, threshold: float, split: str) -> dict:
    picked = [(kind, p) for (s, kind, _t), p in zip(rows, probabilities) if s == split]
    person = [p for kind, p in picked if kind == "person"]
    other = [p for kind, p in picked if kind == "not"]
    hits = sum(p >= threshold for p in person)
    false = sum(p >= threshold for p in other)
    return {"requests": len(person), "recall": round(hits / len(person), 4) if person else None,
            "others": len(other), "read_as_request": false,
            "false_rate": round(false / len(other), 4) if other else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--business", action="append", default=None,
                        help="demo or a business folder (repeatable); default: the demo and the shared packs")
    args = parser.parse_args()

    import django

    django.setup()
    from apps.agent import builtin, engine
    from apps.agent.evaluation.harness import _warm_up, scratch_environment
    from apps.agent.models import AgentSettings
    from apps.agent.packs import business_install, business_read
    from apps.agent.providers import embedder
    from apps.agent.triggers import explicit_request

    where = args.business or development_businesses()
    texts = read_texts()
    shipped_someone = list(builtin.BUILTIN_EXAMPLES[builtin.ABOUT_SOMEONE])
    shipped_human = list(builtin.BUILTIN_EXAMPLES[builtin.HUMAN])
    attending = set(builtin.HUMAN_ATTENDING)
    baseline_human = [t for t in shipped_human if t not in attending]
    shipped_absorb = dict(engine.ABSORB)
    results = {}
    started = time.perf_counter()
    for n, place in enumerate(where, 1):
        business = business_read(place)
        rows = texts + scenario_texts(business)
        print(f"[{n}/{len(where)}] {business.name}: {len(rows)} texts", flush=True)
        with scratch_environment():
            business_install(business)
            _warm_up()
            threshold = AgentSettings.load().explicit_request_threshold
            embed = embedder()
            vectors = embed([t for _s, _k, t in rows])
            out = {}
            for label in ("baseline", "shipped"):
                try:
                    if label == "baseline":
                        builtin.BUILTIN_EXAMPLES[builtin.ABOUT_SOMEONE] = []
                        builtin.BUILTIN_EXAMPLES[builtin.HUMAN] = baseline_human
                        engine.ABSORB = {}
                    engine._engine = None
                    classifier = engine.engine_get().classifier
                    probabilities = [explicit_request(classifier, t, v, embed).probability
                                     for (_s, _k, t), v in zip(rows, vectors)]
                finally:
                    builtin.BUILTIN_EXAMPLES[builtin.ABOUT_SOMEONE] = shipped_someone
                    builtin.BUILTIN_EXAMPLES[builtin.HUMAN] = shipped_human
                    engine.ABSORB = shipped_absorb
                    engine._engine = None
                out[label] = probabilities
            results[business.name] = {"threshold": threshold}
            print(f"  {'set':10} {'model':9} {'requests':>8} {'recall':>7} {'others':>7} {'read as request':>16}")
            for split in ("dev", "report", "scenarios"):
                results[business.name][split] = {}
                for label in ("baseline", "shipped"):
                    r = rates(rows, out[label], threshold, split)
                    results[business.name][split][label] = r
                    recall = f"{100 * r['recall']:.1f}%" if r["recall"] is not None else "-"
                    false = f"{r['read_as_request']} ({100 * r['false_rate']:.1f}%)" if r["false_rate"] is not None else "-"
                    print(f"  {split:10} {label:9} {r['requests']:>8} {recall:>7} {r['others']:>7} {false:>16}")
            changed = [(k, t, a, b) for (s, k, t), a, b in zip(rows, out["baseline"], out["shipped"])
                       if (a >= threshold) != (b >= threshold)]
            for kind, text, before, after in changed:
                print(f"    {kind:6} {before:.2f} -> {after:.2f}  {text[:90]}")
    print(json.dumps({"businesses": results, "seconds": round(time.perf_counter() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
