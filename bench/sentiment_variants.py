"""Variants of the sentiment model scored on train (5-fold cross-validation) and val only: the
record behind README "Sentiment" (issue 13, second pass). The test split is never loaded here;
``bench/sentiment.py`` scores the configuration it chooses on test once.

Every variant is trained on both languages' train splits together (as the shipped model) and
reported as macro-F1 per language on val and on 5-fold cross-validation over train (folds
stratified by language and class; 1,839 tweets per language, so its figures move less than the
324-tweet val split's, whose standard error is about 2.5 points).

    python bench/sentiment_variants.py [--data DIR] [--cache FILE.npz] [--only SUBSTRING]

Prints one JSON line per variant.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.sentiment import LANGS, ROOT, embed_all, load  # noqa: E402

_MENTION, _URL = re.compile(r"@\w+"), re.compile(r"http\S+")


def _macro_f1(y, pred) -> float:
    from sklearn.metrics import f1_score

    return 100 * f1_score(y, pred, average="macro")


def _is_es(langs) -> np.ndarray:
    return (np.asarray(langs) == "es")[:, None]


class EmbeddingLR:
    """The shipped family: LR on ``sentiment_features`` (embedding + hand signals). ``signal_scale``
    multiplies the hand signals; ``standardise`` scales every column; ``per_language`` adds
    per-language copies of the features times that factor (shared + per-language weights);
    ``lang_flag`` adds a Spanish indicator."""

    def __init__(self, C=0.3, signal_scale=1.0, standardise=False, per_language=0.0, lang_flag=False):
        self.C, self.scale, self.standardise = C, signal_scale, standardise
        self.per_language, self.lang_flag = per_language, lang_flag

    def x(self, texts, vectors, langs, fit=False):
        from sklearn.preprocessing import StandardScaler

        from apps.agent.sentiment import sentiment_features

        x = sentiment_features(vectors, texts)
        x[:, vectors.shape[1]:] *= self.scale
        if self.per_language:
            es = _is_es(langs)
            x = np.hstack([x, self.per_language * x * es, self.per_language * x * ~es, es.astype(np.float32)])
        elif self.lang_flag:
            x = np.hstack([x, _is_es(langs).astype(np.float32)])
        if self.standardise:
            if fit:
                self.scaler = StandardScaler().fit(x)
            x = self.scaler.transform(x)
        return x

    def fit(self, texts, vectors, y, langs):
        from sklearn.linear_model import LogisticRegression

        self.model = LogisticRegression(C=self.C, max_iter=5000).fit(self.x(texts, vectors, langs, True), y)
        return self

    def predict_proba(self, texts, vectors, langs):
        return self.model.predict_proba(self.x(texts, vectors, langs))


class EmbeddingMLP(EmbeddingLR):
    """One hidden layer on the standardised features, early stopping on 10% of train."""

    def __init__(self, hidden=256, alpha=0.1):
        super().__init__(standardise=True)
        self.hidden, self.alpha = hidden, alpha

    def fit(self, texts, vectors, y, langs):
        from sklearn.neural_network import MLPClassifier

        self.model = MLPClassifier((self.hidden,), alpha=self.alpha, early_stopping=True, max_iter=300,
                                   random_state=0).fit(self.x(texts, vectors, langs, True), y)
        return self


class NgramLR:
    """TF-IDF n-grams of the text (@user and URLs folded), LR: char_wb 2-5 or word 1-2."""

    def __init__(self, kind="char", C=3.0):
        self.kind, self.C = kind, C

    @staticmethod
    def _clean(texts):
        return [_URL.sub("http", _MENTION.sub("@user", t)) for t in texts]

    def fit(self, texts, vectors, y, langs):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        if self.kind == "char":
            self.vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)
        else:
            self.vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True,
                                       token_pattern=r"(?u)[\w']+|[^\w\s]")
        self.model = LogisticRegression(C=self.C, max_iter=5000).fit(self.vec.fit_transform(self._clean(texts)), y)
        return self

    def predict_proba(self, texts, vectors, langs):
        return self.model.predict_proba(self.vec.transform(self._clean(texts)))


def _out_of_fold(make, texts, vectors, y, langs, seed):
    from sklearn.model_selection import StratifiedKFold

    out = np.zeros((len(y), 3))
    strata = np.array([f"{lang}{c}" for lang, c in zip(langs, y)])
    for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(vectors, strata):
        model = make().fit([texts[i] for i in tr], vectors[tr], y[tr], langs[tr])
        out[te] = model.predict_proba([texts[i] for i in te], vectors[te], langs[te])
    return out


class Stack:
    """An LR over the log-probabilities of base models, fitted on their out-of-fold predictions."""

    def __init__(self, bases):
        self.bases = bases

    def fit(self, texts, vectors, y, langs):
        from sklearn.linear_model import LogisticRegression

        oof = [_out_of_fold(b, texts, vectors, y, langs, seed=1) for b in self.bases]
        self.models = [b().fit(texts, vectors, y, langs) for b in self.bases]
        self.meta = LogisticRegression(max_iter=5000).fit(np.hstack([np.log(np.clip(p, 1e-6, 1)) for p in oof]), y)
        return self

    def predict_proba(self, texts, vectors, langs):
        return self.meta.predict_proba(np.hstack([np.log(np.clip(m.predict_proba(texts, vectors, langs), 1e-6, 1))
                                                  for m in self.models]))


class Average:
    def __init__(self, bases, weights):
        self.bases, self.weights = bases, weights

    def fit(self, texts, vectors, y, langs):
        self.models = [b().fit(texts, vectors, y, langs) for b in self.bases]
        return self

    def predict_proba(self, texts, vectors, langs):
        return sum(w * m.predict_proba(texts, vectors, langs) for w, m in zip(self.weights, self.models))


class ClassOffsets:
    """A base model plus per-class log-probability offsets (grid -1..1) that maximise the mean
    macro-F1 of the two languages on its out-of-fold predictions on train."""

    def __init__(self, base):
        self.base = base

    def fit(self, texts, vectors, y, langs):
        logp = np.log(_out_of_fold(self.base, texts, vectors, y, langs, seed=2))
        grid = np.round(np.arange(-1, 1.01, 0.1), 2)
        self.offsets = max(([a, 0.0, b] for a in grid for b in grid), key=lambda o: np.mean(
            [_macro_f1(y[langs == lang], (logp + o)[langs == lang].argmax(1)) for lang in LANGS]))
        self.model = self.base().fit(texts, vectors, y, langs)
        return self

    def predict_proba(self, texts, vectors, langs):
        z = np.log(self.model.predict_proba(texts, vectors, langs)) + self.offsets
        z = np.exp(z - z.max(1, keepdims=True))
        return z / z.sum(1, keepdims=True)


class KnnBlend:
    """(1 - w) x the shipped LR + w x the class shares of the k nearest train tweets (cosine)."""

    def __init__(self, k=20, w=0.2):
        self.k, self.w = k, w

    def fit(self, texts, vectors, y, langs):
        self.vectors, self.y = vectors, y
        self.model = EmbeddingLR().fit(texts, vectors, y, langs)
        return self

    def predict_proba(self, texts, vectors, langs):
        nearest = np.argpartition(-(vectors @ self.vectors.T), self.k, axis=1)[:, :self.k]
        shares = np.stack([(self.y[nearest] == c).mean(1) for c in range(3)], 1)
        return (1 - self.w) * self.model.predict_proba(texts, vectors, langs) + self.w * shares


VARIANTS = {
    "LR C=0.3, all signals (shipped)": lambda: EmbeddingLR(0.3),
    **{f"LR C={c}": (lambda c=c: EmbeddingLR(c)) for c in (0.1, 1.0, 3.0)},
    **{f"LR standardised C={c}": (lambda c=c: EmbeddingLR(c, standardise=True)) for c in (0.01, 0.03, 0.1)},
    "LR C=0.3 + language flag": lambda: EmbeddingLR(0.3, lang_flag=True),
    **{f"LR C={c}, signals x{s}": (lambda c=c, s=s: EmbeddingLR(c, signal_scale=s))
       for s in (0.5, 2.0, 4.0) for c in (0.3, 1.0)},
    **{f"LR shared + per-language C={c} a={a}": (lambda c=c, a=a: EmbeddingLR(c, per_language=a))
       for a in (0.3, 0.6, 1.0) for c in (0.3, 1.0)},
    **{f"MLP {h} alpha={a}": (lambda h=h, a=a: EmbeddingMLP(h, a)) for h in (256, 512) for a in (0.01, 0.1, 1.0)},
    **{f"{kind} n-gram TF-IDF LR C={c}": (lambda kind=kind, c=c: NgramLR(kind, c))
       for kind in ("char", "word") for c in (1.0, 3.0, 10.0)},
    "LR C=0.3 + per-class offsets (train OOF)": lambda: ClassOffsets(lambda: EmbeddingLR(0.3)),
    **{f"LR C=0.3 blended with kNN k={k} w={w}": (lambda k=k, w=w: KnnBlend(k, w)) for k in (20, 50) for w in (0.2, 0.4)},
    "average 0.7 LR + 0.3 char": lambda: Average([EmbeddingLR, NgramLR], [0.7, 0.3]),
    "stack LR + char": lambda: Stack([EmbeddingLR, NgramLR]),
    "stack LR + char + word": lambda: Stack([EmbeddingLR, NgramLR, lambda: NgramLR("word")]),
    "stack shared + per-language LR + char": lambda: Stack([lambda: EmbeddingLR(1.0, per_language=0.3), NgramLR]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "xlmt-sentiment"))
    parser.add_argument("--cache", default="", help="npz file to keep the train/val embeddings between runs")
    parser.add_argument("--only", default="", help="run the variants whose name contains this")
    args = parser.parse_args()
    import django

    django.setup()
    warnings.filterwarnings("ignore")
    data = load(Path(args.data), splits=("train", "val"))
    vectors = embed_all(data, Path(args.cache) if args.cache else None)
    keys = [(lang, "train") for lang in LANGS]
    texts = sum((data[k][0] for k in keys), [])
    y = np.concatenate([data[k][1] for k in keys])
    x = np.vstack([vectors[k] for k in keys])
    langs = np.concatenate([[k[0]] * len(data[k][1]) for k in keys])
    for name, make in VARIANTS.items():
        if args.only not in name:
            continue
        t0 = time.perf_counter()
        model = make().fit(texts, x, y, langs)
        row = {"variant": name}
        for lang in LANGS:
            vt, vy = data[(lang, "val")]
            row[f"val_{lang}"] = round(_macro_f1(vy, model.predict_proba(vt, vectors[(lang, "val")],
                                                                         np.array([lang] * len(vy))).argmax(1)), 1)
        oof = _out_of_fold(make, texts, x, y, langs, seed=0)
        for lang in LANGS:
            row[f"cv_{lang}"] = round(_macro_f1(y[langs == lang], oof[langs == lang].argmax(1)), 1)
        row["val_mean"] = round((row["val_en"] + row["val_es"]) / 2, 2)
        row["cv_mean"] = round((row["cv_en"] + row["cv_es"]) / 2, 2)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
