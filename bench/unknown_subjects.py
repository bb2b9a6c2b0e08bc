"""Benchmark: how often does the agent's unknown-subjects rule fire on questions the knowledge base
answers, and on questions it cannot answer?

Run:  python bench/unknown_subjects.py [--data ../shared/data] [--half tune|report] [--no-businesses]

The rule (``apps.agent.compose.unknown_subjects``, README "A question about a thing the pages never
mention"): a word of what the customer asks that no page uses (nor a form, typo or translation of
it), rare in English and Spanish, and not a verb form, is a thing the pages say nothing on: the turn
gets no draft (a low-confidence handoff). Baseline in the same run: the same reading without the
rarity and verb-form tests (any word of the question the pages never use).

- XQuAD (``DATA/xquad``): the 240 passages are the knowledge base and every question is answered by
  its passage, so every question the rule fires on is a handoff it would cause on an answerable
  question. Directions EN->EN, ES->ES, ES->EN (Spanish questions, English passages: every page in
  the other language). ``--half``: articles 1-24 (tune, default) or 25-48 (report).
- The development businesses (the demo and ``DATA/business-packs/*``, when present): each installed
  in a scratch database; every customer turn that asks something is counted as due a low-confidence
  handoff (the last turn of a scenario labelled so) or answerable (a turn the bot should answer).

Ends with ONE JSON line (fractions 0-1).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _common import shared_data  # noqa: E402

DEFAULT_DATA = shared_data()


def _chart(rows: list[tuple[str, float, float]]) -> None:
    """Rule against baseline, one bar each per row (share of questions fired on)."""
    for label, rule, base in rows:
        print(f"  {label:<40} rule     {'#' * round(rule * 50):<50} {rule:6.1%}")
        print(f"  {'':<40} baseline {'#' * round(base * 50):<50} {base:6.1%}")


def xquad_part(data: Path, half: str) -> dict:
    from tqdm import tqdm
    from xquad import load

    from apps.agent.compose import unknown_subjects
    from apps.agent.policy import asks_question
    from apps.knowledge.embeddings import embed_texts
    from apps.knowledge.lexical import LexicalIndex

    folder = data / "xquad"
    if not (folder / "xquad.en.json").is_file() or not (folder / "xquad.es.json").is_file():
        print(f"XQuAD data missing: expected xquad.en.json and xquad.es.json in {folder}", file=sys.stderr)
        return {}
    corpora = {lang: load(folder / f"xquad.{lang}.json") for lang in ("en", "es")}
    vocabularies = {lang: LexicalIndex([p["context"] for p in passages]).idf for lang, passages in corpora.items()}

    def embed(texts):
        return embed_texts(list(texts))

    out = {}
    for name, asked_in, passages_in in (("en_en", "en", "en"), ("es_es", "es", "es"), ("es_en", "es", "en")):
        questions = [q["question"] for p in corpora[asked_in]
                     if (p["article"] < 24) == (half == "tune") for q in p["qas"]]
        fired = baseline = 0
        examples = []
        for question in tqdm(questions, desc=f"XQuAD {name}", unit="question", file=sys.stderr, mininterval=1):
            if asks_question(question):
                words = unknown_subjects(question, vocabularies[passages_in], embed)
                fired += bool(words)
                baseline += bool(unknown_subjects(question, vocabularies[passages_in], embed, rarity=False))
                if words and len(examples) < 3:
                    examples.append(f"{words} {question}")
        out[name] = {"questions": len(questions), "fired": fired / len(questions),
                     "baseline_fired": baseline / len(questions), "examples": examples}
    return out


def business_part(data: Path) -> dict:
    from tqdm import tqdm

    from apps.agent import packs
    from apps.agent.compose import _kb_lexical, unknown_subjects
    from apps.agent.engine import embed
    from apps.agent.evaluation.harness import _warm_up, scratch_environment
    from apps.agent.policy import asks_question

    where = ["demo"] + sorted(str(p) for p in (data / "business-packs").glob("*") if (p / "business.json").is_file())
    if len(where) == 1:
        print(f"business packs missing in {data / 'business-packs'}: the demo only", file=sys.stderr)
    out = {}
    for path in where:
        business = packs.business_read(path)
        counts = {"due_low_confidence": 0, "answerable": 0, "fired_due": 0, "fired_answerable": 0,
                  "baseline_fired_due": 0, "baseline_fired_answerable": 0}
        with scratch_environment():
            packs.business_install(business)
            _warm_up()
            lexical = _kb_lexical()
            vocabulary = lexical.idf if lexical is not None else None
            rows = business.scenarios
            for row in tqdm(rows, desc=business.name, unit="conversation", file=sys.stderr, mininterval=1):
                expected = row["expected"]
                for i, text in enumerate(row["messages"]):
                    last = i == len(row["messages"]) - 1
                    if last and expected.get("trigger") == "low_confidence":
                        kind = "due"
                    elif not last or expected.get("outcome") == "resolved":
                        kind = "answerable"
                    else:
                        continue  # due another handoff
                    if not asks_question(text):
                        continue
                    counts["due_low_confidence" if kind == "due" else "answerable"] += 1
                    counts[f"fired_{kind}"] += bool(unknown_subjects(text, vocabulary, embed))
                    counts[f"baseline_fired_{kind}"] += bool(unknown_subjects(text, vocabulary, embed, rarity=False))
        out[business.name] = counts
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--half", choices=("tune", "report"), default="tune")
    parser.add_argument("--no-businesses", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    started = time.perf_counter()
    xquad = xquad_part(args.data, args.half)
    if xquad:
        print(f"XQuAD, {args.half} half: questions the rule fires on (every one answerable by its passage)")
        _chart([(f"{name} ({v['questions']} questions)", v["fired"], v["baseline_fired"]) for name, v in xquad.items()])
        for name, v in xquad.items():
            for example in v["examples"]:
                print(f"    {name}: {example}")
    businesses = {} if args.no_businesses else business_part(args.data)
    if businesses:
        print("Development businesses: turns that ask something")
        rows = []
        for name, c in businesses.items():
            rows.append((f"{name}: due low confidence ({c['due_low_confidence']})",
                         c["fired_due"] / max(1, c["due_low_confidence"]),
                         c["baseline_fired_due"] / max(1, c["due_low_confidence"])))
            rows.append((f"{name}: answerable ({c['answerable']})",
                         c["fired_answerable"] / max(1, c["answerable"]),
                         c["baseline_fired_answerable"] / max(1, c["answerable"])))
        _chart(rows)
    result = {"half": args.half, "seconds": round(time.perf_counter() - started, 1)}
    for name, v in xquad.items():
        result[f"fired_answerable_{name}"] = round(v["fired"], 4)
        result[f"baseline_fired_answerable_{name}"] = round(v["baseline_fired"], 4)
    result["businesses"] = businesses
    print(json.dumps(result))
    return 0 if xquad or businesses else 2


if __name__ == "__main__":
    raise SystemExit(main())
