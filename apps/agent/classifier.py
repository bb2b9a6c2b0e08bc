"""The local scope/intent classifier: one model for topic intents, "wants a human", small talk and
out-of-scope. The same class runs in the agent and in ``bench/clinc150.py``.

Features: the sentence embedding (multilingual USE, shared with the knowledge base) scaled and
joined with character n-gram and word uni/bigram TF-IDF, so paraphrases (embedding) and
surface cues such as product names, typos and Spanish/English morphology (n-grams) both count.
A multinomial logistic regression is trained over the classes, including an explicit
out-of-scope class when examples of it exist.

The scope score mixes three signals, each measured to help on CLINC150's validation split:
the best in-scope class probability, the cosine similarity to the nearest in-scope training
example (a nearest-example check: unlike softmax, it does not grow when every class is far), and
minus the probability of the out-of-scope class. A message is out of scope when the score is
below a threshold tuned on held-out data (``tune_threshold``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OOS = "oos"


@dataclass
class ScopePrediction:
    label: str                 # best in-scope class (never OOS)
    probability: float         # its probability
    similarity: float          # cosine similarity to the nearest in-scope example
    oos_probability: float     # probability of the explicit out-of-scope class (0 when none)
    scope_score: float         # 0..1, higher = more clearly in scope
    in_scope: bool
    probabilities: dict = field(default_factory=dict)

    def prob(self, label: str) -> float:
        return float(self.probabilities.get(label, 0.0))


class ScopeClassifier:
    def __init__(self, *, C: float = 10.0, embedding_weight: float = 1.5, knn_weight: float = 1.0,
                 oos_weight: float = 0.5, threshold: float = 0.5, text_features: bool = True,
                 max_iter: int = 500, knn_classes: int = 5, char_ngrams: tuple = (2, 5),
                 word_ngrams: tuple = (1, 2), absorb: dict | None = None):
        self.C, self.embedding_weight, self.knn_weight = C, embedding_weight, knn_weight
        # {absorbing class: the class it guards against}: the absorbing class is learned from hard
        # negatives of the guarded class, and at prediction its probability goes to every other class
        # in proportion, never to the guarded one, nor is it ever a label (``_absorbed``)
        self.absorb = dict(absorb or {})
        self.oos_weight, self.threshold, self.text_features, self.max_iter = oos_weight, threshold, text_features, max_iter
        self.knn_classes, self.char_ngrams, self.word_ngrams = knn_classes, tuple(char_ngrams), tuple(word_ngrams)
        self.classes_: np.ndarray | None = None
        self._single: str | None = None

    # --- features --------------------------------------------------------------------------
    def _features(self, texts: list[str], embeddings: np.ndarray, *, fit: bool = False):
        from scipy import sparse

        dense = sparse.csr_matrix(np.asarray(embeddings, dtype=np.float32) * self.embedding_weight)
        if not self.text_features:
            return dense
        texts = [t.lower() for t in texts]
        if fit:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self._chars = TfidfVectorizer(analyzer="char_wb", ngram_range=self.char_ngrams, sublinear_tf=True,
                                          min_df=2 if len(texts) > 2000 else 1, max_features=80000, dtype=np.float32)
            self._words = TfidfVectorizer(ngram_range=self.word_ngrams, sublinear_tf=True, dtype=np.float32,
                                          token_pattern=r"(?u)\b\w+\b")
            chars, words = self._chars.fit_transform(texts), self._words.fit_transform(texts)
        else:
            chars, words = self._chars.transform(texts), self._words.transform(texts)
        return sparse.hstack([dense, chars, words], format="csr")

    # --- training ----------------------------------------------------------------------------
    def fit(self, texts: list[str], labels: list[str], embeddings: np.ndarray) -> "ScopeClassifier":
        from sklearn.linear_model import LogisticRegression

        labels = np.asarray(labels)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        inscope = labels != OOS
        self._examples = np.ascontiguousarray(embeddings[inscope])
        self._example_labels = labels[inscope]
        distinct = sorted(set(labels.tolist()))
        if len(distinct) == 1:
            self._single, self.classes_ = distinct[0], np.asarray(distinct)
            return self
        self._single = None
        self._model = LogisticRegression(C=self.C, max_iter=self.max_iter)
        from threadpoolctl import threadpool_limits

        # One BLAS/OpenMP thread: on 2 cores the solver's threads fight the embedding model's and
        # each other (measured 5-9 s for the FibraSur topics with default threads, 0.6 s with one).
        with threadpool_limits(1):
            self._model.fit(self._features(list(texts), embeddings, fit=True), labels)
        self.classes_ = self._model.classes_
        # Keep the weights as one C-contiguous (features, classes) matrix: sklearn's predict_proba
        # multiplies a sparse row by coef_.T, which makes scipy copy the whole weight matrix on
        # every call (65 ms per query on CLINC150's 50k features; under 1 ms this way).
        if self._model.coef_.shape[0] > 1:
            self._weights = np.ascontiguousarray(self._model.coef_.T, dtype=np.float64)
            self._bias = np.asarray(self._model.intercept_, dtype=np.float64)
        else:
            self._weights = None
        self._oos_index = int(np.flatnonzero(self.classes_ == OOS)[0]) if OOS in self.classes_ else None
        index = {label: i for i, label in enumerate(self.classes_)}
        # (absorbing column, guarded column or None), resolved once here rather than on every prediction
        self._absorb_columns = [(index[a], index.get(g)) for a, g in self.absorb.items() if a in index]
        self._rows_by_class = {}
        for row, label in enumerate(self._example_labels):
            self._rows_by_class.setdefault(index[label], []).append(row)
        self._rows_by_class = {c: np.asarray(r) for c, r in self._rows_by_class.items()}
        return self

    # --- scoring -----------------------------------------------------------------------------
    def raw(self, texts: list[str], embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(class probabilities (n, classes), nearest in-scope example similarity (n,))."""
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if self._single is not None:
            probs = np.ones((len(texts), 1), dtype=np.float32)
        else:
            features = self._features(list(texts), embeddings)
            if self._weights is not None:
                logits = np.asarray(features @ self._weights) + self._bias
                logits -= logits.max(axis=1, keepdims=True)
                probs = np.exp(logits)
                probs /= probs.sum(axis=1, keepdims=True)
            else:
                probs = self._model.predict_proba(features)
        probs = self._absorbed(probs)
        return probs, self._nearest(probs, embeddings)

    def _absorbed(self, probs: np.ndarray) -> np.ndarray:
        """Each absorbing class's probability handed to the other classes in proportion to theirs,
        except the class it guards: "¿Puede otra persona hacer el trámite por mí?" resembles the
        hard negatives of asking for a person (``builtin.ABOUT_SOMEONE``), so that share leaves
        ``human_request`` and goes to the topics, whose reading is otherwise unchanged."""
        columns = getattr(self, "_absorb_columns", None)
        if not columns or self._single is not None:
            return probs
        probs = np.array(probs, dtype=np.float64)
        for a, g in columns:
            mass = probs[:, a].copy()
            probs[:, a] = 0.0
            others = np.ones(probs.shape[1], dtype=bool)
            others[a] = False
            if g is not None:
                others[g] = False
            share = probs[:, others]
            total = share.sum(axis=1, keepdims=True)
            probs[:, others] = share + mass[:, None] * np.where(total > 0, share / np.maximum(total, 1e-12),
                                                                1.0 / max(1, int(others.sum())))
        return probs

    def _nearest(self, probs: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        """Similarity to the nearest in-scope example among the ``knn_classes`` most probable
        classes. Scanning every example is memory-bound (15,000 x 512 floats = 30 MB per query,
        ~20 ms here); the nearest example nearly always belongs to one of the top classes."""
        nearest = np.zeros(len(embeddings), dtype=np.float32)
        if not len(self._examples):
            return nearest
        if self._single is not None or len(self.classes_) <= self.knn_classes:
            return (embeddings @ self._examples.T).max(axis=1)
        top = np.argpartition(-probs, self.knn_classes - 1, axis=1)[:, :self.knn_classes]
        for i in range(len(embeddings)):
            rows = [self._rows_by_class[c] for c in top[i] if c in self._rows_by_class]
            if rows:
                nearest[i] = float((self._examples[np.concatenate(rows)] @ embeddings[i]).max())
        return nearest

    def scope_scores(self, probs: np.ndarray, nearest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(scope score 0..1, best in-scope class index, out-of-scope probability)."""
        inscope = probs.copy()
        oos = np.zeros(len(probs), dtype=np.float64)
        if self._single is None and self._oos_index is not None:
            oos = probs[:, self._oos_index].astype(np.float64)
            inscope[:, self._oos_index] = -1.0
        best = inscope.argmax(axis=1)
        pmax = inscope[np.arange(len(probs)), best]
        score = (pmax + self.knn_weight * np.clip(nearest, 0, 1) + self.oos_weight * (1 - oos))
        score = score / (1 + self.knn_weight + self.oos_weight)
        return score, best, oos

    def predict(self, texts: list[str], embeddings: np.ndarray) -> list[ScopePrediction]:
        probs, nearest = self.raw(texts, embeddings)
        score, best, oos = self.scope_scores(probs, nearest)
        out = []
        for i in range(len(texts)):
            label = str(self.classes_[best[i]])
            out.append(ScopePrediction(
                label=label, probability=float(probs[i, best[i]]), similarity=float(nearest[i]),
                oos_probability=float(oos[i]), scope_score=float(score[i]),
                in_scope=bool(score[i] >= self.threshold and label != OOS),
                probabilities={str(c): float(p) for c, p in zip(self.classes_, probs[i])}))
        return out

    def out_of_fold(self, texts: list[str], labels: list[str], embeddings: np.ndarray, *, folds: int = 5,
                    seed: int = 0, n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cross-fitted scores for choosing the mix and threshold of a model trained on *all* of
        ``texts``: each example is scored by a copy of this classifier (same settings) trained on
        the other folds (stratified). Returns (probabilities (n, classes), nearest similarity (n,),
        classes). Every fold must see every class (at least ``folds`` examples per class)."""
        from joblib import Parallel, delayed
        from sklearn.model_selection import StratifiedKFold

        labels = np.asarray(labels)
        embeddings = np.asarray(embeddings, dtype=np.float32)
        texts = list(texts)
        splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(texts, labels))
        parts = Parallel(n_jobs=n_jobs)(delayed(_fold_scores)(self._params(), texts, labels, embeddings, tr, te)
                                        for tr, te in splits)
        classes = parts[0][2]
        probs = np.zeros((len(texts), len(classes)), dtype=np.float64)
        nearest = np.zeros(len(texts), dtype=np.float32)
        for (tr, te), (p, n, c) in zip(splits, parts):
            if list(c) != list(classes):
                raise ValueError("a fold is missing a class; use fewer folds")
            probs[te], nearest[te] = p, n
        return probs, nearest, classes

    def _params(self) -> dict:
        return {"C": self.C, "embedding_weight": self.embedding_weight, "knn_weight": self.knn_weight,
                "oos_weight": self.oos_weight, "threshold": self.threshold, "text_features": self.text_features,
                "max_iter": self.max_iter, "knn_classes": self.knn_classes, "char_ngrams": self.char_ngrams,
                "word_ngrams": self.word_ngrams, "absorb": dict(self.absorb)}

    def tune_threshold(self, texts: list[str], labels: list[str], embeddings: np.ndarray, *,
                       max_in_scope_loss: float = 0.02) -> float:
        """Pick the threshold on held-out data: the highest one that rejects at most
        ``max_in_scope_loss`` of the in-scope examples that would otherwise be classified right,
        which maximises out-of-scope recall for that in-scope accuracy budget."""
        labels = np.asarray(labels)
        probs, nearest = self.raw(texts, embeddings)
        score, best, _oos = self.scope_scores(probs, nearest)
        correct = (self.classes_[best] == labels) & (labels != OOS)
        if not correct.any():
            return self.threshold
        self.threshold = float(np.quantile(score[correct], max_in_scope_loss))
        return self.threshold


def _fold_scores(params: dict, texts: list[str], labels: np.ndarray, embeddings: np.ndarray, train_rows, test_rows):
    clf = ScopeClassifier(**params).fit([texts[i] for i in train_rows], list(labels[train_rows]), embeddings[train_rows])
    probs, nearest = clf.raw([texts[i] for i in test_rows], embeddings[test_rows])
    return probs, nearest, clf.classes_
