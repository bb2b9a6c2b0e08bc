"""How often English and Spanish use a word: the word frequencies the ``wordfreq`` package ships (its
data is inside the wheel; nothing is downloaded). The agent asks one thing of them: is a word of the
customer's question rare in both languages ("posnet", "losartan", "CyberDay", "acupuntura"), as
opposed to an everyday word the help pages happen not to use ("daughter", "ayer", "plata"), a
conjugation ("explicás", "mandarle"), or a typo of a common word ("daugther")? A rare word the
knowledge base never mentions is what the question is about, and the pages say nothing on it
(``compose.unknown_subjects``).

Frequencies are on wordfreq's Zipf scale: log10 of the occurrences per billion words (3 = once per
million words, 6 = once per thousand)."""
from __future__ import annotations

import math
import re
import threading

# Rare: fewer than one occurrence per million words in English and in Spanish alike, in every form
# the word could be a variant of. A round number, not fitted: "acupuntura" is at 2.8, "podés" 3.9.
RARE_ZIPF = 3.0
# A variant one edit away this common is the word the customer meant to type ("daugther" is
# "daughter", 5.1): once per hundred thousand words or more.
TYPO_OF_ZIPF = 4.0
LANGUAGES = ("en", "es")

_lock = threading.Lock()
_frequencies: tuple[dict, ...] | None = None


def frequencies() -> tuple[dict, ...]:
    """The word-frequency tables of ``LANGUAGES``, only the words at ``RARE_ZIPF`` or more (29,269 English
    and 35,388 Spanish words, a few MB: every other word is rare whatever its frequency). Loaded once per
    process (~0.3 s; warmed with the answer units); wordfreq's own full tables (~70 MB) are dropped."""
    global _frequencies
    if _frequencies is None:
        with _lock:
            if _frequencies is None:
                from wordfreq import get_frequency_dict, get_frequency_list

                floor = 10.0 ** (RARE_ZIPF - 9.0)
                _frequencies = tuple({word: f for word, f in get_frequency_dict(language).items() if f >= floor}
                                     for language in LANGUAGES)
                get_frequency_dict.cache_clear()
                get_frequency_list.cache_clear()
    return _frequencies


def zipf(word: str) -> float:
    """The word's frequency in the more frequent of the two languages, on the Zipf scale; 0 for a word
    under ``RARE_ZIPF`` in both (or never seen)."""
    best = max(table.get(word, 0.0) for table in frequencies())
    return math.log10(best) + 9.0 if best > 0 else 0.0


_STRESSED = str.maketrans("áéíóú", "aeiou")
_VOSEO = re.compile(r"^(\w{3,})([áéí])s$")  # explicás, podés, decís -> explicar, poder, decir
_CLITIC = re.compile(r"^(\w{3,}?[aeiouáéí]r)(?:me|te|se|le|les|lo|la|los|las|nos)$")  # mandarle -> mandar
_ENCLITIC_IMPERATIVE = re.compile(r"^(\w{2,}?)([aeií])(?:me|te|le|les|lo|la|los|las|nos)$")  # decime -> decir
_SUPERLATIVE = re.compile(r"^(\w{3,})[ií]sim([oa]s?)$")  # lentísimo -> lento


def forms(word: str) -> set[str]:
    """The word and what it may be a form of: Spanish voseo and clitic verb forms ("explicás",
    "mandarle", "decime") and their infinitive, a superlative and its adjective ("lentísimo", "lento"),
    the other gender and number ("impaga", "impago", "impagos")."""
    word = word.lower()
    out = {word}
    match = _VOSEO.match(word)
    if match:
        out.add(match.group(1) + {"á": "ar", "é": "er", "í": "ir"}[match.group(2)])
    match = _CLITIC.match(word)
    if match:
        out.add(match.group(1).translate(_STRESSED))
    match = _ENCLITIC_IMPERATIVE.match(word)
    if match:
        out.add(match.group(1).translate(_STRESSED) + match.group(2).translate(_STRESSED) + "r")
    match = _SUPERLATIVE.match(word)
    if match:
        out.add(match.group(1) + match.group(2))
    for form in list(out):
        stem = form[:-1] if form.endswith("s") else form
        if stem.endswith(("a", "o")):
            out.update({stem[:-1] + "a", stem[:-1] + "o", stem[:-1] + "as", stem[:-1] + "os"})
        if stem != form:
            out.add(stem)
    return out


# A verb form: what someone did or does ("sustrajo", "rebautizaron", "amonestado", "cotizaban", "jubilarme",
# "rebooted", "geocaching"), not the thing a question asks about. A verb's rarer forms are rare even when
# the verb is not, and across languages they seldom share letters with the pages' words.
_VERB_FORM = re.compile(r"(?:ó|ió|aron|ieron|aba|aban|ado|ada|ados|adas|ido|ida|idos|idas|ído|ída|ando|iendo|yendo|"
                        r"ar|er|ir|ase|iese|ara|iera|ajo|ijo|ujo|uvo|jeron|ed|ing)$")
# In a Spanish question, also the present of the company the customer addresses and the voseo: "¿Me
# igualan el precio?", "¿Lo reponen?", "¿Cuánto cobrás?" (not -men/-gen: "abdomen", "imagen"). Not in
# an English one, where "losartan" and "ibuprofen" are the things asked about.
_SPANISH_PRESENT = re.compile(r"(?:an|(?<![mg])en|amos|emos|imos|ás|és|ís)$")


def looks_like_verb_form(word: str, *, spanish: bool = False) -> bool:
    """The word, or a form it may be a variant of (``forms``), ends like an English or Spanish verb form
    (``spanish``: the question is in Spanish, so its present-tense endings count too)."""
    return any(_VERB_FORM.search(form) or (spanish and _SPANISH_PRESENT.search(form)) for form in forms(word))


_LETTERS = "abcdefghijklmnopqrstuvwxyzáéíóúñü"


def one_edit(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in splits if b}
            | {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
            | {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
            | {a + c + b for a, b in splits for c in _LETTERS})


def is_rare(word: str) -> bool:
    """The word, in every form it may be a variant of (``forms``), is under ``RARE_ZIPF`` in English
    and in Spanish, and it is not a typo of a common word (no string one edit away at
    ``TYPO_OF_ZIPF`` or more)."""
    word = word.lower()
    if any(zipf(form) >= RARE_ZIPF for form in forms(word)):
        return False
    return not any(zipf(variant) >= TYPO_OF_ZIPF for variant in one_edit(word))
