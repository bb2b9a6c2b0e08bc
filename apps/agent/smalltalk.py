"""Short small talk the scope classifier has no class for: "How are you?", "ok", "bye", "Are you a bot?",
"What can you do?", "I don't understand" (``builtin.SMALLTALK_EXAMPLES``), and emoji alone.

Recognised by the nearest example, not by the classifier: adding these classes to the classifier moved 13
labelled conversations of the development businesses the wrong way and 3 the right way (shipped models,
stop 50), its topics and out-of-scope class being tuned as they are. A message of at most
``MAX_WORDS`` words whose embedding is at least ``MIN_SIMILARITY`` (cosine) from an example is that small
talk, unless the classifier reads it as a request for a person ("Are you a robot? I want a person").

``MIN_SIMILARITY`` was chosen on CLINC150's validation split (``bench/smalltalk.py``): the lowest value
at which no short message of another intent (nor an out-of-scope one) reaches an example, plus a margin.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

import numpy as np

from . import builtin

MAX_WORDS = 8
# per class, beyond the examples' own words: asking about the bot takes two words at least ("who?" after an
# answer is not "who are you?")
MIN_WORDS = {builtin.ABOUT_BOT: 2}
MIN_SIMILARITY = 0.7
# classes the classifier itself reads (its own reading stands)
_CLASSIFIER_READS = (builtin.GREETING, builtin.THANKS)
# "Are you a bot?" read by the classifier as a request for a person: answered when this near an example (no
# labelled request for a person of the development businesses is nearer than 0.64)
ABOUT_BOT_OVER_REQUEST = 0.8

_examples: tuple[list[str], np.ndarray] | None = None  # derived from the code's examples, same in every process


def _example_vectors(embed) -> tuple[list[str], np.ndarray]:
    global _examples
    if _examples is None:
        pairs = [(label, text) for label, texts in builtin.SMALLTALK_EXAMPLES.items() for text in texts]
        vectors = np.asarray(embed([text for _label, text in pairs]), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        _examples = ([label for label, _text in pairs], vectors)
    return _examples


def nearest_smalltalk(vector, embed) -> tuple[str, float]:
    """(the small-talk class of the nearest example, its cosine similarity)."""
    labels, vectors = _example_vectors(embed)
    v = np.asarray(vector, dtype=np.float32)
    v = v / max(float(np.linalg.norm(v)), 1e-9)
    sims = vectors @ v
    best = int(sims.argmax())
    return labels[best], float(sims[best])


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", (text or "").casefold()).split())


def smalltalk_class(text: str, vector, classifier_label: str, embed) -> str:
    """The small-talk class of a short message near one of its examples, or "".

    - One of the examples' own words (up to case and punctuation: "Chau", "OK!") is that class; so are
      emoji alone (👍, 🙏, 👋: ``emoji_class``).
    - A short farewell that asks nothing ("Chau, buenas noches", "ok thanks, bye") is a goodbye, whatever
      greeting or thanks the classifier reads in it.
    - A message the classifier reads as a greeting or thanks keeps that reading ("hey" is nearer "ok" than
      any greeting example); it is small talk either way, even when its scope is low ("How are you?" is one
      of the classifier's out-of-scope examples).
    - A message the classifier reads as a request for a person stays one ("Are you a robot? I want a
      person"), unless it is very near an example of asking about the bot ("Are you a bot?", at
      ``ABOUT_BOT_OVER_REQUEST``): that is answered, offering a person."""
    if not 0 < len((text or "").split()) <= MAX_WORDS:
        return ""
    exact = _EXACT.get(_plain(text)) or emoji_class(text)
    if exact:
        return exact
    label, similarity = nearest_smalltalk(vector, embed)
    if (_FAREWELL.search(text) and "?" not in text and classifier_label != builtin.HUMAN
            and (classifier_label in _CLASSIFIER_READS or similarity >= MIN_SIMILARITY)):
        # "Chau, buenas noches", "ok thanks, bye": read as a greeting or thanks, said when leaving
        return builtin.GOODBYE
    if similarity < MIN_SIMILARITY:
        return ""
    if classifier_label == builtin.HUMAN:
        return label if label == builtin.ABOUT_BOT and similarity >= ABOUT_BOT_OVER_REQUEST else ""
    if classifier_label in _CLASSIFIER_READS:
        return classifier_label
    if len(text.split()) < MIN_WORDS.get(label, 1):
        return ""
    return label


# A message of emoji alone (skin tones and joiners aside): 👍 is "ok", 🙏 "thanks", 👋 "bye". Any other emoji
# (😡, 😢) is left to the classifier and the frustration reading.
_EMOJI = {builtin.ACKNOWLEDGE: "👍👌🆗✅✔☑", builtin.THANKS: "🙏❤💙💚💜🧡💛🤍😊🙂😀😁😃😄🥰😍🤗☺",
          builtin.GOODBYE: "👋"}
_IGNORED = {"\ufe0f", "\u200d", *(chr(c) for c in range(0x1F3FB, 0x1F400))}
_FAREWELL = re.compile(r"\b(?:bye|goodbye|see (?:you|ya)|take care|chau|chao|adi[oó]s|nos vemos|"
                       r"hasta (?:luego|ma[nñ]ana|pronto|la pr[oó]xima))\b", re.IGNORECASE)


def emoji_class(text: str) -> str:
    """The small-talk class of a message of emoji alone, all of one class; "" otherwise."""
    chars = [c for c in text or ""
             if not c.isspace() and c not in _IGNORED and not unicodedata.category(c).startswith("P")]
    if not chars:
        return ""
    classes = {next((label for label, emoji in _EMOJI.items() if c in emoji), "") for c in chars}
    return classes.pop() if len(classes) == 1 and "" not in classes else ""


# the examples' own words (up to case and punctuation) -> their class
_EXACT = {_plain(text): label for label, texts in builtin.SMALLTALK_EXAMPLES.items() for text in texts}


def beyond_smalltalk(pred, text: str):
    """A message the classifier reads as small talk but longer than small talk is ("Good morning, how are you? I
    want to know how much the installation costs"): a greeting before what the customer wants, read as its most
    probable other class (a topic, a request for a person, out of scope: "hey how's your day going? do you like
    football?"). ``pred``: the classifier's ``ScopePrediction``."""
    if pred.label not in builtin.SMALLTALK or len((text or "").split()) <= MAX_WORDS:
        return pred
    others = {k: v for k, v in pred.probabilities.items() if k not in builtin.SMALLTALK and k != builtin.ABOUT_SOMEONE}
    if not others:
        return pred
    label = max(others, key=others.get)
    return replace(pred, label=label, probability=float(others[label]))
