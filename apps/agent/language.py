"""English/Spanish detection for short customer messages (no model: function words and orthography).

Short chat lines ("hola", "ok", "gracias") carry little signal, so the detector returns a
confidence and callers keep the conversation's language unless the evidence is clear.
"""
from __future__ import annotations

import re

_WORD = re.compile(r"[a-záéíóúüñ¿¡']+", re.IGNORECASE)

ES_WORDS = frozenset("""
a al algo algun alguna ante aqui asi aun bien bueno buenas buenos como con cual cuando cuanto cuanta de del
desde donde el ella ellos en entre es esa ese eso esta estan estas este esto estoy favor fue gracias ha hay
hola hoy la las le les lo los mas me mi mis muy nada necesito ni no nos nosotros o otra otro para pero poco
por porque puedo puede que quien quiero se ser si sin sobre son soy su sus tambien tengo tiene todo todos
tu tus un una uno unos usted ustedes va vamos y ya yo hace hacer dia dias mañana tarde noche ayuda mio
cuenta factura servicio plan planes baja llamar persona humano hablar funciona anda internet
""".split())
EN_WORDS = frozenset("""
a about after all am an and any are as at be been but by can could did do does doesnt dont for from get got
had has have hello hey hi how i if im in is it its ive just know like me my need no not now of on or our
out please plan plans so some than thanks thank that the their them then there this to too up us was we
what when where which who why will with would yes you your youre can't don't i'm it's working work want
talk speak person human someone help bill account service
""".split())


_TOKEN = re.compile(r"[A-Za-zÁÉÍÓÚÜÑáéíóúüñ']+")
_NAME_JOINERS = frozenset({"de", "del", "la", "las", "los", "y", "e", "el"})


def _opens(text: str, start: int) -> bool:
    """The word at ``start`` opens a sentence, a line or a list item (spaces, quotes and an opening
    parenthesis before it aside). One look back from the word, not a scan of all that precedes it."""
    j = start - 1
    while j >= 0 and text[j] in " \t\r\"'“«(":
        j -= 1
    return j < 0 or text[j] in ".!?¿¡:;\n•*—" or (text[j] == "-" and (j == 0 or text[j - 1].isspace()))


def _names_out(text: str) -> str:
    """``text`` without its proper names: a capitalised word that does not open a sentence ("Córdoba",
    "Neuquén"), an acronym ("CABA", "AMBA"), the words that join a name's capitalised words ("Tierra
    *del* Fuego", "San Martín *de los* Andes") and a sentence's first word when a name goes on after it
    ("Río Grande", "Buenos Aires"). Place and brand names are in the language of where they are, not of
    who writes: "I live in Río Grande, Tierra del Fuego" is English."""
    tokens = [(m.start(), m.end(), m.group(0)) for m in _TOKEN.finditer(text or "")]
    capital = [w[0].isupper() or (len(w) > 1 and w.isupper()) for _s, _e, w in tokens]
    opening = [_opens(text, s) for s, _e, _w in tokens]
    name = [c and (not o or (len(w) > 1 and w.isupper())) for c, o, (_s, _e, w) in zip(capital, opening, tokens)]
    for i in range(len(tokens)):
        nxt = i + 1
        while nxt < len(tokens) and tokens[nxt][2].lower() in _NAME_JOINERS and not capital[nxt]:
            nxt += 1
        plain = _plain(tokens[i][2].lower())
        if (capital[i] and nxt < len(tokens) and nxt > i and capital[nxt] and not opening[nxt]
                and not (opening[i] and (plain in ES_WORDS or plain in EN_WORDS))):
            # a name goes on after this capitalised word: it and the joining words are the name's
            for j in range(i, nxt):
                name[j] = True
    out, last = [], 0
    for (s, e, _w), skip in zip(tokens, name):
        if skip:
            out.append(text[last:s])
            out.append(" ")
            last = e
    out.append(text[last:])
    return "".join(out)


def _plain(word: str) -> str:
    return (word.replace("á", "a").replace("é", "e").replace("í", "i").replace("ó", "o")
            .replace("ú", "u").strip("¿¡'"))


def detect_language(text: str) -> tuple[str, float]:
    """Return ("en"|"es"|"", confidence 0..1) for ``text``, read without its proper names
    (``_names_out``) when the rest decides; else (a short "Me mudo a Buenos Aires") with them."""
    found = _score(_names_out(text or ""))
    return found if found[1] > 0 else _score(text or "")


def _score(text: str) -> tuple[str, float]:
    lowered = text.lower()
    words = _WORD.findall(lowered)
    if not words:
        return "", 0.0
    es = en = 0.0
    for word in words:
        plain = _plain(word)
        in_es, in_en = plain in ES_WORDS, word in EN_WORDS or plain in EN_WORDS
        if in_es and not in_en:
            es += 1
        elif in_en and not in_es:
            en += 1
        elif in_es and in_en:
            es += 0.3
            en += 0.3
        if any(ch in word for ch in "ñ¿¡áéíóú"):
            es += 1.5
        if plain.endswith(("cion", "ciones", "mente", "amos", "ando", "iendo")):
            es += 0.5
        if plain.endswith(("ing", "tion", "ly")) or "'" in word:
            en += 0.5
    total = es + en
    if total == 0:
        return "", 0.0
    lang = "es" if es >= en else "en"
    margin = abs(es - en) / total
    strength = min(1.0, total / 3.0)
    return lang, round(margin * strength, 3)
