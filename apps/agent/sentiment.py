"""Sentiment of one customer message in English or Spanish, -1 (angry) .. +1 (happy).

Two scorers:

- ``sentiment_model_score`` (what the local provider uses): a learned 3-class model (negative /
  neutral / positive), a multinomial logistic regression on the multilingual USE embedding the
  agent already computes for the message, plus a few hand-made signals (the lexicon score below,
  counts of negative / positive lexicon words, a negator, mood emoji and emoticons, "!" and "?").
  Trained on UMSAB (SemEval-2017 English, InterTASS Spanish) by ``python bench/sentiment.py
  --write``, which writes the weights to ``apps/agent/data/sentiment.npz`` (a few KB, shipped in the
  repository: the product never reads the dataset). Score = P(positive) - P(negative). Cost on top of
  the embedding: one 3 x 520 matrix-vector product.
- ``sentiment_score``: the lexicon scorer (valence words, negation, intensifiers, shouting, repeated
  punctuation), in the spirit of VADER, with a Spanish lexicon beside the English one. It is the
  baseline in ``bench/sentiment.py`` and the fallback when no embedding is at hand (the remote
  provider's failures, tests without the model file).

Either only ever feeds the *sustained* negative-sentiment trigger: one angry message never
escalates on its own (``apps.agent.triggers``).
"""
from __future__ import annotations

import functools
import math
import re
import unicodedata
from pathlib import Path

import numpy as np

MODEL_PATH = Path(__file__).resolve().parent / "data" / "sentiment.npz"
LEXICON_FEATURE_WEIGHT = 2.0  # the lexicon score joins the embedding as one feature, scaled

_TOKEN = re.compile(r"[\w']+|[!?]+", re.UNICODE)


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn")


_NEG = {
    # English
    "angry": 2.5, "annoyed": 2, "annoying": 2, "awful": 3, "bad": 1.5, "broken": 1.5, "disappointed": 2.2,
    "disappointing": 2.2, "disgrace": 3, "disgusting": 3, "fed": 1, "frustrated": 2.3, "frustrating": 2.3,
    "furious": 3.2, "garbage": 3, "hate": 3, "horrible": 3, "incompetent": 3, "joke": 1.5, "mad": 2,
    "nightmare": 3, "pathetic": 3, "rubbish": 3, "ridiculous": 2.5, "scam": 3, "sick": 1.8, "shame": 2,
    "stupid": 2.8, "terrible": 3, "useless": 2.8, "unacceptable": 3, "upset": 2.2, "worst": 3.2, "worse": 2.2,
    "waste": 2, "wtf": 3, "damn": 2.2, "hell": 1.5, "crap": 2.8, "sucks": 2.8, "suck": 2.5, "liars": 3,
    "lie": 1.5, "lied": 2.5, "thieves": 3, "robbery": 3, "rip": 1, "fraud": 3, "never": 0.5, "again": 0.3,
    "tired": 1.5, "sue": 2.5, "lawyer": 1.5, "complaint": 1, "unhappy": 2.2, "sad": 1.5, "fault": 1.2,
    "slow": 0.8, "outrageous": 3, "insane": 2.2, "unbelievable": 2, "fucking": 3, "shit": 3, "shitty": 3,
    # Spanish (folded: no accents)
    "enojado": 2.5, "enojada": 2.5, "furioso": 3.2, "furiosa": 3.2, "harto": 2.5, "harta": 2.5, "podrido": 2.5,
    "podrida": 2.5, "pesimo": 3.2, "pesima": 3.2, "horrible": 3, "malo": 1.5, "mala": 1.5, "mal": 1.2,
    "inutil": 2.8, "inutiles": 3, "verguenza": 3, "vergonzoso": 3, "estafa": 3, "estafadores": 3,
    "ladrones": 3, "robo": 3, "mentira": 2, "mentirosos": 3, "basura": 3, "asco": 3, "desastre": 3,
    "incompetentes": 3, "incompetente": 3, "indignado": 3, "indignada": 3, "molesto": 2, "molesta": 2,
    "cansado": 1.5, "cansada": 1.5, "decepcionado": 2.2, "decepcionada": 2.2, "inaceptable": 3,
    "ridiculo": 2.5, "terrible": 3, "peor": 2.5, "odio": 3, "denuncia": 2, "denunciar": 2.2, "abogado": 1.5,
    "reclamo": 0.8, "nunca": 0.5, "burla": 2.5, "cargada": 1.5, "joda": 2.5, "mierda": 3, "carajo": 2.5,
    "porqueria": 3, "lamentable": 2.5, "triste": 1.5, "colmo": 2.5, "paciencia": 0.8, "desastroso": 3,
    "lento": 0.8, "ineficientes": 2.5, "chanta": 2.5, "chantas": 2.8, "increible": 0.5,
}
_POS = {
    "thanks": 2, "thank": 2, "great": 2.5, "good": 1.8, "excellent": 3, "perfect": 2.8, "awesome": 3,
    "love": 2.5, "happy": 2.2, "helpful": 2, "nice": 1.8, "amazing": 3, "fine": 0.8, "glad": 2, "appreciate": 2,
    "wonderful": 3, "solved": 1.5, "works": 1, "cool": 1.5, "ok": 0.3, "okay": 0.3,
    "gracias": 2, "genial": 2.5, "bueno": 1.2, "buena": 1.2, "bien": 1, "excelente": 3, "perfecto": 2.8,
    "perfecta": 2.8, "buenisimo": 3, "barbaro": 2.5, "contento": 2.2, "contenta": 2.2, "feliz": 2.5,
    "amable": 2, "encanta": 2.5, "maravilloso": 3, "solucionado": 1.5, "funciona": 0.8, "joya": 2.5,
    "dale": 0.5, "espectacular": 3,
}
_NEGATORS = {"not", "no", "never", "dont", "don't", "doesn't", "doesnt", "isn't", "isnt", "wasn't", "cannot",
             "can't", "cant", "won't", "nunca", "ni", "tampoco", "sin", "nada"}
_BOOST = {"very": 0.3, "so": 0.25, "really": 0.3, "extremely": 0.5, "totally": 0.3, "completely": 0.3,
          "absolutely": 0.4, "fucking": 0.5, "super": 0.3, "muy": 0.3, "re": 0.3, "tan": 0.25, "demasiado": 0.3,
          "totalmente": 0.3, "completamente": 0.3, "realmente": 0.3, "mas": 0.15, "bastante": 0.2, "recontra": 0.5}
# Phrases that are negative as a whole (checked on the folded text).
_PHRASES = {
    "fed up": 2.5, "sick of": 2.5, "sick and tired": 3, "had enough": 2.5, "no sirve": 2.2, "no funciona nada": 2.5,
    "no anda nada": 2.5, "estoy harto": 1, "me tienen cansado": 2.5, "me tienen harto": 3, "ya no se": 0.5,
    "what a joke": 2.5, "que verguenza": 1, "una verguenza": 1, "una burla": 1, "second time": 1,
    "third time": 1.8, "tercera vez": 1.8, "segunda vez": 1, "otra vez": 1, "again and again": 2,
    "una y otra vez": 2, "nobody helps": 2.5, "nadie me ayuda": 2.5, "nadie responde": 2.2, "no one answers": 2.2,
    "not working": 1.2, "doesn't work": 1.2, "doesnt work": 1.2, "no anda": 1.2, "sin servicio": 1,
    "sin internet": 1, "dar de baja": 0.3, "no puede ser": 2,
}


def sentiment_score(text: str) -> float:
    """-1..1; around 0 for neutral questions. Works on English and Spanish."""
    if not text:
        return 0.0
    raw_tokens = _TOKEN.findall(text)
    folded_text = " ".join(_fold(t) for t in raw_tokens)
    total = 0.0
    tokens = [_fold(t) for t in raw_tokens]
    for i, (raw, tok) in enumerate(zip(raw_tokens, tokens)):
        value = 0.0
        if tok in _NEG:
            value = -_NEG[tok]
        elif tok in _POS:
            value = _POS[tok]
        if not value:
            continue
        window = tokens[max(0, i - 3):i]
        if any(w in _BOOST for w in window):
            value *= 1 + max(_BOOST.get(w, 0) for w in window)
        if any(w in _NEGATORS for w in window):
            # "not bad" softens to mildly positive; "not good" becomes negative.
            value = -value * (0.5 if value < 0 else 0.75)
        if raw.isupper() and len(raw) > 2:
            value *= 1.4
        total += value
    for phrase, weight in _PHRASES.items():
        if phrase in folded_text:
            total -= weight
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        total -= 1.5  # SHOUTING
    bangs = text.count("!")
    if bangs >= 2 and total < 0:
        total -= min(bangs, 4) * 0.4
    if total == 0:
        return 0.0
    return round(total / math.sqrt(total * total + 15), 3)  # VADER-style squash into -1..1


# --- the learned model ---------------------------------------------------------------------------

# Emoji and emoticons that carry a mood (customers write them too). Hand-made, not fitted.
_POS_EMOJI = set("😂😍❤♥😊😁😀😃😄😆😉😘💕💖👍🙌🎉☺💙💜💛💚✨😎🙂🤗💪😻👏🤣😋💗😜")
_NEG_EMOJI = set("😢😭😡😠😞😔😒😩😫💔👎😤😕🙁☹😣😖🤬😱😪😰😑😐🙄")
_POS_EMOTICON = re.compile(r"(?::-?\)|:D|;-?\)|=\)|<3|:P|xD|XD)")
_NEG_EMOTICON = re.compile(r"(?::-?\(|:'\(|D:|:-?/(?!/))")
# The signals beside the embedding, in order: lexicon score (x2), negative / positive lexicon words,
# a negator, positive / negative emoji, "!" and "?" (counts as log(1 + n)).
HAND_FEATURES = 8


def hand_features(text: str) -> list[float]:
    """Lexicon, negation, emoji and punctuation signals of one message (what the embedding blurs)."""
    tokens = [_fold(t) for t in _TOKEN.findall(text)]
    negative = sum(1 for w in tokens if w in _NEG)
    positive = sum(1 for w in tokens if w in _POS)
    pos_emoji = sum(1 for c in text if c in _POS_EMOJI) + len(_POS_EMOTICON.findall(text))
    neg_emoji = sum(1 for c in text if c in _NEG_EMOJI) + len(_NEG_EMOTICON.findall(text))
    return [sentiment_score(text) * LEXICON_FEATURE_WEIGHT, math.log1p(negative), math.log1p(positive),
            float(any(w in _NEGATORS for w in tokens)), math.log1p(pos_emoji), math.log1p(neg_emoji),
            math.log1p(text.count("!")), math.log1p(text.count("?"))]


def sentiment_features(vectors: np.ndarray, texts: list[str]) -> np.ndarray:
    """(n, dim + HAND_FEATURES): the embedding and :func:`hand_features`, the model's input."""
    hand = np.array([hand_features(t) for t in texts], dtype=np.float32).reshape(len(texts), HAND_FEATURES)
    return np.hstack([np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1), hand])


@functools.lru_cache(maxsize=1)
def _model() -> tuple[np.ndarray, np.ndarray] | None:
    if not MODEL_PATH.exists():
        return None
    with np.load(MODEL_PATH) as data:
        return np.ascontiguousarray(data["coef"], dtype=np.float32), data["intercept"].astype(np.float32)


def sentiment_probabilities(vector: np.ndarray, text: str) -> np.ndarray | None:
    """(P(negative), P(neutral), P(positive)) of one message from its embedding, or None when the
    model file is missing or the embedding is not the one it was trained on."""
    model = _model()
    if model is None:
        return None
    coef, intercept = model
    x = sentiment_features(np.asarray(vector)[None, :], [text])[0]
    if x.shape[0] != coef.shape[1]:
        if x.shape[0] - HAND_FEATURES + 1 != coef.shape[1]:
            return None
        x = x[:coef.shape[1]]  # a model trained on the embedding and the lexicon score only
    z = coef @ x + intercept
    z = np.exp(z - z.max())
    return z / z.sum()


def sentiment_model_score(vector: np.ndarray, text: str) -> float:
    """-1..1 = P(positive) - P(negative) from the learned model; the lexicon when it is missing."""
    probs = sentiment_probabilities(vector, text)
    if probs is None:
        return sentiment_score(text)
    return round(float(probs[2] - probs[0]), 4)
