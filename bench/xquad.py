"""Benchmark: does the agent's answer selection give the right answer, in English, Spanish and across?

Run:  python bench/xquad.py [--data ../shared/data/xquad] [--threshold 0.5] [--tune-features FILE] [--tune-only]

XQuAD (Artetxe et al., ACL 2020; English and Spanish, parallel): the 240 passages are the knowledge
base and the 1,190 questions are customers. For each question the agent's own code retrieves
(multilingual USE + TF-IDF blend, as ``apps.knowledge.search``), selects the answering units
(``apps.agent.compose.select_answer``: whole sentences, at most three) and scores its confidence
(``answer_confidence``: the learned answer verifier, whose training data includes this benchmark's
tuning half, never its report half; ``--tune-features FILE`` writes the verifier's features of every
question, flagged by half, for ``bench/fit_answer_verifier.py``). An answer is right when it contains the gold answer span (case/accent
insensitive). Directions: EN questions on EN passages, ES on ES, ES questions on EN passages
(cross-lingual). Articles 1-24 are the tuning half, 25-48 the report half; the figures in the JSON
line are the report half. Precision = right answers among those given (confidence >= the shipped
``confidence_threshold``), coverage = share of questions answered, span_in_answer = share right
when always answering. Baseline in the same run: BM25 over the passages, answer = the top passage's
best BM25 sentence plus neighbours to the same length budget.

Ends with ONE JSON line.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# ../shared/data/xquad beside the checkout (or beside the folder of worktrees)
DEFAULT_DATA = next((p for p in (ROOT.parent / "shared" / "data" / "xquad", ROOT.parent.parent / "shared" / "data" / "xquad")
                     if p.is_dir()), ROOT.parent / "shared" / "data" / "xquad")


@dataclass(frozen=True)
class Hit:  # the fields of apps.knowledge.search.SearchHit that the selection reads
    chunk_id: int
    document_id: int
    document_title: str
    heading: str
    text: str
    score: float
    language: str


def load(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    out = []
    pid = 0
    for article_index, article in enumerate(data):
        for para in article["paragraphs"]:
            out.append({"article": article_index, "pid": pid, "context": para["context"].lstrip("\ufeff"),
                        "qas": [{"id": q["id"], "question": q["question"],
                                 "answers": [a["text"] for a in q["answers"]]} for q in para["qas"]]})
            pid += 1
    return out


class BM25:
    def __init__(self, docs: list[list[str]], k1: float = 1.5, b: float = 0.75):
        self.docs, self.k1, self.b = docs, k1, b
        self.avg = sum(len(d) for d in docs) / max(1, len(docs))
        df = Counter(w for d in docs for w in set(d))
        n = len(docs)
        self.idf = {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}
        self.tf = [Counter(d) for d in docs]

    def score(self, query: list[str], i: int) -> float:
        tf, length = self.tf[i], len(self.docs[i])
        s = 0.0
        for w in query:
            if w in tf:
                f = tf[w]
                s += self.idf.get(w, 0.0) * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * length / self.avg))
        return s

    def scores(self, query: list[str]) -> np.ndarray:
        return np.array([self.score(query, i) for i in range(len(self.docs))])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--threshold", type=float, default=None,
                        help="confidence threshold (default: the shipped AgentSettings default)")
    parser.add_argument("--tune-features", default=None, metavar="FILE",
                        help="write the verifier's features and labels of every question (flagged by half; "
                             "the verifier's fitting reads the tuning half only) to FILE")
    parser.add_argument("--tune-only", action="store_true",
                        help="only the tuning half (articles 1-24): for development, the report half unread")
    args = parser.parse_args()
    data = Path(args.data)
    if not (data / "xquad.en.json").is_file() or not (data / "xquad.es.json").is_file():
        print(f"XQuAD data missing: expected xquad.en.json and xquad.es.json in {data}", file=sys.stderr)
        print(json.dumps({"error": "xquad data missing", "path": str(data)}))
        return 2
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from apps.agent.compose import answer_confidence, content_words, select_answer, split_units, verifier_features
    from apps.agent.evaluation.scoring import fact_present
    from apps.agent.models import AgentSettings
    from apps.knowledge.embeddings import embed_texts
    from apps.knowledge.lexical import LexicalIndex

    threshold = args.threshold if args.threshold is not None else \
        AgentSettings._meta.get_field("confidence_threshold").default
    started = time.perf_counter()
    corpora = {"en": load(data / "xquad.en.json"), "es": load(data / "xquad.es.json")}
    print(f"XQuAD: {len(corpora['en'])} passages, {sum(len(p['qas']) for p in corpora['en'])} questions per language; "
          f"shipped confidence threshold {threshold}")

    def embed(texts):
        return embed_texts(list(texts))

    kb = {}
    for lang, passages in corpora.items():
        t0 = time.perf_counter()
        vectors = embed([p["context"] for p in passages])
        lexical = LexicalIndex([p["context"] for p in passages])
        bm25 = BM25([content_words(p["context"]) for p in passages])
        kb[lang] = (passages, vectors, lexical, bm25)
        print(f"  {lang} knowledge base embedded in {time.perf_counter() - t0:.0f}s")

    directions = [("en_en", "en", "en"), ("es_es", "es", "es"), ("es_en", "es", "en")]
    results: dict[str, dict] = {}
    for name, q_lang, p_lang in directions:
        passages, vectors, lexical, bm25 = kb[p_lang]
        questions = [(q, corpora[q_lang][i]["article"], corpora[p_lang][i]["qas"][j]["answers"])
                     for i, p in enumerate(corpora[q_lang]) for j, q in enumerate(p["qas"])]
        if args.tune_only:
            questions = [x for x in questions if x[1] < 24]
        q_vectors = embed([q["question"] for q, _a, _g in questions])
        rows = []
        t0 = time.perf_counter()
        for n, ((q, article, gold), qv) in enumerate(zip(questions, q_vectors)):
            semantic = np.clip(vectors @ qv, 0, 1)
            lex = lexical.scores(q["question"])
            relevance = (semantic + 0.5 * lex) / 1.5
            top = np.argsort(-relevance)[:4]
            hits = [Hit(chunk_id=int(i) + (0 if p_lang == "en" else 100000), document_id=int(i),
                        document_title="", heading="", text=passages[i]["context"], score=float(semantic[i]),
                        language=p_lang) for i in top]
            selection = select_answer(q["question"], qv, hits, language=q_lang, embed=embed)
            confidence = answer_confidence(selection)
            right = any(fact_present(g, selection.text) for g in gold)
            # BM25 baseline: top passage, its best sentences to the same length
            words = content_words(q["question"])
            b = int(np.argmax(bm25.scores(words)))
            units = split_units(passages[b]["context"])
            unit_scores = [sum(1 for w in set(words) if w in set(content_words(u.text))) for u in units]
            i_best = int(np.argmax(unit_scores)) if units else 0
            chosen, length = [i_best], len(units[i_best].text) if units else 0
            for j in (i_best + 1, i_best - 1):
                if 0 <= j < len(units) and length + len(units[j].text) <= len(selection.text) + 40:
                    chosen.append(j)
                    length += len(units[j].text)
            bm25_text = " ".join(units[j].text for j in sorted(chosen)) if units else ""
            rows.append({"report": article >= 24, "confidence": confidence, "right": right,
                         "bm25_right": any(fact_present(g, bm25_text) for g in gold),
                         "features": verifier_features(selection), "direction": name})
            if (n + 1) % 200 == 0:
                print(f"  {name}: {n + 1}/{len(questions)} ({time.perf_counter() - t0:.0f}s)", flush=True)
        results[name] = rows

    if args.tune_features:
        with open(args.tune_features, "w", encoding="utf-8") as handle:
            for rows in results.values():
                for r in rows:
                    handle.write(json.dumps({k: r[k] for k in ("direction", "report", "right", "features")}) + "\n")
        print(f"features of {sum(len(r) for r in results.values())} questions written to {args.tune_features}")

    from apps.agent.compose import hedge_floor

    floor = hedge_floor() if args.threshold is None else None  # the shipped hedged band, when there is one

    def figures(rows):
        given = [r for r in rows if r["confidence"] >= threshold]
        hedged = [r for r in rows if floor is not None and floor <= r["confidence"] < threshold]
        return {"n": len(rows), "span_in_answer": round(sum(r["right"] for r in rows) / len(rows), 4),
                "precision": round(sum(r["right"] for r in given) / len(given), 4) if given else None,
                "coverage": round(len(given) / len(rows), 4),
                "hedged_precision": round(sum(r["right"] for r in hedged) / len(hedged), 4) if hedged else None,
                "hedged_coverage": round(len(hedged) / len(rows), 4),
                "bm25_span_in_answer": round(sum(r["bm25_right"] for r in rows) / len(rows), 4)}

    out = {"threshold": threshold, "hedge_floor": floor}
    print(f"\n{'direction':10s} {'half':7s} {'n':>5s} {'span-in-answer':>15s} {'precision':>10s} {'coverage':>9s} "
          f"{'BM25 span':>10s}")
    for name, rows in results.items():
        for half, subset in (("tune", [r for r in rows if not r["report"]]), ("report", [r for r in rows if r["report"]])):
            if not subset:
                continue
            f = figures(subset)
            print(f"{name:10s} {half:7s} {f['n']:5d} {f['span_in_answer']:15.3f} "
                  f"{(f['precision'] if f['precision'] is not None else float('nan')):10.3f} {f['coverage']:9.3f} "
                  f"{f['bm25_span_in_answer']:10.3f}")
            if half == "report":
                out[f"precision_{name}"] = f["precision"]
                out[f"coverage_{name}"] = f["coverage"]
                if floor is not None:  # answers of the hedged band (floor <= confidence < threshold)
                    out[f"hedged_precision_{name}"] = f["hedged_precision"]
                    out[f"hedged_coverage_{name}"] = f["hedged_coverage"]
                out[f"span_in_answer_{name}"] = f["span_in_answer"]
                out[f"bm25_span_in_answer_{name}"] = f["bm25_span_in_answer"]
                out[f"questions_{name}"] = f["n"]
    out["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
