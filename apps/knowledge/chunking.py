"""Split parsed sections into retrieval chunks.

Customer-service answers are short: a chunk should hold one answer with its context (about
600-900 characters), start at a heading or paragraph boundary, and repeat the tail of the previous
chunk of the same section (overlap) so a fact split across a boundary is still found whole. The
heading path is kept on the chunk and prepended to the embedded text, because "How much is it?"
under "Fibra 300" is only findable with its heading.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .parsers import Section

TARGET_CHARS = 750
MAX_CHARS = 900
OVERLAP_CHARS = 150


@dataclass
class ChunkDraft:
    ordinal: int
    heading: str
    text: str
    language: str = ""

    @property
    def embed_text(self) -> str:
        return f"{self.heading}\n{self.text}" if self.heading and not self.text.startswith("Q: ") else self.text


_SENTENCE = re.compile(r"(?<=[.!?;:])\s+(?=[A-ZÁÉÍÓÚÑ¿¡0-9\"(-])")


def _split_long(paragraph: str, limit: int) -> list[str]:
    """A paragraph longer than ``limit``: split at sentences, then at words."""
    if len(paragraph) <= limit:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE.split(paragraph):
        while len(sentence) > limit:  # a single monster sentence: cut at a space
            cut = sentence.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            head, sentence = sentence[:cut].strip(), sentence[cut:].strip()
            if current:
                pieces.append(current)
                current = ""
            pieces.append(head)
        if current and len(current) + 1 + len(sentence) > limit:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return pieces


def _tail(text: str, size: int) -> str:
    """The last ``size``-ish characters, starting at a sentence or word boundary."""
    if len(text) <= size:
        return text
    window = text[-size:]
    for sep in (". ", "? ", "! ", "\n"):
        idx = window.find(sep)
        if 0 <= idx < size // 2:
            return window[idx + len(sep):].strip()
    idx = window.find(" ")
    return window[idx + 1:].strip() if idx >= 0 else window


def chunk_sections(sections: list[Section], *, target: int = TARGET_CHARS, maximum: int = MAX_CHARS,
                   overlap: int = OVERLAP_CHARS) -> list[ChunkDraft]:
    drafts: list[ChunkDraft] = []

    def emit(heading: str, text: str) -> None:
        text = text.strip()
        if text:
            drafts.append(ChunkDraft(ordinal=len(drafts), heading=heading[:300], text=text))

    for section in sections:
        if section.faq:
            for para in section.paragraphs:
                emit(section.heading, para)
            continue
        paras: list[str] = []
        for para in section.paragraphs:
            paras += _split_long(para, maximum - overlap)
        current = ""
        fresh = False  # does ``current`` hold anything beyond the overlap carried over?
        for para in paras:
            candidate = f"{current}\n\n{para}" if current else para
            if current and fresh and len(candidate) > maximum:
                emit(section.heading, current)
                carried = _tail(current, overlap)
                current = f"{carried}\n\n{para}" if carried else para
            else:
                current = candidate
            fresh = True
            if len(current) >= target:
                emit(section.heading, current)
                current = _tail(current, overlap)
                fresh = False
        if current and fresh:
            emit(section.heading, current)
    return drafts


# --- language ---------------------------------------------------------------------------------------

_ES = set("""de la que el en y los del se las por un para con no una su al lo como más pero sus le ya o
este sí porque esta entre cuando muy sin sobre también me hasta hay donde quien desde todo nos durante
todos uno les ni contra otros ese eso ante ellos e esto mí antes algunos qué unos yo otro otras otra él
tanto esa estos mucho quienes nada muchos cual poco ella estar estas algunas algo nosotros usted ustedes
tu tus es son está están puede pueden hace cómo cuánto cuál factura servicio plan precio pago""".split())
_EN = set("""the of and to in is you that it he was for on are as with his they at be this have from or
one had by word but not what all were we when your can said there use an each which she do how their if
will up other about out many then them these so some her would make like him into time has look two more
write go see number no way could people my than first been call who its now find long down day did get
come made may part our please account service plan price payment bill""".split())


def detect_language(text: str) -> str:
    """'es' or 'en' by stopword counts (good enough for whole chunks; '' when it cannot tell)."""
    words = re.findall(r"[a-záéíóúñü]+", text.lower())
    if not words:
        return ""
    es = sum(w in _ES for w in words) + 2 * sum(1 for ch in text if ch in "ñ¿¡áéíóú")
    en = sum(w in _EN for w in words)
    if es == en:
        return ""
    return "es" if es > en else "en"
