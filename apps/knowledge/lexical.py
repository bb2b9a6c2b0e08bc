"""Lexical TF-IDF scoring (words + character trigrams, accents folded) to blend with embeddings.

The multilingual sentence encoder matches meaning across English and Spanish but is weak on
exact tokens: "Fibra 300" vs "Fibra 600", neighbourhood names, "LOS", "Rapipago". A small TF-IDF
over the same chunks fixes those (bench/embeddings.py measures the blend). Pure Python + numpy:
an inverted index from gram to (rows, weights), so a query touches only its own grams.
"""
from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter, defaultdict

import numpy as np

_WORD = re.compile(r"[a-z0-9]+")
# A figure as written ("97,340", "1.200", "45000"): its digits, thousands separators dropped.
_FIGURE = re.compile(r"(?<![\w.,])\d{1,3}(?:[.,]\d{3})+(?![\d])|\d+")


def figure_digits(figure: str) -> str:
    """A figure as written, as its digits: "97,340" and "97.340" -> "97340"."""
    return re.sub(r"[.,]", "", figure)


def figures(text: str) -> set[str]:
    """The whole numbers a text states, as digit strings ("ARS 97.340" and "97,340" -> "97340")."""
    return {figure_digits(m.group(0)) for m in _FIGURE.finditer(text or "")}


# A figure with its unit: a speed or data amount ("10 Gbps", "300 megas", "50 GB") or a percentage
# ("30%", "20 por ciento"). Units of one kind compare as one: "300 megas" is "300 Mbps".
_QUANTITY = re.compile(r"(?<![\w.,])(\d+(?:[.,]\d+)?)\s?(%|(?:por ?ciento|percent|kbps|mbps|gbps|kb|mb|gb|tb|"
                       r"megas?|gigas?|teras?)\b)", re.IGNORECASE)
_UNIT_KIND = {"k": "k", "m": "m", "g": "g", "t": "t", "%": "%", "p": "%"}


def quantities(text: str) -> dict[tuple[str, str], str]:
    """The figures with a unit a text states: {(digits, kind of unit): as written} ("10 Gbps" ->
    ("10", "g"), "300 megas" and "300 Mbps" -> ("300", "m"), "1,49%" and "1.49%" -> ("149", "%"))."""
    out = {}
    for m in _QUANTITY.finditer(text or ""):
        out.setdefault((figure_digits(m.group(1)), _UNIT_KIND[m.group(2)[0].lower()]), m.group(0))
    return out


def grams(text: str) -> list[str]:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words = _WORD.findall(text)
    out = list(words)
    for word in words:
        padded = f" {word} "
        out += [padded[i:i + 3] for i in range(len(padded) - 2)]
    return out


class LexicalIndex:
    def __init__(self, texts: list[str]):
        self.size = len(texts)
        # every figure the texts state, for "an amount no page states" (apps.agent.compose)
        self.figures = frozenset().union(*(figures(t) for t in texts)) if texts else frozenset()
        # every figure with a unit they state, for "a speed or a percentage no page states"
        self.quantities = frozenset().union(*(quantities(t).keys() for t in texts)) if texts else frozenset()
        counts = [Counter(grams(t)) for t in texts]
        df: Counter = Counter()
        for c in counts:
            df.update(c.keys())
        self.idf = {g: math.log((1 + self.size) / (1 + n)) + 1.0 for g, n in df.items()}
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        norms = np.zeros(self.size, dtype=np.float32)
        for row, c in enumerate(counts):
            total = 0.0
            for gram, tf in c.items():
                weight = (1.0 + math.log(tf)) * self.idf[gram]
                rows, weights = postings[gram]
                rows.append(row)
                weights.append(weight)
                total += weight * weight
            norms[row] = math.sqrt(total) or 1.0
        self.postings = {g: (np.asarray(r, dtype=np.int64), np.asarray(w, dtype=np.float32) / norms[r])
                         for g, (r, w) in postings.items()}

    def scores(self, query: str) -> np.ndarray:
        """Cosine (0..1) between the query and every row."""
        out = np.zeros(self.size, dtype=np.float32)
        counts = Counter(grams(query))
        unseen_idf = math.log(1 + self.size) + 1.0  # a gram no chunk has is maximally rare
        q_weights = {g: (1.0 + math.log(tf)) * self.idf.get(g, unseen_idf) for g, tf in counts.items()}
        q_norm = math.sqrt(sum(w * w for w in q_weights.values())) or 1.0
        for gram, weight in q_weights.items():
            posting = self.postings.get(gram)
            if posting is not None:
                out[posting[0]] += posting[1] * (weight / q_norm)
        return np.clip(out, 0.0, 1.0)
