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


def detect_language(text: str) -> tuple[str, float]:
    """Return ("en"|"es"|"", confidence 0..1) for ``text``."""
    lowered = (text or "").lower()
    words = _WORD.findall(lowered)
    if not words:
        return "", 0.0
    es = en = 0.0
    for word in words:
        plain = (word.replace("á", "a").replace("é", "e").replace("í", "i").replace("ó", "o")
                 .replace("ú", "u").strip("¿¡'"))
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
