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


# a row, with or without its outer pipes, its last cell possibly empty ("Rapipago y Pago Fácil |")
_TABLE_ROW = re.compile(r"\S\s*\|\s*\S|^\s*\||\S\s*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_LIST_LINE = re.compile(r"^\s*(?:[-*•+]|\d{1,2}[.)])\s")
LEAD_MAX_CHARS = 240  # a list's or table's lead-in line repeated on each of its pieces, when short


def _split_lines(paragraph: str, limit: int, lead_in: str = "") -> list[str] | None:
    """A table or a list longer than ``limit``, cut between rows / items, never inside one: each
    piece of a table repeats its header row (and rule), each piece of a list its short lead-in
    line ("We will never ask you for:"), so every chunk reads on its own: a row under the wrong
    header, or items without the sentence that says what they are, tells the customer something
    else. ``lead_in``: the paragraph before, when it announces this one ("... for:"). None when the
    paragraph is not a table or a list."""
    lines = paragraph.split("\n")
    rows = [i for i, line in enumerate(lines) if _TABLE_ROW.search(line)]
    items = [i for i, line in enumerate(lines) if _LIST_LINE.match(line)]
    if len(rows) >= 3 and rows == list(range(rows[0], len(lines))):
        lead, start = lines[:rows[0]], rows[0] + (2 if rows[0] + 1 < len(lines) and _TABLE_RULE.match(lines[rows[0] + 1]) else 1)
        head = lines[rows[0]:start]
        body = lines[start:]
    elif len(items) >= 2 and items == list(range(items[0], len(lines))):
        lead, head, body = lines[:items[0]], [], lines[items[0]:]
    else:
        return None
    if any(len(line) > limit for line in body):
        return None  # a row or item longer than a chunk: cut at sentences like prose, or no chunk fits
    lead_text = "\n".join(lead)
    if not lead and lead_in:
        lead_text = lead_in
    repeat = ([lead_text] if lead_text and len(lead_text) <= LEAD_MAX_CHARS and lead_text.rstrip().endswith(":")
              else []) + head
    pieces: list[str] = []
    current = lead + head
    fresh = False
    for line in body:
        if fresh and len("\n".join(current + [line])) > limit:
            pieces.append("\n".join(current))
            current, fresh = list(repeat), False
        current.append(line)
        fresh = True
    if fresh:
        pieces.append("\n".join(current))
    return pieces


def _split_long(paragraph: str, limit: int, lead_in: str = "") -> list[str]:
    """A paragraph longer than ``limit``: a table or list between rows / items (``_split_lines``),
    prose at sentences, then at words."""
    if len(paragraph) <= limit:
        return [paragraph]
    by_lines = _split_lines(paragraph, limit, lead_in)
    if by_lines is not None:
        return by_lines
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
    """The last ``size``-ish characters, starting at a sentence or word boundary. Nothing after a
    table or a list: its rows and items are never cut (``_split_lines``) and a piece of one already
    carries its header or lead-in, so a partial row carried over would only read as noise."""
    last_line = text.rstrip().rsplit("\n", 1)[-1]
    if _TABLE_ROW.search(last_line) or _LIST_LINE.match(last_line):
        return ""
    if len(text) <= size:
        tail = text
    else:
        window = text[-size:]
        for sep in (". ", "? ", "! ", "\n"):
            idx = window.find(sep)
            if 0 <= idx < size // 2:
                tail = window[idx + len(sep):].strip()
                break
        else:
            idx = window.find(" ")
            tail = window[idx + 1:].strip() if idx >= 0 else window
    # A table's last rows followed by a short line ("Detalles importantes:") would start the next
    # chunk as a table without its header, where the first carried row reads as the header and the
    # customer is told "Cirugía refractiva: no no; no no; sí, dentro del mismo tope 50%". Only what
    # follows the table is carried.
    lines = tail.split("\n")
    rows = [i for i, line in enumerate(lines) if _TABLE_ROW.search(line)]
    if rows:
        tail = "\n".join(lines[rows[-1] + 1:]).strip()
    return tail


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
            lead_in = paras[-1] if paras and "\n" not in paras[-1] and paras[-1].rstrip().endswith(":") else ""
            paras += _split_long(para, maximum - overlap, lead_in)
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
