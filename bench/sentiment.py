"""Sentiment benchmark for the AI Agent's negative-sentiment trigger: the learned model against the
lexicon scorer, English and Spanish, in the same run.

Data: UMSAB (XLM-T, Barbieri et al. 2022): SemEval-2017 English and InterTASS Spanish tweets,
3 classes (0 negative, 1 neutral, 2 positive), 1,839 train / 324 val / 870 test per language,
expected at ../shared/data/xlmt-sentiment/{english,spanish}/{split}_{text,labels}.txt relative to
the repository root (override with --data). The script says so and stops when it is missing.

Method: ``apps.agent.sentiment``: a multinomial logistic regression on the multilingual USE
embedding (``apps.knowledge.embeddings.embed_texts``, the vector the agent already computes) plus
hand-made signals (``sentiment.hand_features``: the lexicon score, lexicon word counts, a negator,
mood emoji/emoticons, "!" and "?"), trained on both languages' train splits together. The
regularisation C and the signals used (all of them, the lexicon score only, none) are chosen on the
val splits (mean macro-F1 of the two languages); the chosen model is scored on test once. The
English train/val files hold literal "\u2019"-style escapes (test has none): they are decoded
on load. Baseline in the same run:
the lexicon scorer, its neutral band (|score| < t -> neutral) chosen on val by the same rule.

Latency: one message at a time (embedding + model, as the agent would pay it if it had no vector
yet; and the model alone on a ready vector), over the test messages.

    python bench/sentiment.py [--data DIR] [--cache FILE.npz] [--write] [--val-only]

``--val-only`` stops after the choice on val without loading the test split (for trying
configurations; ``bench/sentiment_variants.py`` scores further variants on train/val only).
``--write`` saves the chosen model to apps/agent/data/sentiment.npz (what the product loads).
Prints progress and figures; the last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")

LANGS = {"en": "english", "es": "spanish"}
SPLITS = ("train", "val", "test")
CONFIGS = [{"C": c, "signals": signals} for signals in ("all", "lexicon", "none") for c in (0.1, 0.3, 1.0, 3.0)]
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
PUBLISHED = {"FastText (Barbieri et al. 2022)": 50, "XLM-T (Barbieri et al. 2022)": "68-71"}


def load(data: Path, splits: tuple[str, ...] = SPLITS) -> dict:
    out = {}
    for lang, folder in LANGS.items():
        for split in splits:
            texts = (data / folder / f"{split}_text.txt").read_text(encoding="utf-8").splitlines()
            labels = (data / folder / f"{split}_labels.txt").read_text(encoding="utf-8").split()
            if len(texts) != len(labels):
                raise SystemExit(f"{folder}/{split}: {len(texts)} texts but {len(labels)} labels")
            texts = [_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), t).strip() for t in texts]
            out[(lang, split)] = (texts, np.array([int(x) for x in labels]))
    return out


def embed_all(data: dict, cache: Path | None) -> dict:
    keys = [f"{lang}_{split}" for lang, split in data]
    if cache and cache.exists():
        stored = np.load(cache)
        if all(k in stored for k in keys):
            print(f"embeddings: from {cache}", flush=True)
            return {(k.split("_")[0], k.split("_")[1]): stored[k] for k in keys}
    from apps.knowledge.embeddings import embed_texts

    out = {}
    for (lang, split), (texts, _y) in data.items():
        t0 = time.perf_counter()
        out[(lang, split)] = embed_texts(texts)
        print(f"embedded {lang}/{split}: {len(texts)} in {time.perf_counter() - t0:.1f}s", flush=True)
    if cache:
        np.savez(cache, **{f"{lang}_{split}": v for (lang, split), v in out.items()})
    return out


def scores(y: np.ndarray, pred: np.ndarray) -> dict:
    from sklearn.metrics import f1_score, recall_score

    return {"macro_f1": round(100 * f1_score(y, pred, average="macro"), 1),
            "negative_recall": round(100 * recall_score(y, pred, labels=[0], average=None)[0], 1)}


def features(vectors, texts, signals: str) -> np.ndarray:
    """The agent's features with the unused hand-made signals zeroed ("lexicon": the lexicon score only)."""
    from apps.agent.sentiment import HAND_FEATURES, sentiment_features

    x = sentiment_features(vectors, texts)
    dim = x.shape[1] - HAND_FEATURES
    if signals == "lexicon":
        x[:, dim + 1:] = 0.0
    elif signals == "none":
        x[:, dim:] = 0.0
    return x


def lexicon_predict(texts, band: float) -> np.ndarray:
    from apps.agent.sentiment import sentiment_score

    s = np.array([sentiment_score(t) for t in texts])
    return np.where(s <= -band, 0, np.where(s >= band, 2, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "xlmt-sentiment"))
    parser.add_argument("--cache", default="", help="npz file to keep the embeddings between runs")
    parser.add_argument("--write", action="store_true", help="save the chosen model for the agent")
    parser.add_argument("--val-only", action="store_true",
                        help="score the configurations on val and stop: the test split is not even loaded")
    args = parser.parse_args()
    data_dir = Path(args.data)
    if not (data_dir / "english" / "train_text.txt").exists():
        print(f"UMSAB sentiment data not found at {data_dir} (expected english/ and spanish/ with "
              "{train,val,test}_{text,labels}.txt); nothing measured.", file=sys.stderr)
        raise SystemExit(2)
    import django

    django.setup()
    from sklearn.linear_model import LogisticRegression

    data = load(data_dir, ("train", "val") if args.val_only else SPLITS)
    vectors = embed_all(data, Path(args.cache) if args.cache else None)
    train_texts = data[("en", "train")][0] + data[("es", "train")][0]
    train_y = np.concatenate([data[("en", "train")][1], data[("es", "train")][1]])
    train_v = np.vstack([vectors[("en", "train")], vectors[("es", "train")]])

    print("\nchoice on val (macro-F1 en / es, negative recall en / es):")
    best = None
    for config in CONFIGS:
        clf = LogisticRegression(C=config["C"], max_iter=5000)
        clf.fit(features(train_v, train_texts, config["signals"]), train_y)
        val = {lang: scores(data[(lang, "val")][1],
                            clf.predict(features(vectors[(lang, "val")], data[(lang, "val")][0], config["signals"])))
               for lang in LANGS}
        mean = (val["en"]["macro_f1"] + val["es"]["macro_f1"]) / 2
        print(f"  C={config['C']:<4} signals={config['signals']:<7}  "
              f"{val['en']['macro_f1']:5.1f} / {val['es']['macro_f1']:5.1f}   "
              f"{val['en']['negative_recall']:5.1f} / {val['es']['negative_recall']:5.1f}", flush=True)
        if best is None or mean > best[0]:
            best = (mean, config, clf)
    _mean, chosen, clf = best
    bands = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4]
    band = max(bands, key=lambda b: sum(scores(data[(lang, "val")][1], lexicon_predict(data[(lang, "val")][0], b))
                                         ["macro_f1"] for lang in LANGS))
    print(f"chosen on val: C={chosen['C']}, signals={chosen['signals']}; "
          f"lexicon baseline neutral band |score| < {band}")
    if args.val_only:
        print(json.dumps({"chosen_C": chosen["C"], "chosen_signals": chosen["signals"], "val_mean": round(_mean, 2),
                          "lexicon_band": band}))
        return

    result = {}
    print("\ntest (scored once):")
    print(f"{'':28} {'macro-F1 en':>11} {'macro-F1 es':>11} {'neg. recall en':>14} {'neg. recall es':>14}")
    for name, prefix, predict in (
            ("lexicon (baseline)", "lexicon_", lambda lang: lexicon_predict(data[(lang, "test")][0], band)),
            ("learned model (USE + signals, LR)", "", lambda lang: clf.predict(
                features(vectors[(lang, "test")], data[(lang, "test")][0], chosen["signals"])))):
        row = {lang: scores(data[(lang, "test")][1], predict(lang)) for lang in LANGS}
        for lang in LANGS:
            result[f"{prefix}macro_f1_{lang}"] = row[lang]["macro_f1"]
            result[f"{prefix}negative_recall_{lang}"] = row[lang]["negative_recall"]
        print(f"{name:28} {row['en']['macro_f1']:11.1f} {row['es']['macro_f1']:11.1f} "
              f"{row['en']['negative_recall']:14.1f} {row['es']['negative_recall']:14.1f}")
    for name, value in PUBLISHED.items():
        print(f"{name:28} {str(value):>11} {str(value):>11}   (published, macro-F1)")

    # Latency, one message at a time: what the agent pays per customer message.
    from apps.agent import sentiment
    from apps.knowledge.embeddings import embed_texts

    coef = np.ascontiguousarray(clf.coef_, dtype=np.float32)  # unused signals were zero: weight 0
    intercept = clf.intercept_.astype(np.float32)
    sentiment._model.cache_clear()
    original = sentiment._model
    sentiment._model = lambda: (coef, intercept)  # noqa: E731 - the chosen model, not the shipped file
    from bench._common import percentile

    texts = data[("en", "test")][0][:300] + data[("es", "test")][0][:300]
    full, model_only, lexicon_only = [], [], []
    for i, text in enumerate(texts):
        text = f"{text} #{i}"  # never a cached embedding
        t0 = time.perf_counter()
        vector = embed_texts([text])[0]
        t1 = time.perf_counter()
        sentiment.sentiment_model_score(vector, text)
        t2 = time.perf_counter()
        sentiment.sentiment_score(text)
        t3 = time.perf_counter()
        full.append((t2 - t0) * 1000)
        model_only.append((t2 - t1) * 1000)
        lexicon_only.append((t3 - t2) * 1000)
    sentiment._model = original
    result["p95_ms"] = round(percentile(full, 95), 2)
    result["p95_ms_on_ready_vector"] = round(percentile(model_only, 95), 3)
    result["lexicon_p95_ms"] = round(percentile(lexicon_only, 95), 3)
    print(f"\nlatency per message (600 test messages, one at a time): embedding + model p95 "
          f"{result['p95_ms']} ms; model on the agent's ready vector p95 {result['p95_ms_on_ready_vector']} ms; "
          f"lexicon p95 {result['lexicon_p95_ms']} ms")
    result.update({"chosen_C": chosen["C"], "chosen_signals": chosen["signals"], "lexicon_band": band})

    if args.write:
        sentiment.MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        np.savez(sentiment.MODEL_PATH, coef=coef, intercept=intercept, classes=np.array(["negative", "neutral", "positive"]),
                 meta=np.array(json.dumps({"trained_on": "UMSAB en+es train", "C": chosen["C"],
                                           "signals": chosen["signals"]})))
        print(f"model written to {sentiment.MODEL_PATH.relative_to(ROOT)}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
