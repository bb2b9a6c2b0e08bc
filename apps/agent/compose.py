"""The reply composer: which part of the knowledge base answers the question, and how it reads.

A retrieved chunk is split into *units* a customer can read on their own: whole sentences (the
splitter knows abbreviations: "Av. Colón", "Dr.", "S.A.", "p. ej."), list items, and table rows
(rendered with their column headers: "Vitalia Plus: Argentina ARS 79,900; Uruguay UYU 3,890").
FAQ markup ("Q: … A: …") and Markdown emphasis are removed. Each unit is scored against the
question (embedding similarity plus the share of the question's content words it contains), and
the answer is the best unit with at most two of its neighbours from the same paragraph, list or
table: a few sentences, never a cut one. The same selection serves the agent and bench/xquad.py.

Whether the selection *answers* the question, not only shares its topic, is judged by a learned
answer verifier (:func:`answer_confidence`): a logistic model on the selection's features (unit
similarity, overlaps, margins to the runner-up, answer type asked and found, language, codes of the
question that no document contains), fitted on labelled turns of the development businesses and
XQuAD's tuning half (``apps.agent.evaluation.verifier``), shipped in ``answer_verifier.json``.

Language: a passage in the customer's language is preferred (a small bonus in the ranking, and the
copy in the customer's language of a bilingual page's winning unit: :func:`in_customer_language`). When
the answer can only come from a document in the other language, the local provider (no
translation model ships in a package here) says so in the customer's language and quotes the
passage (:func:`quote_notice`); it never switches language silently.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import places

MAX_ANSWER_CHARS = 420
SAME_LANGUAGE_BONUS = 0.03
# A follow-up ("¿Necesito autorización para una resonancia?" ... "¿Y cuánto tardan en contestar?") asks
# about what the bot just answered: the units of the documents that answer quoted get this much more
# (a few hundredths separate the best units), so "how long" is read on the authorization's page, not on
# the complaints page whose words ("respondemos", "plazos") look more like it.
FOLLOW_UP_SAME_DOCUMENT = 0.1
LEXICAL_WEIGHT = 0.35

QUOTE_NOTICE = {
    "en": "Our help pages only have this in Spanish; this is what they say:",
    "es": "Nuestras páginas de ayuda solo tienen esto en inglés; esto es lo que dicen:",
}
SOURCE_LABEL = {"en": "Source", "es": "Fuente"}

# Abbreviations that end in a period without ending the sentence (lowercased, without the period).
ABBREVIATIONS = frozenset("""
av avda dr dra sr sra srta sres ing lic prof arq cdad gral pje bv bvd blvd st mr mrs ms jr inc ltd co corp
etc vs approx no nro núm num tel int dto depto dpto pto km p ej e g i e fig min máx max aprox aprox cia
s.a s.a.s s.r.l s.l s.a.c s.a.b c.v u.s u.k
""".split())

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”)\]]*\s+(?=[\"'“(¿¡]?[A-ZÁÉÍÓÚÑ0-9])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)])\s+")
_NUMBERED_ITEM = re.compile(r"^\s*\d{1,2}[.)]\s+")
_MD = re.compile(r"(\*\*|__|`)")
_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)]+)\)")
_WORD = re.compile(r"[a-z0-9]+(?:[-/.][a-z0-9]+)*")


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", (text or "").lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


STOPWORDS = frozenset(fold(w) for w in """
a al algo algun alguna algunos ante antes como con contra cual cuales cuando de del desde donde dos el ella
ellas ellos en entre era es esa ese eso esta estan este esto estos fue ha hay la las le les lo los me mi mis
mucho muy nada ni no nos nosotros o os otra otro para pero poco por porque puede puedo que quien se ser si
sin sobre son su sus tambien te tengo tiene tu tus un una uno unos usted y ya yo vos tenes podes cuanto cuanta
cuantos cuantas hace hacer tengo quiero necesito sale cual cuales mi
a about above after again all am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers him his
how i if in into is it its itself just me more most my no nor not now of off on once only or other our out over
own same she should so some such than that the their them then there these they this those through to too under
until up very was we were what when where which while who whom why will with would you your yours im ive dont
get got much many please tell know need want there's what's how's
""".split())


def content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(fold(text)) if w not in STOPWORDS and (len(w) > 2 or w.isdigit())]


# One FAQ entry as the spreadsheet parser writes it ("Q: ...\nA: ..."): its question, its answer.
_FAQ_ENTRY = re.compile(r"^\s*(?:Q|P|Question|Pregunta)\s*:\s*(.+?)\n\s*(?:A|R|Answer|Respuesta)\s*:\s*(.+)$", re.S)


def clean_markup(text: str) -> str:
    """Markdown emphasis and links out, FAQ "Q:/A:" markup out (the answer part stays)."""
    text = _LINK.sub(r"\1", text or "")
    text = _MD.sub("", text)
    faq = _FAQ_ENTRY.match(text)
    if faq:
        text = faq.group(2)
    return text.strip()


def split_sentences(text: str) -> list[str]:
    """Sentences, not cut after an abbreviation ("Av. Colón 1234", "Dr. Pérez", "Pampa S.A. es")."""
    return _joined_after_abbreviations(_SENTENCE_END.split(text.strip()))


def _joined_after_abbreviations(pieces: list[str]) -> list[str]:
    out: list[str] = []
    for piece in pieces:
        if out:
            previous = out[-1]
            last_word = re.search(r"([\w.]+)\.[\"'”)\]]*$", previous)
            token = fold(last_word.group(1)) if last_word else ""
            if token and (token in ABBREVIATIONS or len(token) == 1 or re.fullmatch(r"(?:\w\.)+\w", token)):
                out[-1] = f"{previous} {piece}"
                continue
        out.append(piece)
    return [p.strip() for p in out if p.strip()]


@dataclass
class Unit:
    text: str           # what the customer reads
    block: int          # paragraph / list / table it belongs to
    kind: str           # sentence | item | row | lead
    intro: str = ""     # an item's list lead-in ("We will never ask you for:"), shown with it
    asks: str = ""      # the question of the page's FAQ entry it answers (``faq_entries``), read, not shown
    ordered: bool = False  # an item of a numbered list ("1. Unplug the router"): steps in their order


INTRO_MAX_CHARS = 240  # a list's lead-in longer than this is a paragraph of its own, not a lead-in


def _column_lists(header: list[str], body: list[list[str]]) -> bool:
    """The table's columns are lists side by side, not records ("| Argentina | Uruguay |" over the ways
    to pay in each country): every column is named, no cell holds a figure (a record table's values
    are mostly amounts, terms, limits), no column repeats a cell ("Sí", "Sí": values) nor has a gap
    above a filled cell, and one ends at least two rows before another. Its first column is then a
    list like the others, not the rows' names: "Mercado Pago" is a way to pay in Argentina, not a
    row whose Uruguay value is "Transferencia bancaria"."""
    if len(header) < 2 or len(body) < 3 or not all(header):
        return False
    if any(re.search(r"\d", cell) for row in body for cell in row):
        return False
    lengths = []
    for j in range(len(header)):
        filled = [j < len(row) and bool(row[j]) for row in body]
        length = filled.index(False) if not all(filled) else len(filled)
        cells = [body[i][j] for i in range(length)]
        if length == 0 or any(filled[length:]) or len(set(cells)) < length:  # "Sí, Sí, Sí": values, not a list
            return False
        lengths.append(length)
    return max(lengths) - min(lengths) >= 2


HEADER_MAX_CHARS = 60  # a table's column name is at most this long (a longer first-row cell is data)


def _table_units(lines: list[str], block: int) -> list[Unit]:
    def cells(line: str) -> list[str]:
        line = line.strip()
        if line.endswith("|"):
            line = line[:-1]
        if line.startswith("|"):
            line = line[1:]
        return [c.strip() for c in line.split("|")]

    def separator(row: list[str]) -> bool:
        return all(re.fullmatch(r":?-{2,}:?", c) or not c for c in row)

    rows = [cells(line) for line in lines]
    # the first row is the header when the separator row follows it ("|---|---|", in a page's markdown),
    # whatever digits its names hold; in a stored chunk (no separator: the chunker repeats a split table's
    # header on each piece) unless a cell holds a digit or is longer than a column's name would be: a
    # name may be long ("Transferencias salientes por mes calendario", 43 characters, read as data with a
    # 40-character limit: the rows lost their column names)
    headed = len(rows) > 1 and separator(rows[1])
    # a stored header row with an empty corner cell keeps its leading "|" (the Markdown parser writes rows
    # as "a | b", so "| 1 extra year | 2 extra years" over "Price | 9% | 15%"): it names columns, digits or not
    corner = (len(lines) > 1 and lines[0].strip().startswith("|")
              and not any(line.strip().startswith("|") for line in lines[1:]))
    rows = [r for r in rows if not separator(r)]
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    if not headed and not corner and any(re.search(r"\d", c) or len(c) > HEADER_MAX_CHARS for c in header):
        # a table continued from the previous chunk: its first row is data, not the header
        header, body = [""] * len(header), rows
    width = max((len(r) for r in body), default=len(header))
    if len(header) < width:  # "| Esencial | Plus" over "Network | a | b": the corner cell is empty
        header = [""] * (width - len(header)) + header
    if not body:
        return [Unit(" · ".join(c for c in header if c), block, "row")]
    if _column_lists(header, body):
        return [Unit(f"{name}: {row[j]}", block, "row")
                for j, name in enumerate(header) for row in body if j < len(row) and row[j]]
    units = []
    for row in body:
        # "Card purchase — Deadline to open a dispute: 120 calendar days": each value under its
        # column's name, so a long header never runs into its value ("Deadline to open a dispute 120
        # calendar days", "What we ask for photos of your ID")
        label = row[0]
        cells = [f"{h}: {v}" if h else v for h, v in zip(header[1:], row[1:]) if v]
        named = any(h for h, v in zip(header[1:], row[1:]) if v)
        lead = (f"{label} — " if named else f"{label}: ") if label else ""
        units.append(Unit(lead + "; ".join(cells) if cells else label, block, "row"))
    return units


# A paragraph opening with a question in bold ("**I bought it last week and it's cheaper now. Can I get
# the difference?** No. ..."): the page's FAQ question, however many sentences it takes.
_BOLD_QUESTION = re.compile(r"(^|\n)[ \t]*\*\*([^*\n]{3,%d}?\?)\*\*[ \t]*" % 200)
_ASKS_MARK = "\ue000"  # a private-use character: never in a page, and not whitespace (\x1f is, to str.strip)


def split_units(text: str, *, faq: bool = False) -> list[Unit]:
    """A chunk's readable units, in order. ``faq``: the chunk is a page's FAQ section (its heading,
    ``apps.knowledge.parsers.FAQ_HEADING``), where an entry may open with the customer's situation on
    its own line instead of a question ("The order says Preparing and I need to change the
    postcode.\nIt can't be changed at that stage..."; the parser keeps a bold opening there on its
    line): that sentence is the entry's question, read, not shown."""
    text = clean_markup(_BOLD_QUESTION.sub(lambda m: f"{m.group(1)}{_ASKS_MARK}{m.group(2)}{_ASKS_MARK}\n", text or ""))
    units: list[Unit] = []
    asked: dict[int, str] = {}  # block -> the bold FAQ question opening it
    for block, para in enumerate(re.split(r"\n\s*\n", text)):
        if para.lstrip().startswith(_ASKS_MARK):
            question, _, para = para.lstrip()[1:].partition(_ASKS_MARK)
            asked[block] = question.strip()
        lines = [line for line in para.splitlines() if line.strip()]
        if block not in asked and len(lines) >= 2 and _question_line(lines[0]):
            # the question on its own line, its answer below ("Can I pay in store?\nNo. ..."; how the
            # knowledge base's Markdown parser writes a bold question, ``_strip_md``)
            asked[block], lines = lines[0].strip(), lines[1:]
        if faq and block not in asked and len(lines) >= 2 and _situation_line(lines[0]) \
                and not _LIST_ITEM.match(lines[1]) and "|" not in lines[1]:
            asked[block], lines = lines[0].strip(), lines[1:]
        if not lines and block in asked:
            units.append(Unit(asked.pop(block), block, "sentence"))  # alone: the next paragraph answers it
            continue
        if len(lines) == 1 and _question_line(lines[0]):
            units.append(Unit(lines[0].strip(), block, "sentence"))  # a question, whole, however many sentences
            continue
        if not lines:
            continue
        if sum(1 for line in lines if line.count("|") >= 1) >= max(2, len(lines) - 1) and len(lines) >= 2:
            lead = [line for line in lines if "|" not in line]
            units += [Unit(line.strip(), block, "lead") for line in lead]
            units += _table_units([line for line in lines if "|" in line], block)
            continue
        current: list[str] = []
        # the sentence announcing the list (ends with ":"), in this paragraph or closing the previous one
        intro = units[-1].text if units and units[-1].text.rstrip().endswith(":") else ""
        for line in lines + [""]:
            if not line or _LIST_ITEM.match(line):
                if current:
                    joined = " ".join(current)
                    units += [Unit(s, block, "sentence") for s in split_sentences(joined)]
                    intro = units[-1].text if units[-1].text.rstrip().endswith(":") else ""
                    current = []
                if line:
                    units.append(Unit(_LIST_ITEM.sub("", line).strip(), block, "item",
                                      intro if len(intro) <= INTRO_MAX_CHARS else "",
                                      ordered=bool(_NUMBERED_ITEM.match(line))))
            else:
                current.append(line.strip())
    return faq_entries([u for u in units if len(u.text) > 1], asked)


FAQ_QUESTION_MAX_CHARS = 200


def _question_line(line: str) -> bool:
    """A line that is a question of the page (an FAQ entry's): it ends with "?", is no list item nor
    table row, and is short."""
    return (line.rstrip().endswith("?") and not _LIST_ITEM.match(line) and "|" not in line
            and len(line.strip()) <= FAQ_QUESTION_MAX_CHARS)


def _situation_line(line: str) -> bool:
    """A line that can open an FAQ entry as the customer's situation: one whole sentence, short, no
    list item nor table row."""
    text = line.strip()
    return (bool(re.search(r"[.!?]$", text)) and not _LIST_ITEM.match(line) and "|" not in line
            and len(text) <= FAQ_QUESTION_MAX_CHARS and len(split_sentences(text)) == 1)


def faq_entries(units: list[Unit], asked: dict[int, str] | None = None) -> list[Unit]:
    """A help page's question-and-answer entries written inline ("**¿Puedo pagar en la tienda un pedido
    hecho en la web?** No. El pedido tiene que estar pagado en línea antes de retirarlo.", or the
    question alone on its line and the answer below): the question is what the answer's units are about,
    not an answer. It leaves the units (a reply made of the page's questions answered nothing: "¿Puedo
    pagar en la tienda un pedido hecho en la web? ¿Puedo devolver en cualquier tienda?") and is kept on
    each unit of its answer (``Unit.asks``), which the search reads with the unit's words. ``asked``: the
    blocks that open with a question in bold (``_BOLD_QUESTION``), already taken out of their text."""
    asked = asked or {}
    out: list[Unit] = []
    pending = ""  # a question alone in its paragraph: the next paragraph answers it
    blocks: dict[int, list[Unit]] = {}
    for unit in units:
        blocks.setdefault(unit.block, []).append(unit)
    for block in sorted(blocks):
        members = blocks[block]
        first = members[0]
        asks = asked.get(block) or pending
        pending = ""
        if (block not in asked and first.kind == "sentence" and first.text.rstrip().endswith("?")
                and len(first.text) <= FAQ_QUESTION_MAX_CHARS):
            if len(members) == 1:
                pending = first.text
                continue
            asks, members = first.text, members[1:]
        out += [dataclasses.replace(u, asks=asks) if asks else u for u in members]
    if pending:  # a question closing the page answers nothing of its own: read as written
        out.append(Unit(pending, max(blocks), "sentence"))
    return out


# "How do I restart the router?" / "¿Cómo pido un técnico?" / "What do I need to sign up?" / "¿Qué tengo
# que hacer para...?": a procedure, answered by its steps in order. At the start of the message or of any
# of its sentences ("I run a bakery in Valparaíso. What do I need?"). In Spanish, "cómo" with a verb in the
# first person, an infinitive or "se" ("¿Cómo pido...?", "¿Cómo activar...?", "¿Cómo se pide...?"): "¿Cómo
# calculan el rendimiento?" asks for an explanation, "¿Cómo que...?" is indignation.
_HOW_TO = re.compile(r"(?:^|[.!?;:]\s+|\n)\W*(?:how (?:do|can|should|would|could) (?:i|we)\b|how to\b|"
                     r"what (?:do|would|will) (?:i|we) (?:need|have) to do\b|what (?:do|would|will) (?:i|we) need\b|"
                     r"what are the steps\b|"
                     r"qu[eé] (?:necesito|necesitamos|tengo que hacer|tenemos que hacer|hay que hacer|pasos)\b|"
                     r"c[oó]mo (?:se \w+|\w+o|doy|voy|estoy|s[eé]|\w+(?:ar|er|ir))\b)", re.IGNORECASE)


def asks_how_to(question: str) -> bool:
    return bool(_HOW_TO.search(question or ""))


def same_block(units: list[Unit], unit: Unit) -> list[int]:
    """The indices of ``unit``'s list or table (its block's units of its kind), in the page's order."""
    return [j for j, u in enumerate(units) if u.block == unit.block and u.kind == unit.kind]


def whole_procedure(units: list[Unit], chosen: list[int], *, max_chars: int) -> list[int]:
    """For a how-to question whose passage shows steps of a list: the list from its first step, in
    order, while it fits ``max_chars`` (the chosen step always stays): one step out of five ("Plug in
    the router and wait 2 more minutes") does not tell the customer how."""
    items = [j for j in chosen if units[j].kind == "item"]
    if not items:
        return chosen
    block = units[items[0]].block
    steps = same_block(units, units[items[0]])
    out = [j for j in chosen if units[j].block != block or units[j].kind != "item"]
    budget = max_chars - sum(len(units[j].text) for j in out)
    last = steps.index(max(j for j in items if j in steps))
    # contiguous steps only: from the first one when the chosen ones fit after it, else the longest
    # run that ends with them ("steps 1-3, then 7" would read as a procedure missing its middle)
    start = last
    while start > 0 and sum(len(units[j].text) for j in steps[start - 1:last + 1]) <= budget:
        start -= 1
    end = last
    if start == 0:
        while end + 1 < len(steps) and sum(len(units[j].text) for j in steps[:end + 2]) <= budget:
            end += 1
    return sorted(set(out) | set(steps[start:end + 1]) | set(items))


def steps_from_the_middle(units: list[Unit], chosen: list[int]) -> bool:
    """The passage shows steps of a procedure (a numbered list, or one whose items mostly tell the customer
    what to do, ``_INSTRUCTION``) without its first step: "Plug the router in and wait 2 more minutes..." answered "No
    tengo internet desde esta mañana" with the restart's last steps, not the unplugging that opens it."""
    items = [j for j in chosen if units[j].kind == "item"]
    if not items:
        return False
    steps = same_block(units, units[items[0]])
    if len(steps) < 2 or min(items) == steps[0]:
        return False
    return units[steps[0]].ordered or sum(bool(_INSTRUCTION.search(units[j].text)) for j in steps) * 2 > len(steps)


def with_intro(units: list[Unit]) -> list[Unit]:
    """The passage with its list's lead-in first when it shows items without it: "the 6-digit codes
    we send you by SMS" means the opposite without "No one from Pampa Pay will ever ask you for:"."""
    intro = next((u.intro for u in units if u.kind == "item" and u.intro), "")
    if not intro or any(u.text == intro for u in units):
        return units
    return [Unit(intro, units[0].block, "sentence")] + units


# --- selection ------------------------------------------------------------------------------------

@dataclass
class Selection:
    text: str               # the answer (units joined; list items keep their bullets)
    hit: object             # the chunk it came from
    unit_score: float       # best unit: similarity + lexical overlap
    similarity: float       # best unit's embedding similarity alone
    overlap: float          # share of the question's content words in the answer
    language: str           # the passage's language
    features: dict = None   # what the answer verifier reads (:func:`verifier_features`)


_unit_cache: dict[tuple, tuple[list[Unit], np.ndarray]] = {}


def _unit_key(chunk_id: int, heading: str, text: str) -> tuple:
    """The cache key of a chunk's units: its id *and* content (an id reused after a rollback, or a
    chunk rewritten in place, never serves another text's units)."""
    return (chunk_id, hash(heading), hash(text))


def own_heading(heading: str | None) -> str:
    """A chunk's own section heading: the last level of its path ("Coverage by neighbourhood ›
    Neighbourhoods with full coverage" -> "Neighbourhoods with full coverage")."""
    return (heading or "").split("›")[-1].strip()


def _read(unit: Unit) -> str:
    """What the search reads of a unit: its text, after the FAQ question it answers."""
    return f"{unit.asks} {unit.text}" if unit.asks else unit.text


def faq_section(heading: str) -> bool:
    """The section heading names a page's questions and answers ("FAQ", "Preguntas frecuentes")."""
    from apps.knowledge.parsers import FAQ_HEADING

    return bool(FAQ_HEADING.search(heading or ""))


def _chunk_units(heading: str, text: str) -> tuple[list[Unit], list[str]]:
    """A chunk's units and the texts their vectors embed (the section heading, then ``_read``): one
    recipe for the cache filled on demand (``_units_with_vectors``) and the one a worker warms
    (``units_warm``), which drifted apart once (the FAQ question was embedded on demand only)."""
    last_heading = own_heading(heading)
    units = split_units(text, faq=faq_section(last_heading)) or [Unit(clean_markup(text), 0, "sentence")]
    return units, [f"{last_heading}: {_read(u)}" if last_heading else _read(u) for u in units]


def _units_with_vectors(key, heading: str, text: str, embed) -> tuple[list[Unit], np.ndarray]:
    cached = _unit_cache.get(key)
    if cached is None:
        units, texts = _chunk_units(heading, text)
        vectors = embed(texts)
        if len(_unit_cache) > 20000:
            _unit_cache.clear()
        cached = _unit_cache[key] = (units, vectors)
    return cached


_words_cache: dict[tuple, tuple[list[frozenset], list[frozenset]]] = {}


def _unit_words(key, heading: str, units: list[Unit]) -> tuple[list[frozenset], list[frozenset]]:
    """Each unit's content words with its heading, and its own, computed once per chunk."""
    cached = _words_cache.get(key)
    if cached is None:
        if len(_words_cache) > 20000:
            _words_cache.clear()
        cached = _words_cache[key] = ([frozenset(content_words(f"{heading} {_read(u)}")) for u in units],
                                      [frozenset(content_words(u.text)) for u in units])
    return cached


def _rarity(word: str, idf=None) -> float:
    """A word's weight in an overlap: its inverse document frequency (the rarest known weight for a word
    the knowledge base never uses), 1 without ``idf``."""
    return float(idf.get(word, idf.get("__max__", 1.0))) if idf else 1.0


def inflection_of(word: str, other: str) -> bool:
    """``other`` is an inflection of ``word`` (six letters or more): they share their first five letters
    and a prefix of three quarters of the shorter one ("transfer" / "transferencia", "autorización" /
    "autorizaciones", "cancel" / "cancellation"), not only five letters ("contactless" is not
    "contactamos", "internet" not "international", "service" not "servidor")."""
    if len(word) < 6 or other[:5] != word[:5]:
        return False
    shared = len(os.path.commonprefix([word, other]))
    return shared >= max(5, math.ceil(0.75 * min(len(word), len(other))))


def _overlap(query_words: set[str], text, idf=None, translations: dict | None = None) -> float:
    """Share of the question's content words in ``text`` (a text or its content words; weighted by
    rarity when ``idf`` is given: "Schengen" counts more than "plan"); a long word matches its
    inflections (``inflection_of``), and, with ``translations`` ({question word: its translations}, from
    :func:`word_translations`), a word whose translation ``text`` has."""
    if not query_words:
        return 0.0
    words = text if isinstance(text, frozenset) else set(content_words(text))
    total = sum(_rarity(w, idf) for w in query_words)
    hits = sum(_rarity(w, idf) for w in query_words
               if w in words or (len(w) >= 6 and any(inflection_of(w, x) for x in words))
               or (translations is not None and not translations.get(w, frozenset()).isdisjoint(words)))
    return hits / total if total else 0.0


def unasked_share(entry_words: set[str], query_words: set[str], idf=None, *, embed=None) -> float:
    """Share of an FAQ entry's question words (weighted by rarity) that the customer's question does
    not have: the same word, one the prefix of the other ("plan" / "plans"), or, with ``embed`` (an
    entry in the other language), its translation."""
    if not entry_words:
        return 0.0
    translations = word_translations(entry_words, frozenset(query_words), embed) if embed is not None else {}

    def asked(w: str) -> bool:
        return any(w == q or (min(len(w), len(q)) >= 4 and (w.startswith(q) or q.startswith(w))) for q in query_words) \
            or bool(translations.get(w))

    total = sum(_rarity(w, idf) for w in entry_words)
    return sum(_rarity(w, idf) for w in entry_words if not asked(w)) / total if total else 0.0


# A word and its translation are this close in the agent's multilingual encoder (single words):
# translations score 0.82-0.94, related words under it (``triggers.NAME_TRANSLATION_MIN``, measured on a
# word list). Words are embedded once per process and encoder (a cache of what the knowledge base and
# the customers say, not of state).
WORD_TRANSLATION_MIN = 0.8
_word_vectors_by_encoder: dict = {}


def word_translations(query_words: set[str], words: frozenset, embed) -> dict[str, frozenset]:
    """For each question word (four letters or more, not a figure), the words of ``words`` that
    translate it (cosine >= ``WORD_TRANSLATION_MIN``)."""
    asked = sorted(w for w in query_words if len(w) >= 4 and not w.isdigit())
    pool = sorted(w for w in words if len(w) >= 4 and not w.isdigit())
    if not asked or not pool:
        return {}
    if embed not in _word_vectors_by_encoder and len(_word_vectors_by_encoder) >= 4:
        _word_vectors_by_encoder.clear()
    _word_vectors = _word_vectors_by_encoder.setdefault(embed, {})
    todo = [w for w in dict.fromkeys(asked + pool) if w not in _word_vectors]
    if todo:
        if len(_word_vectors) > 50000:
            _word_vectors.clear()
            todo = list(dict.fromkeys(asked + pool))
        vectors = np.asarray(embed(todo), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
        _word_vectors.update(zip(todo, vectors))
    similar = np.array([_word_vectors[w] for w in asked]) @ np.array([_word_vectors[w] for w in pool]).T
    return {w: frozenset(pool[j] for j in np.flatnonzero(similar[i] >= WORD_TRANSLATION_MIN))
            for i, w in enumerate(asked)}


_IMPERATIVES = (
    r"go to|open|tap|click|select|choose|enter|call|send|write|email|upload|download|fill in|fill out|visit|sign in|"
    r"log in|press|restart|unplug|plug|request|contact|follow|book|attach|take|bring|scan|"
    r"entr[aáe]|ingres[aáe]|abr[ií]|abre|toc[aáe]|eleg[ií]|elige|seleccion[aáe]|llam[aáe]|env[ií][aáe]|escrib[ií]|"
    r"escribe|sub[ií]|sube|descarg[aáe]|complet[aáe]|adjunt[aáe]|ped[ií]|pide|solicit[aáe]|present[aáe]|"
    r"reinici[aáe]|desenchuf[aáe]|conect[aáe]|and[aá] a|ve a|vaya a|visit[aáe]|escane[aáe]|reserv[aáe]|"
    r"carg[aáe]|trae|tra[eé]|llev[aáe]")
_INSTRUCTION = re.compile(rf"\S\s+>\s+\S|^\W*(?:in the app,?\s+|en la app,?\s+|desde la app,?\s+|first,?\s+|"
                          rf"primero,?\s+)?(?:{_IMPERATIVES})\b|\b(?:in|from) the (?:app|website)\b|"
                          # ... or after the condition it applies to ("If your phone was stolen too, call
                          # our blocking line", "Si también te robaron el celular, llama a nuestra línea")
                          rf"^\W*(?:if|when|si|cuando)\b[^.;:\n]{{0,100}},\s*(?:{_IMPERATIVES})\b|"
                          rf"\b(?:en|desde) la (?:app|web|p[aá]gina)\b", re.IGNORECASE)

# A time or a term: a figure with its unit ("3–5 business days", "48 horas", "within 24 h"), a time of
# day ("8 am", "20:00"), a day of the month ("the 10th", "el 10 de cada mes"), a weekday, a month or a
# year, or a word for at once ("instantly", "en el acto"). A bare figure is not one: "Physical card: requires
# Level 2" does not say how long the card takes to arrive.
_TIME_VALUE = re.compile(
    r"\d+(?:[.,]\d+)?\s*(?:[-–]|to|a|y|or|o)?\s*(?:\d+\s*)?(?:business |calendar |working |natural )?"
    r"(?:min(?:ute)?s?|hours?|hrs?|h|hs|days?|weeks?|months?|years?|minutos?|horas?|d[ií]as?|semanas?|mes(?:es)?|"
    r"años?)\b|\d{1,2}(?:[:.]\d{2})?\s*(?:am|pm|a\.\s?m\.|p\.\s?m\.)|\b\d{1,2}:\d{2}\b|\b\d{1,2}(?:st|nd|rd|th)\b|"
    r"\b\d{1,2} de (?:cada|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre)\b|"
    r"\b(?:(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)s?|weekdays?|weekends?|lunes|martes|mi[eé]rcoles|"
    r"jueves|viernes|s[aá]bados?|domingos?|feriados?|holidays?|january|february|march|april|may|june|july|august|"
    r"september|october|november|december|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|"
    r"noviembre|diciembre|immediately|instantly|right away|same day|next day|overnight|inmediat\w*|al instante|"
    r"en el acto|en el d[ií]a|al d[ií]a siguiente|24/7)\b|\b(?:1[5-9]|20)\d{2}\b", re.IGNORECASE)

# "What plans do you have?", "Which payment methods do you accept?", "¿Qué documentos necesito?":
# the question asks for the things of a kind, and the answer names several of them: a list or a
# table (what a unit of kind "item" or "row" is, ``type_matches``), or a sentence that enumerates
# ("by bank transfer, with Mercado Pago, at Rapipago or by direct debit"). A paragraph about one of
# them is not that answer: "You can upgrade at any time at no cost" answered "What plans do you have?"
# at confidence 0.85.
_LIST_ASKED = re.compile(
    r"\b(?:what|which)\s+(?:[a-z-]+\s+){0,2}?[a-z-]+s\s+(?:do|does|can|could|are|is|will|would|should)\b|"
    r"\bwhat are (?:the|your)\b|\b(?:what|which) (?:kinds?|types?|sorts?) of\b|\bwhat options\b|"
    r"\bqu[eé]\s+(?:[a-záéíóúñ]+\s+){0,2}?[a-záéíóúñ]+s\s+(?:tienen|ten[eé]s|tiene|ofrecen|ofrece|hay|aceptan|acepta|"
    r"existen|necesito|necesita|debo|puedo|se pueden|incluye|incluyen|cubre|cubren)\b|"
    r"\bcu[aá]les son\b|\bqu[eé] (?:tipos?|clases?) de\b|\bqu[eé] opciones\b", re.IGNORECASE)
_LIST_VALUE = re.compile(r"(?:^|\n)\s*[-•*]\s+\S|"  # a bullet, or "A, B and C" (not "Yes, at once and free")
                         r"(?:\b(?!(?:yes|no|s[ií]|if|si|when|cuando|but|pero)\b)[^,;:.\n]{1,40},\s+)+"
                         r"[^,;:.\n]{1,40}?,?\s+(?:and|or|y|o|e|u)\s+\w", re.IGNORECASE)


# The currencies a customer writes an amount in: the ISO 4217 codes of the Americas and the usual
# others, and their signs ("MXN 24,999", "R$ 350", "S/ 120", "US$ 12"). Not only the development
# businesses' ARS, CLP and UYU: a new business may bill in any of them.
CURRENCY_CODES = ("ars bob brl clp cop crc cup dop gtq hnl mxn nio pab pen pyg svc uyu ves usd eur gbp cad aud chf "
                  "jpy cny").split()
_CURRENCY = r"(?:\b(?:%s)\b|\bus\$|\bu\$s|\br\$|\bs/|\bbs\.?(?=\s?\d))" % "|".join(CURRENCY_CODES)

_FIGURE = re.compile(r"\d")

# Money as a help page states it: an amount with its currency ("ARS 9.900", "MXN 99", "$2,000", "60.000
# pesos"), a percentage, or a word for free ("free", "gratis", "sin costo", "no fee").
_MONEY_VALUE = re.compile(
    rf"(?:{_CURRENCY}|[$€£])\s?\d|\d(?:[.,]\d+)*\s?(?:%|(?:pesos|d[oó]lares|dollars|euros|reales|soles|por ?ciento|"
    r"percent)\b)|\b(?:free|gratis|gratuit[oa]s?|sin (?:ning[uú]n )?(?:costo|cargo)|(?:at|with)(?:out)? no (?:cost|charge)|"
    r"without (?:any )?(?:cost|charge|fee)|no (?:[a-z]+ )?(?:cost|charge|fee)s?|bonificad[oa]s?)\b", re.IGNORECASE)


def type_matches(looks, unit) -> bool:
    """The unit looks like what the question asks for: a list or table row answers a list question
    (``_LIST_VALUE``); every other type is read off the unit's words."""
    if looks is None:
        return False
    if looks is _LIST_VALUE and getattr(unit, "kind", "") in ("item", "row"):
        return True
    return bool(looks.search(unit.text))


# What kind of thing the question asks for, and how a unit that holds one looks (EN/ES). The first
# that matches wins: "¿Cuánto tardan en instalar?" asks for a time, not an amount, though "cuánto" is
# also "how much" (it got "La instalación cuesta $25.000 en hasta 3 cuotas").
ANSWER_TYPES = [
    (re.compile(r"\b(how long|how many (?:days|hours|weeks|months|years)|how soon|"
                r"cu[aá]nto (?:tiempo|tarda\w*|demora\w*|dura\w*|dur[oó]|hay que esperar|falta\w*)|how much time|"
                r"en cu[aá]nto(?!\s+al?\b)|"
                r"cu[aá]nt[oa]s (?:d[ií]as|horas|semanas|meses|años))\b", re.I),
     _TIME_VALUE),
    # "How many points...?", "¿Cuántas cuotas...?": a count, any figure
    (re.compile(r"\b(how many|cu[aá]nt[oa]s|how much (?:more|less|of)|cu[aá]nt[oa] (?:m[aá]s|menos))\b", re.I), _FIGURE),
    # "How much is shipping to Rosario?", "¿Cuánto sale...?": money, i.e. an amount in a currency, a
    # percentage or a word for free; a figure of another kind is not a price ("Córdoba 1452, Rosario" is
    # the store's address)
    (re.compile(r"\b(how much|(?<!en )cu[aá]nt[oa]|price|precio|cost|costo|cuesta|sale|fee|comisi[oó]n|tope|"
                r"limit|l[ií]mite|cap|discount|descuento|pay back|reintegr|percent|porcentaje)\b", re.I),
     _MONEY_VALUE),
    (re.compile(r"\b(how long|when|cu[aá]ndo|tarda|demora|plazo|deadline|until|hasta cu[aá]ndo|what time|"
                r"a qu[eé] hora|hours|horario|days?|d[ií]as?)\b", re.I),
     _TIME_VALUE),
    (re.compile(r"\b(phone|number|n[uú]mero|tel[eé]fono|call|llam|e-?mail|correo|whatsapp|address|direcci[oó]n|"
                r"website|web|p[aá]gina)\b", re.I),
     re.compile(r"\d{3,}|@|\bwww\.|https?://|\.(com|gob|org)\b", re.I)),
    # "How do I upgrade to Level 3?" / "¿Cómo pido un técnico?": an instruction, i.e. a path through
    # the app or the website ("Profile > Verification > Level 3") or a sentence or step that opens
    # with an imperative ("Go to...", "Entra en...", "Tap...") or says where to do it ("in the app").
    (_HOW_TO, _INSTRUCTION),
    (_LIST_ASKED, _LIST_VALUE),
]


# A customer's sentences end at ".", "!" or "?" and a space, whatever follows (chats are written in lower case).
_MESSAGE_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”)\]]*\s+")


def asked_sentences(question: str) -> str:
    """The sentences of a message that ask (a "?"), else the whole message: "Is this a scam? A WhatsApp
    number says I won a TV and I have to pay MXN 350 for shipping" asks "Is this a scam?". Not cut after an
    abbreviation or inside a figure ("How much does the Av. Colón store charge for a 2.5 kg box?")."""
    asked = [p for p in _joined_after_abbreviations(_MESSAGE_SENTENCE_END.split((question or "").strip())) if "?" in p]
    return " ".join(asked) or (question or "")


def answer_type_asked(question: str, *, instructions: bool = True):
    """The pattern a unit answering ``question`` looks like (a time, an amount, a contact, an
    instruction, a list), or None. ``instructions=False``: not the how-to type (what the verifier reads: it
    was fitted on the other types, and an instruction is a way to answer, not a fact to check). A
    how-to question naming money ("How do I file a complaint about a fee?") asks for the steps, not
    the amount: any figure is its type, as for a count."""
    question = asked_sentences(question)
    for asks, looks in ANSWER_TYPES:
        if looks is _INSTRUCTION and not instructions:
            continue
        if asks.search(question):
            return _FIGURE if looks is _MONEY_VALUE and _HOW_TO.search(question) else looks
    return None


def answer_type_bonus(question: str, units: list, bonus: float) -> np.ndarray:
    out = np.zeros(len(units), dtype=np.float32)
    if not bonus:
        return out
    looks = answer_type_asked(question)
    if looks is not None:
        out += np.array([bonus if type_matches(looks, u) else 0.0 for u in units], dtype=np.float32)
    return out


_SPECIFIC_VALUE = re.compile(r"\d")


def specific_bonus(units: list, bonus: float) -> np.ndarray:
    """A unit that states a figure (an amount, a term, a phone number, a date) is more often the
    answer to a customer's question than one that only talks about the topic ("Children under 18
    pay 60% of the adult fee" over "Fees are explained below"), whatever the question's wording."""
    return np.array([bonus if _SPECIFIC_VALUE.search(u.text) else 0.0 for u in units], dtype=np.float32)


# specific_bonus and unit_overlap_weight are off: bench/answer_selection.py found them to help the
# selection on two of three left-out businesses and not the third, and the end-to-end figures
# (leave one business out, the fitted confidence threshold) did not move (README, "Figures").
# ``main_by``: the passage is around the hand-set score's best unit ("hand") or the learned ranker's
# ("ranker"). ``extra_units``: then the learned ranker's best other candidate units of the same
# document (another section, another table row) while the whole answer stays within ``extra_chars``:
# the fact asked for often sits one section away from the passage that matches the question's words
# best. ``main_by`` was "hand" until stop 28 (the ranker choosing the passage put more facts in the
# answers but made the verifier's most confident answers less often right); with the retrieval beyond
# the topic's documents (``WIDER_HITS``) the ranker's pick raised fully correct on all three businesses
# left out (README, "Retrieval beyond the guessed topic ... (stop 28)", every configuration listed).
PARAMS = {"type_bonus": 0.12, "specific_bonus": 0.0, "span": 4, "max_hits": 10, "window": 0.2, "hit_weight": 0.25,
          "lexical_weight": LEXICAL_WEIGHT, "unit_overlap_weight": 0.0, "idf": True, "main_by": "ranker",
          "extra_units": 2, "extra_chars": 600, "translation_cosine": 0.7, "translated_overlap": True,
          "faq_unasked_weight": LEXICAL_WEIGHT}


RANKER_FEATURES = ["sim", "sim_gap", "idf_overlap", "overlap_gap", "own_overlap", "own_gap", "heading_overlap",
                   "type_match", "type_miss", "has_figure", "hit_score", "hit_gap", "rank", "same_language",
                   "kind_row", "kind_item", "kind_lead", "unit_chars", "hand_score", "hand_gap"]


def unit_candidates(question: str, query_vector: np.ndarray, hits, *, language: str, embed, params: dict | None = None,
                    idf=None, sections: tuple = (), prefer_documents=frozenset(),
                    keep=frozenset()) -> tuple[list[dict], list[tuple]]:
    """Every unit of the top ``hits`` as a candidate answer, with what the ranker reads. ``sections``:
    chunks kept whatever their score (the sections a list question names, ``listed_sections``).

    Returns (candidates, chunks): a candidate is {chunk (index into chunks), unit, features}; a
    chunk is (rank, hit, units, scores) with the hand-set unit scores (similarity + rarity-weighted
    overlap + answer-type bonus + language), which also order the neighbours of the chosen unit."""
    p = {**PARAMS, **(params or {})}
    idf = idf if p["idf"] else None
    query_words = set(content_words(question))
    looks = answer_type_asked(question)
    top = max(float(h.score) for h in hits[:p["max_hits"]])
    chunks: list[tuple] = []
    rows: list[tuple] = []
    for rank, hit in enumerate(hits[:p["max_hits"]]):
        if float(hit.score) < top - p["window"] and getattr(hit, "chunk_id", None) not in sections \
                and getattr(hit, "chunk_id", None) not in keep:
            continue
        key = _unit_key(hit.chunk_id, hit.heading, hit.text)
        units, vectors = _units_with_vectors(key, hit.heading, hit.text, embed)
        with_heading, own_words = _unit_words(key, hit.heading, units)
        sims = vectors @ np.asarray(query_vector, dtype=np.float32)
        other_language = bool(language and getattr(hit, "language", "") and hit.language != language)
        if other_language and p["translated_overlap"]:
            # the question's words are not the passage's words in the other language: count a word
            # whose translation the passage (or its heading) has ("authorization" / "autorizaciones")
            translations = word_translations(query_words, frozenset().union(*with_heading), embed)
            overlaps = np.array([_overlap(query_words, words, idf, translations) for words in with_heading])
        else:
            overlaps = np.array([_overlap(query_words, words, idf) for words in with_heading])
        own = np.array([_overlap(query_words, words, idf) for words in own_words])
        scores = (sims + p["lexical_weight"] * overlaps + p["unit_overlap_weight"] * own
                  + answer_type_bonus(question, units, p["type_bonus"]) + specific_bonus(units, p["specific_bonus"]))
        same = bool(language and getattr(hit, "language", "") == language)
        if same:
            scores = scores + SAME_LANGUAGE_BONUS
        if prefer_documents and getattr(hit, "document_id", None) in prefer_documents:
            scores = scores + FOLLOW_UP_SAME_DOCUMENT
        faq = _FAQ_ENTRY.match(getattr(hit, "text", "") or "") if p["faq_unasked_weight"] else None
        if faq:
            # an FAQ entry answers its own question: the words of that question the customer did not
            # ask count against it, as the customer's words missing from a passage count against that
            # passage ("What is the *cheapest* plan?" is not "Which plans do you offer?")
            scores = scores - p["faq_unasked_weight"] * unasked_share(
                set(content_words(faq.group(1))), query_words, idf, embed=embed if other_language else None)
        heading_overlap = _overlap(query_words, frozenset(content_words(hit.heading or "")), idf)
        c = len(chunks)
        chunks.append((rank, hit, units, scores, sims, overlaps, own_words, vectors))
        for i, unit in enumerate(units):
            rows.append((c, i, float(sims[i]), float(overlaps[i]), float(own[i]), heading_overlap,
                         type_matches(looks, unit), looks is not None,
                         bool(_SPECIFIC_VALUE.search(unit.text)), float(hit.score), rank, same, unit.kind,
                         len(unit.text), float(scores[i]) + p["hit_weight"] * float(hit.score)))
    if not rows:
        return [], chunks
    best = {k: max(r[j] for r in rows) for k, j in (("sim", 2), ("ov", 3), ("own", 4), ("hand", 14))}
    candidates = []
    for (c, i, sim, ov, own, head, match, asked, figure, hit_score, rank, same, kind, chars, hand) in rows:
        candidates.append({"chunk": c, "unit": i, "hand": hand, "features": {
            "sim": sim, "sim_gap": sim - best["sim"], "idf_overlap": ov, "overlap_gap": ov - best["ov"],
            "own_overlap": own, "own_gap": own - best["own"], "heading_overlap": head,
            "type_match": float(match), "type_miss": float(asked and not match), "has_figure": float(figure),
            "hit_score": hit_score, "hit_gap": hit_score - top, "rank": float(np.log1p(rank)),
            "same_language": float(same), "kind_row": float(kind == "row"), "kind_item": float(kind == "item"),
            "kind_lead": float(kind == "lead"), "unit_chars": float(np.log1p(chars)), "hand_score": hand,
            "hand_gap": hand - best["hand"]}})
    return candidates, chunks


RANKER_PATH = Path(__file__).with_name("answer_ranker.json")
_capture: list | None = None


@contextlib.contextmanager
def candidates_capture():
    """Within the block, the last selection's candidates ({features, text: that candidate's own
    passage}) are kept in the yielded list (evaluation only: labels for the ranker)."""
    global _capture
    saved = _capture
    _capture = box = []
    try:
        yield box
    finally:
        _capture = saved
_ranker_override: dict | None = None
_ranker_cache: dict | None = None
_NO_RANKER = {"none": True}


def ranker_load() -> dict | None:
    """The learned candidate ranker (``answer_ranker.json``), or None (the hand-set unit score)."""
    global _ranker_cache
    if _ranker_override is not None:
        return None if _ranker_override is _NO_RANKER or _ranker_override.get("none") else _ranker_override
    if _ranker_cache is None:
        _ranker_cache = json.loads(RANKER_PATH.read_text(encoding="utf-8")) if RANKER_PATH.is_file() else _NO_RANKER
    return None if _ranker_cache is _NO_RANKER else _ranker_cache


@contextlib.contextmanager
def ranker_use(model: dict | None):
    """Rank with ``model`` (e.g. one fitted without the business evaluated); ``{"none": True}``: the
    hand-set unit score."""
    global _ranker_override
    saved = _ranker_override
    _ranker_override = model
    try:
        yield
    finally:
        _ranker_override = saved


def ranker_scores(candidates: list[dict], model: dict) -> np.ndarray:
    """The ranker's logit of "this candidate's answer holds the facts asked for", per candidate."""
    names = model["features"]
    x = np.array([[c["features"].get(n, 0.0) for n in names] for c in candidates], dtype=float)
    z = ((x - np.asarray(model["mean"])) / np.asarray(model["scale"])) @ np.asarray(model["coef"])
    return z + float(model["intercept"])


def compose_units(units: list[Unit], i: int, scores: np.ndarray, *, span: int, max_chars: int) -> list[int]:
    """The unit ``i`` with up to ``span - 1`` neighbours of its paragraph/list/table, the better-scoring
    side first, while short; a unit announcing what follows (":") never ends it."""
    chosen = [i]
    length = len(units[i].text)
    for _ in range(max(0, span - 1)):
        candidates = [j for j in (min(chosen) - 1, max(chosen) + 1)
                      if 0 <= j < len(units) and units[j].block == units[i].block and units[j].kind != "lead"]
        if not candidates:
            break
        j = max(candidates, key=lambda k: scores[k])
        if length + len(units[j].text) > max_chars or scores[j] < scores[i] - 0.25:
            break
        chosen.append(j)
        length += len(units[j].text)
    chosen.sort()
    while units[chosen[-1]].text.rstrip().endswith(":") and chosen[-1] + 1 < len(units) and len(chosen) < 5:
        chosen.append(chosen[-1] + 1)
    return chosen


# A sentence that leans on the one before it ("It costs $12,000 when the problem was caused by the
# customer", "Esto no aplica a los copagos"): never a supplementary unit without that sentence.
_ANAPHORA = re.compile(r"^\W*(?:it|this|that|they|these|those|esto|eso|ello|este|esta|estos|estas|ese|esa|esos|esas)\b"
                       # ... or ends on a place named before it ("The service cannot be ordered there.", after
                       # "There is currently no coverage in rural areas, Punta Alta or Monte Hermoso.")
                       r"|\b(?:there|all[ií]|ah[ií]|all[aá])\W*$",
                       re.IGNORECASE)


# A sentence that states an exception to the list or table right before it ("Exception: deliveries to
# Tierra del Fuego take up to 15 business days."): read alone, it hides the rule it is an exception to.
_EXCEPTION = re.compile(r"^\W*(?:exceptions?|excepci[oó]n|excepciones|except|excepto|salvo)\b", re.IGNORECASE)


def with_its_rule(units: list[Unit], chosen: list[int], *, max_chars: int) -> list[int]:
    """The passage with the list or table its exception refers to: when the passage opens with a
    sentence stating an exception (``_EXCEPTION``) right after a list or table, that list or table
    comes first, whole and in order, when both fit ``max_chars`` ("How long does the card take to get
    to Córdoba?" got the Tierra del Fuego exception without the delivery times by region)."""
    first = min(chosen)
    if first == 0 or units[first].kind != "sentence" or not _EXCEPTION.match(units[first].text):
        return chosen
    before = units[first - 1]
    if before.kind not in ("item", "row") or before.block == units[first].block:
        return chosen
    rule = same_block(units, before)
    if sum(len(units[j].text) for j in set(rule) | set(chosen)) > max_chars:
        return chosen
    return sorted(set(rule) | set(chosen))


def _figures(text: str) -> list[str]:
    """The numbers a text states, thousands separators and decimal marks aside ("$3,500" = "$3.500")."""
    return sorted(re.findall(r"\d+", re.sub(r"(?<=\d)[.,](?=\d)", "", text)))


TRANSLATION_ROW_COSINE = 0.85  # a table row's copy: rows of one table share a template


def in_customer_language(k: int, candidates: list[dict], chunks: list[tuple], language: str, *,
                         min_cosine: float) -> int:
    """Candidate ``k``, or its translation in the customer's language when the knowledge base has one
    among the candidates: a unit of a chunk in ``language`` whose embedding is at least ``min_cosine``
    from the chosen one's (the multilingual encoder puts a sentence and its translation close) and
    that states the same figures. A bilingual knowledge base holds most pages twice, and the two
    copies score a few hundredths apart: the other language's copy winning by 0.003 quoted Spanish to
    an English customer, under a notice that the help pages only have it in Spanish."""
    chosen = candidates[k]
    chunk = chunks[chosen["chunk"]]
    if (getattr(chunk[1], "language", "") or language) == language:
        return k
    unit = chunk[2][chosen["unit"]]
    if unit.kind == "row":  # rows of one table share a template ("Virtual card — Argentina: Free; Chile: Free"):
        min_cosine = max(min_cosine, TRANSLATION_ROW_COSINE)  # close without being translations
    vector, figures = chunk[7][chosen["unit"]], _figures(unit.text)
    best, best_cosine = k, min_cosine
    for n, other in enumerate(candidates):
        other_chunk = chunks[other["chunk"]]
        if getattr(other_chunk[1], "language", "") != language:
            continue
        cosine = float(other_chunk[7][other["unit"]] @ vector)
        if cosine >= best_cosine and _figures(other_chunk[2][other["unit"]].text) == figures:
            best, best_cosine = n, cosine
    return best


def select_answer(question: str, query_vector: np.ndarray, hits, *, language: str, embed,
                  max_chars: int = MAX_ANSWER_CHARS, params: dict | None = None, idf=None,
                  ranker: dict | None = None, sections: tuple = (), copies=None,
                  prefer_documents=frozenset(), keep=frozenset()) -> Selection | None:
    """The best-answering unit among the top ``hits`` (with a few neighbours), or None. The unit is
    the learned ranker's pick (``ranker``, else the shipped ``answer_ranker.json``), or the hand-set
    score's when no ranker ships. ``sections``: the chunks a list question names (``listed_sections``):
    the answer is the first one's list or table, whole and in order, when it fits ``max_chars`` (else its
    best unit), with no supplementary unit; and, when more sections of the same page name what is asked
    for, each one's list under its heading, in the page's order, while the whole fits
    (``sibling_lists``). ``copies``: ``copies(vector) -> hits``, the knowledge base's passages in the
    customer's language nearest a unit's vector: when the passage chosen is in the other language and
    its copy in the customer's language is not among ``hits``, the copy is looked for there
    (``customer_language_copy``)."""
    if not hits:
        return None
    p = {**PARAMS, **(params or {})}
    candidates, chunks = unit_candidates(question, query_vector, hits, language=language, embed=embed, params=p,
                                         idf=idf, sections=sections, prefer_documents=prefer_documents, keep=keep)
    if not candidates:
        return None
    model = ranker if ranker is not None else ranker_load()
    hand = np.array([c["hand"] for c in candidates])
    if _capture is not None:  # evaluation: every candidate's own passage, to label it for the ranker
        _capture[:] = [{"features": c["features"], "text": render(with_intro(
            [chunks[c["chunk"]][2][j] for j in compose_units(chunks[c["chunk"]][2], c["unit"], chunks[c["chunk"]][3],
                                                              span=p["span"], max_chars=max_chars)]))}
            for c in candidates]
    if model is not None and not model.get("none"):
        ranked = ranker_scores(candidates, model)
    else:
        ranked = hand
    k = int(np.argmax(hand if p.get("main_by") == "hand" else ranked))
    listed: tuple[int, list[int]] | None = None  # (candidate, its whole list or table) for a named section
    if sections:
        own = sorted((n for n, c in enumerate(candidates)
                      if getattr(chunks[c["chunk"]][1], "chunk_id", None) == sections[0]), key=lambda n: -float(ranked[n]))
        if own:
            k = own[0]
            # the answer is the section's list or table, whole and in order: the one of its best-ranked
            # item or row that fits a whole answer (``extra_chars``, the passage and its supplementary
            # units; the four plans' table rows when the four described plans would not fit; the six ways
            # to pay)
            units = chunks[candidates[k]["chunk"]][2]
            for n in own:
                unit = units[candidates[n]["unit"]]
                members = same_block(units, unit)
                if unit.kind in ("item", "row") and len(members) > 1 \
                        and sum(len(units[j].text) for j in members) <= max(max_chars, p["extra_chars"]):
                    k, listed = n, (n, members)
                    break
    ordered_ranked = np.sort(ranked)[::-1]
    ranker_margin = float(ordered_ranked[0] - ordered_ranked[1]) if len(ranked) > 1 else 1.0
    # what does not depend on the pick (computed once, though a translation composes twice)
    how_to = asks_how_to(question)
    faq_chunks = _faq_chunks(chunks)
    query_words = set(content_words(question))
    weights = idf if p["idf"] else None
    # every chunk's best hand total, for the margin to the runner-up chunk (one pass over the candidates)
    best_hand: dict[int, float] = {}
    for c in candidates:
        best_hand[c["chunk"]] = max(best_hand.get(c["chunk"], float("-inf")), float(c["hand"]))
    totals = sorted((best_hand[n] for n in range(len(chunks))), reverse=True)
    looks = answer_type_asked(question, instructions=False)  # the verifier's type features
    hit_scores = [float(h.score) for h in hits[:p["max_hits"]]]

    def compose_at(k: int) -> Selection:
        c_index, i = candidates[k]["chunk"], candidates[k]["unit"]
        best_rank, hit, units, scores, sims, overlaps, own_words, _vectors = chunks[c_index]
        chosen = compose_units(units, i, scores, span=p["span"], max_chars=max_chars)
        siblings: list[Unit] = []
        if listed is not None and listed[0] == k:
            chosen = list(listed[1])
            siblings = sibling_lists(chunks, c_index, chosen, sections, budget=max(max_chars, p["extra_chars"]))
        elif how_to or steps_from_the_middle(units, chosen):
            chosen = whole_procedure(units, chosen, max_chars=max_chars)
        chosen = with_its_rule(units, chosen, max_chars=max_chars)
        picked = with_intro([units[j] for j in chosen])
        length = sum(len(u.text) for u in picked)
        extra: list[Unit] = []
        inserted: set[int] = set()  # items of the passage's own list, shown in their place in it
        groups = 0  # supplementary units, a whole list counting as one
        for other in np.argsort(-ranked, kind="stable"):
            if groups >= p["extra_units"] or (listed is not None and listed[0] == k):
                break  # a named section's list is the whole answer
            oc, oi = candidates[other]["chunk"], candidates[other]["unit"]
            o_hit, o_units = chunks[oc][1], chunks[oc][2]
            unit = o_units[oi]
            if (oc == c_index and oi in chosen) or o_hit.document_id != hit.document_id or unit.kind == "lead" \
                    or (oc != c_index and (c_index in faq_chunks or oc in faq_chunks)) \
                    or unit.text.rstrip().endswith(":") \
                    or (unit.asks and unit.asks != units[i].asks) \
                    or any(unit.text == u.text for u in picked + extra + [units[j] for j in inserted]) \
                    or (_ANAPHORA.search(unit.text) and not (oi > 0 and any(o_units[oi - 1] is u for u in picked + extra))):
                continue
            if length + len(unit.text) > p["extra_chars"]:
                continue
            if how_to and unit.kind == "item" and not any(u.kind == "item" for u in picked):
                # a step of a procedure the passage does not show: the procedure, in order (the step kept)
                for step in (o_units[j] for j in same_block(o_units, unit)):
                    if step is unit or (length + len(unit.text) + len(step.text) <= p["extra_chars"]
                                        and not any(step.text == u.text for u in picked + extra)):
                        extra.append(step)
                        length += len(step.text) if step is not unit else 0
                length += len(unit.text)
                break
            groups += 1
            if unit.kind == "item" and oc == c_index and any(units[j].block == unit.block for j in chosen):
                # another item of the passage's own list: in its place in the list, not after it
                inserted.add(oi)
                length += len(unit.text)
                continue
            if unit.kind == "item":
                # an item of another list: the whole list, in order, when it fits ("Technical fault with
                # no service: 24 hours." ... "Anything else: 5 business days."), never two items of it out
                # of order with the rest missing; the list counts as one supplementary unit
                items = [o_units[j] for j in same_block(o_units, unit)
                         if not any(o_units[j].text == v.text for v in picked + extra)]
                if len(items) > 1 and not any(u.text == unit.intro for u in picked + extra):
                    # with its lead-in, as the passage's own list (``with_intro``): five neighbourhoods
                    # under "FibraSur runs its own fibre network in Bahía Blanca" read as all it covers;
                    # a list of another section with none, under that section's heading ("Qué no se
                    # reintegra:" before "Medicamentos...", which read as a step of how to ask for one)
                    heading = own_heading(getattr(o_hit, "heading", ""))
                    items = (with_intro(items) if unit.intro else
                             [Unit(f"{heading}:", unit.block, "sentence"), *items] if heading and oc != c_index
                             else items)
                if len(items) > 1 and length + sum(len(u.text) for u in items) <= p["extra_chars"]:
                    extra.extend(items)
                    length += sum(len(u.text) for u in items)
                    continue
            extra.append(unit)
            length += len(unit.text)
        passage = render(picked)
        shown = with_intro([units[j] for j in sorted(set(chosen) | inserted)]) if inserted else picked
        text = render(siblings) if siblings else (render(shown) if not extra else render_with_extra(shown, extra))
        # the verifier reads the passage the ranker chose (not the supplementary unit): its features keep
        # their meaning (a figure in the supplementary unit is not evidence that the passage answers)
        overlap = _overlap(query_words, f"{hit.heading} {passage}")  # unweighted: comparable across KBs
        same_language = bool(language and getattr(hit, "language", "") == language)
        others = np.delete(scores, i) if len(scores) > 1 else np.array([scores[i] - 0.5])
        features = {
            "unit_similarity": float(sims[i]),
            "unit_score": float(scores[i]) - (SAME_LANGUAGE_BONUS if same_language else 0.0)
            - (FOLLOW_UP_SAME_DOCUMENT if getattr(hit, "document_id", None) in prefer_documents else 0.0),
            "overlap": overlap,
            "idf_overlap": float(overlaps[i]),
            "own_overlap": _overlap(query_words, own_words[i], weights),
            "hit_score": float(hit.score),
            "top_hit_score": max(hit_scores),
            "hit_margin": max(hit_scores) - (sorted(hit_scores)[-2] if len(hit_scores) > 1 else 0.0),
            "chunk_margin": totals[0] - totals[1] if len(totals) > 1 else 0.5,
            "unit_margin": float(scores[i] - np.max(others)),
            "rank": float(best_rank),
            "type_asked": float(looks is not None),
            "type_match": float(looks is not None and bool(looks.search(passage))),
            "same_language": float(same_language),
            "question_words": float(len(query_words)),
            "answer_chars": float(len(passage)),
            "ranker_score": float(ranked[k]) if model is not None else 0.0,
            "ranker_margin": min(ranker_margin, 5.0) if model is not None else 0.0,
        }
        return Selection(text=text, hit=hit, unit_score=features["unit_score"], similarity=float(sims[i]),
                         overlap=overlap, language=getattr(hit, "language", "") or "", features=features)

    selection = compose_at(k)
    if p.get("translation_cosine") and language:
        t = in_customer_language(k, candidates, chunks, language, min_cosine=p["translation_cosine"])
        if t == k and copies is not None:
            found = customer_language_copy(k, candidates, chunks, ranked, language, copies, question=question,
                                           query_vector=query_vector, embed=embed, params=p, idf=idf, model=model)
            if found is not None:
                # the copy's chunks join the selection's (compose_at reads these names when it runs)
                candidates, chunks, ranked, t = found
                faq_chunks = _faq_chunks(chunks)
        if t != k:
            # The same passage in the customer's language: shown instead of the quote, judged as the
            # match the ranker chose (the verifier's features, "same_language" included, describe that
            # match; the copies say the same, and the translation's own retrieval scores are those of
            # a runner-up).
            translated = compose_at(t)
            translated.features = selection.features
            translated.unit_score, translated.similarity = selection.unit_score, selection.similarity
            translated.overlap = selection.overlap
            return translated
    return selection


# How many passages in the customer's language are looked through for the copy of a passage chosen in
# the other language (``customer_language_copy``).
COPY_SEARCH_K = 3


def customer_language_copy(k: int, candidates: list[dict], chunks: list[tuple], ranked: np.ndarray, language: str,
                           copies, *, question: str, query_vector: np.ndarray, embed, params: dict, idf, model):
    """The copy, in the customer's language, of candidate ``k`` (a unit in the other language) that the
    question's own search did not retrieve: the ``COPY_SEARCH_K`` passages in ``language`` nearest the
    unit (``copies``), each split into units as the question's hits are, and the one that translates it
    (``in_customer_language``: the multilingual encoder puts a sentence and its translation close, and it
    states the same figures). A bilingual knowledge base holds most pages twice, and the copy of a
    passage the other language's words matched best is often not among the question's hits: "¿cuánto
    sale el plan de 300?" was answered with the English plans page's sentence, under a notice that the
    help pages only have it in English. The passages found stand for the one chosen: they carry its
    retrieval scores (their own measure how close they are to the chosen unit, not to the question), which
    is what the sources recorded with the answer and the order of the supplementary units read.
    ``ranked``: the candidates' ranker scores. Returns (candidates, chunks, ranker scores, the copy's
    index) over both sets, or None when no passage translates it."""
    chunk = chunks[candidates[k]["chunk"]]
    chosen = chunk[1]
    if (getattr(chosen, "language", "") or language) == language:
        return None
    known = {getattr(c[1], "chunk_id", None) for c in chunks}
    found = [dataclasses.replace(h, score=chosen.score, lexical=getattr(chosen, "lexical", 0.0),
                                 relevance=getattr(chosen, "relevance", 0.0))
             for h in copies(chunk[7][candidates[k]["unit"]]) if h.chunk_id not in known]
    if not found:
        return None
    more, more_chunks = unit_candidates(question, query_vector, found, language=language, embed=embed, params=params,
                                        idf=idf, sections=tuple(h.chunk_id for h in found))
    if not more:
        return None
    offset = len(chunks)
    more = [{**c, "chunk": c["chunk"] + offset} for c in more]
    merged, merged_chunks = candidates + more, chunks + more_chunks
    t = in_customer_language(k, merged, merged_chunks, language, min_cosine=params["translation_cosine"])
    if t == k:
        return None
    extra = ranker_scores(more, model) if model is not None and not model.get("none") \
        else np.array([c["hand"] for c in more])
    return merged, merged_chunks, np.concatenate([np.asarray(ranked, dtype=float), extra]), t


def _listed_block(units: list[Unit]) -> list[int]:
    """The first list or table of a section's units (two members at least), else []."""
    first = next((u for u in units if u.kind in ("item", "row")), None)
    members = same_block(units, first) if first is not None else []
    return members if len(members) > 1 else []


def sibling_lists(chunks: list[tuple], main: int, chosen: list[int], sections: tuple, *, budget: int) -> list[Unit]:
    """A list question that several sections of one page answer ("Which neighbourhoods do you cover?":
    "Neighbourhoods with full coverage", "Neighbourhoods with partial coverage"): each section's list
    under its heading, in the page's order, while the whole fits ``budget``; [] when no other section
    fits (the main section's list alone, as before). One section's list alone reads as the whole answer:
    the five neighbourhoods of partial coverage, shown as the ones covered. ``main``: the chunk of the
    section the answer is (its list, ``chosen``); ``sections``: the named sections' chunk ids, that one
    first."""
    def labelled(hit, units: list[Unit]) -> list[Unit]:
        heading = own_heading(getattr(hit, "heading", ""))
        shown = with_intro(units)
        if shown and shown[0].kind == "sentence":  # "Heading. Lead-in:"
            return [Unit(f"{heading}. {shown[0].text}", shown[0].block, "sentence"), *shown[1:]]
        return [Unit(f"{heading}:", units[0].block, "sentence"), *shown]

    main_hit, main_units = chunks[main][1], chunks[main][2]
    parts = [(main_hit.chunk_id, labelled(main_hit, [main_units[j] for j in chosen]))]
    length = sum(len(u.text) for u in parts[0][1])
    by_id = {getattr(chunk[1], "chunk_id", None): chunk for chunk in chunks}
    for chunk_id in sections[1:]:
        chunk = by_id.get(chunk_id)
        if chunk is None or chunk[1].document_id != main_hit.document_id:
            continue
        members = _listed_block(chunk[2])
        if not members:
            continue
        part = labelled(chunk[1], [chunk[2][j] for j in members])
        if length + sum(len(u.text) for u in part) > budget:
            continue
        parts.append((chunk_id, part))
        length += sum(len(u.text) for u in part)
    if len(parts) < 2:
        return []
    return [u for _id, part in sorted(parts, key=lambda p: p[0]) for u in part]


def _faq_chunks(chunks: list[tuple]) -> set[int]:
    """The indexes of the selection's chunks that are FAQ entries (``is_faq_entry``)."""
    return {n for n, chunk in enumerate(chunks) if is_faq_entry(chunk[1])}


def is_faq_entry(hit) -> bool:
    """The hit is one question-and-answer entry of an FAQ (a spreadsheet row, ``Q: ... / A: ...``): a
    whole answer to its own question. Another entry of the same FAQ answers another question ("¿Tienen
    permanencia mínima?" -> "No. Ningún plan..."), so it never supplements it: joined, the customer
    read "No, todos los planes son sin límite de datos. No. Ningún plan de FibraSur tiene permanencia
    mínima..." for "¿Tienen planes para pymes?"."""
    return bool(_FAQ_ENTRY.match(getattr(hit, "text", "") or ""))


def render_with_extra(passage: list[Unit], extra: list[Unit]) -> str:
    """The passage, then the supplementary units (a list item or table row keeps its bullet)."""
    head = render(passage)
    tail = [f"- {u.text}" if u.kind in ("item", "row") else u.text for u in extra]
    listy = "\n" in head or any(u.kind in ("item", "row") for u in passage + extra)
    return "\n".join([head, *tail]) if listy else " ".join([head, *tail])


def render(units: list[Unit]) -> str:
    if any(u.kind in ("item", "row") for u in units) and len(units) > 1:
        return "\n".join(f"- {u.text}" if u.kind in ("item", "row") else u.text for u in units)
    return " ".join(u.text for u in units)


# --- the answer verifier -----------------------------------------------------------------------------
#
# P(the answer holds the facts the customer asked for), a logistic model on the selection's
# features, *learned* (apps/agent/evaluation/verifier.py): fitted leaving one business out for the
# reported figures, and what ships (answer_verifier.json) fitted on all development data (the three
# businesses' labelled turns and XQuAD's tuning half). Its threshold is the shipped
# ``confidence_threshold``. ``python -m apps.agent.evaluation.verifier`` regenerates it.

VERIFIER_PATH = Path(__file__).with_name("answer_verifier.json")
_verifier_override: dict | None = None


def _transform(name: str, value: float) -> float:
    if name in ("question_words", "answer_chars", "rank"):
        return float(np.log1p(max(0.0, value)))
    return float(value)


def verifier_features(selection: Selection, *, unknown_terms: int = 0, unknown_names: int = 0) -> dict:
    return {**(selection.features or {}), "unknown_terms": float(unknown_terms), "unknown_names": float(unknown_names)}


def verifier_load() -> dict:
    if _verifier_override is not None:
        return _verifier_override
    global _verifier_cache
    if _verifier_cache is None:
        _verifier_cache = json.loads(VERIFIER_PATH.read_text(encoding="utf-8"))
    return _verifier_cache


_verifier_cache: dict | None = None


@contextlib.contextmanager
def verifier_use(model: dict | None):
    """Score with ``model`` (a fitted verifier, e.g. one fitted without the business evaluated)."""
    global _verifier_override
    saved = _verifier_override
    _verifier_override = model
    try:
        yield
    finally:
        _verifier_override = saved


def verifier_score(features: dict, model: dict | None = None) -> float:
    """The verifier's P(facts in the answer) for one selection's features."""
    model = model or verifier_load()
    x = np.array([_transform(n, features.get(n, 0.0)) for n in model["features"]], dtype=float)
    z = float(((x - np.asarray(model["mean"])) / np.asarray(model["scale"])) @ np.asarray(model["coef"]))
    z += float(model["intercept"])
    return float(1.0 / (1.0 + np.exp(-z)))


def calibrated(score: float, calibration: dict | None) -> float:
    """The calibrated P(facts) of a raw verifier score: sigmoid(a * logit(score) + b), the Platt
    scaling fitted on held-out businesses' scores (``evaluation.verifier.fit_calibration``); the raw
    score when the model has no calibration."""
    if not calibration:
        return float(score)
    p = min(max(float(score), 1e-6), 1 - 1e-6)
    z = calibration["a"] * float(np.log(p / (1 - p))) + calibration["b"]
    return float(1.0 / (1.0 + np.exp(-z)))


def hedge_floor() -> float | None:
    """The calibrated P(facts) from which a turn under ``confidence_threshold`` is still answered, with
    "not sure; tell me and I'll pass you to a person" (``hedge_probability`` of the verifier in use;
    None: no such band, a handoff below the threshold)."""
    value = verifier_load().get("hedge_probability")
    return float(value) if value is not None else None


def answer_confidence(selection: Selection, *, intent_probability: float = 0.5, unknown_terms: int = 0,
                      unknown_names: int = 0, model: dict | None = None) -> float:
    """0..1: the learned verifier's probability that the selected answer holds what was asked (not only
    its topic), calibrated on businesses the model had not seen (``calibration`` of the model; the
    raw score without one). The threshold on it, ``confidence_threshold``, ships with the verifier."""
    model = model or verifier_load()
    raw = verifier_score(verifier_features(selection, unknown_terms=unknown_terms, unknown_names=unknown_names), model)
    return calibrated(raw, model.get("calibration"))


_SPECIFIC = re.compile(r"\b(?:[A-Z]{2,}-?\d{3,}|\d{5,}|[A-Z][a-z]+-\d+)\b")


# An amount of money as a customer writes it: "ARS 97,340", "$ 18.400", "MXN 24,999", "60.000 pesos"
# (at least three digits: "$5" is no one's invoice).
_AMOUNT = re.compile(
    rf"(?:{_CURRENCY}\s?|[$€£]\s?)(\d{{1,3}}(?:[.,]\d{{3}})+|\d{{3,}})(?![\d])"
    r"|(?<![\w.,])(\d{1,3}(?:[.,]\d{3})+|\d{3,})\s?(?:pesos|d[oó]lares|dollars|euros|reales|soles)\b",
    re.IGNORECASE)


def unknown_amounts(question: str, figures) -> int:
    """Amounts of money in the question that no document states ("My November invoice is ARS 97,340",
    "the settlement came in CLP 18,400 lower"): the customer's own invoice, balance or settlement,
    which only a person can look up. ``figures``: the knowledge base's figures
    (``apps.knowledge.lexical.LexicalIndex.figures``). Zero when the message also quotes an amount the
    pages state: "I spent ARS 180,000 and you still charged me ARS 16,900 for shipping to Río Grande?!"
    asks about the pages' own fee (free shipping except to Tierra del Fuego), which they explain."""
    from apps.knowledge.lexical import figure_digits

    if figures is None or not question:
        return 0
    stated = [figure_digits(m.group(1) or m.group(2)) in figures for m in _AMOUNT.finditer(question)]
    return 0 if any(stated) else len(stated)


def unknown_specific_terms(question: str, vocabulary) -> int:
    """Codes and case numbers in the question (AUT-4471902, 583920) that no document contains (every
    part of the code, ``_known``). A verifier feature (``unknown_terms``), beside ``unknown_names``."""
    if vocabulary is None:
        return 0
    return sum(1 for term in _SPECIFIC.findall(question or "") if not _known(term, vocabulary))


# A name inside a sentence (a capitalised word that does not open it): "Can I add the card to Google Pay?",
# "¿El Sanatorio Los Robles está en la cartilla?", "Derivo aportes desde Metalúrgica Bianchi".
_SENTENCE_START = re.compile(r"(?:^|[.!?¿¡:;\n]\s*)$")
_CAPITALISED = re.compile(r"(?<![\w-])([A-ZÁÉÍÓÚÑ][a-záéíóúñü]{2,})\b")
_prefix_cache: tuple = (None, frozenset())  # (the vocabulary object, its words' first five letters)


def _vocabulary_prefixes(vocabulary) -> frozenset:
    """The first five letters of the knowledge base's words (of five letters or more), computed once per
    vocabulary object: a new knowledge-base generation has a new one."""
    global _prefix_cache
    cached = _prefix_cache  # read once: another thread may replace it
    if cached[0] is not vocabulary:
        cached = _prefix_cache = (vocabulary, frozenset(w[:5] for w in vocabulary if " " not in w and len(w) >= 5))
    return cached[1]


# English writes these with a capital; they are not names ("My baby was born on Monday").
_CAPITALISED_WORDS = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march april
may june july august september october november december""".split())


def unknown_names(question: str, vocabulary) -> int:
    """The names in the question that the knowledge base never mentions (its words, or a word sharing
    the first five letters: "Europe" / "Europa"): the help pages have nothing on that provider, app or
    company, whatever passage the words around the name find. A verifier feature (``unknown_names``)."""
    if vocabulary is None or not question:
        return 0
    unknown = _unknown_to_pages(question, vocabulary)
    return sum(1 for word in names_of(question) if unknown(word))


def _unknown_to_pages(question: str, vocabulary):
    """Whether a folded word of a name in ``question`` is one the knowledge base never writes: not its word,
    not sharing the first five letters of one ("Europe" / "Europa"), not a word of a place of a country the
    pages write for (``places.place_words``). Shared by ``unknown_names`` and ``other_organisations``."""
    prefixes = _vocabulary_prefixes(vocabulary)
    in_places = places.place_words(question, vocabulary)
    return lambda word: (word not in in_places and word not in vocabulary
                         and not (len(word) >= 5 and word[:5] in prefixes))


# The thing the customer has with another organisation: "My Banco Santander credit card", "Mi pedido de
# Mercado Libre", "I ordered a phone on Amazon Mexico", "renovar el DNI en el RENAPER". The name: one to
# three capitalised words (an acronym of four letters or more after "en el / ante la": not "en el PDF").
_ORG_NAME = r"([A-ZÁÉÍÓÚÑ][\wáéíóúñü&'-]+(?:\s+(?:de\s+)?[A-ZÁÉÍÓÚÑ][\wáéíóúñü&'-]+){0,2})"
_OTHER_ORGANISATION = re.compile(
    r"\b(?i:my|our)\s+" + _ORG_NAME + r"\s+(?i:(?:credit\s+|debit\s+)?cards?|orders?|account|package|parcel|"
    r"purchase|loan|subscription|delivery|shipment)\b"
    r"|\b(?i:mis?|nuestr[oa]s?)\s+(?i:pedidos?|compras?|cuentas?|tarjetas?|paquetes?|env[ií]os?|pr[eé]stamos?|"
    r"suscripci[oó]n|[oó]rden(?:es)?)\s+(?i:de|del|en)\s+" + _ORG_NAME +
    r"|\b(?i:ordered|bought|purchased)\b[^.?!]{0,30}?\b(?i:on|from|through|via)\s+" + _ORG_NAME +
    r"|\b(?i:compr[eé]|ped[ií])\b[^.?!]{0,30}?\b(?i:en|por)\s+" + _ORG_NAME +
    r"|\b(?i:en|ante)\s+(?i:el|la)\s+([A-ZÁÉÍÓÚÑ]{4,})\b")
# Names that are no organisation of the customer's: days, months, sales events and holidays ("I ordered it on
# Black Friday", "compré en Navidad"), and the card networks a payment runs on ("my Visa card").
_NOT_ORGANISATIONS = _CAPITALISED_WORDS | frozenset("""lunes martes miercoles jueves viernes sabado domingo enero febrero
marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre diciembre black cyber hot sale day week
weekend christmas navidad easter pascua new year ano nuevo reyes visa mastercard master amex american express maestro
diners cabal naranja discover""".split())


def other_organisations(question: str, vocabulary) -> list[str]:
    """The organisations whose order, card, account or procedure the message asks about and the knowledge
    base never names (``_OTHER_ORGANISATION``: a word of the name the pages never write, nor a place): the
    customer's business with another company or an agency ("My Banco Santander credit card has an interest
    charge", "Mi pedido de Mercado Libre no llegó", "¿Cómo saco un turno para renovar el DNI en el
    RENAPER?"), which the business's people cannot handle either. Not a name the pages write ("my
    Pampa card" on the Pampa Pay pages). The places and word prefixes are read only for a message that
    names such a thing (most turns name none)."""
    if vocabulary is None or not question:
        return []
    matches = list(_OTHER_ORGANISATION.finditer(question))
    if not matches:
        return []
    unknown = _unknown_to_pages(question, vocabulary)
    found: list[str] = []
    for match in matches:
        name = next(g for g in match.groups() if g)
        words = [w for w in (fold(part) for part in re.findall(r"[^\W\d_]+", name)) if w not in ("de", "del")]
        if not all(w in _NOT_ORGANISATIONS for w in words) and any(unknown(w) for w in words) and name not in found:
            found.append(name)
    return found


def names_of(text: str):
    """The names a message writes, folded, each time it writes them: its capitalised words that do not open
    a sentence, weekdays and months aside."""
    for match in _CAPITALISED.finditer(text or ""):
        if _SENTENCE_START.search(text[:match.start()]):
            continue
        word = fold(match.group(1))
        if word not in _CAPITALISED_WORDS:
            yield word


# The part of a message that asks: its questions ("Tengo una verdulería en Lanús. ¿Cuánto me cobran
# por venta?" asks "¿Cuánto me cobran por venta?"), else the whole message ("Quiero pagar con bitcoin").
_ASKED = re.compile(r"[^.!?¿\n]*\?")


def asked_part(question: str) -> str:
    """What the message asks: its questions (``_ASKED``), else the whole message."""
    return " ".join(_ASKED.findall(question)) or question
_LETTER_WORD = re.compile(r"[^\W\d_]+")
# Prefixes that negate or repeat a word the pages use ("impaga" / "paga", "unpaid" / "paid",
# "desactivar" / "activar", "reenviar" / "enviar").
_WORD_PREFIXES = ("des", "dis", "im", "in", "re", "un")


def _in_vocabulary(word: str, vocabulary, prefixes) -> bool:
    """``word`` (folded) or a form of it (``rare_words.forms``: "impaga" / "impago") is a word of the
    knowledge base, shares its first five letters with one, or is one of them with a negating or
    repeating prefix ("impago" / "pago")."""
    from .rare_words import forms

    def known(w: str) -> bool:
        return w in vocabulary or (len(w) >= 5 and w[:5] in prefixes)

    for form in forms(word):
        if known(form) or any(form.startswith(prefix) and len(form) - len(prefix) >= 4 and known(form[len(prefix):])
                              for prefix in _WORD_PREFIXES):
            return True
    return False


def unknown_subjects(question: str, vocabulary, embed=None, *, rarity: bool = True) -> list[str]:
    """The words of what the message asks (its questions, ``_ASKED``) that the knowledge base never
    uses (nor a form, a typo or, with ``embed``, a translation of one: ``_in_vocabulary``,
    ``rare_words.one_edit``, ``word_translations``), that English and Spanish rarely use
    (``rare_words.is_rare``) and that are not verb forms (``rare_words.looks_like_verb_form``): "Do you
    rent card terminals, like a posnet?", "How much is losartan with my discount?", "¿Cubren
    acupuntura?". That is the thing the customer asks about, and the pages say nothing on it, whatever
    passage the question's other words find. An everyday word the pages happen not to use ("my
    daughter", "ayer", "plata") is not one, nor a rare form of a verb ("¿Quién sustrajo el balón?").
    ``rarity=False``: every word of the question the pages never use, rare or not, verb or not (the
    baseline of ``bench/unknown_subjects.py``)."""
    if vocabulary is None or not question:
        return []
    prefixes = _vocabulary_prefixes(vocabulary)
    from .language import detect_language
    from .rare_words import is_rare, looks_like_verb_form, one_edit

    asked = asked_part(question)
    spanish = detect_language(question)[0] == "es"  # its present-tense endings are verb forms (``rare_words``)
    found: dict[str, str] = {}
    for match in _LETTER_WORD.finditer(asked):
        word = match.group(0).lower()
        folded = fold(word)
        if len(folded) < 4 or folded in STOPWORDS or folded in found:
            continue
        if _in_vocabulary(folded, vocabulary, prefixes):
            continue
        if not rarity or (not looks_like_verb_form(word, spanish=spanish) and is_rare(word)
                          and not any(len(v) >= 4 and v in vocabulary for v in one_edit(folded))):  # not a typo of a page's word
            found[folded] = word
    if found and embed is not None:
        pool = frozenset(w for w in vocabulary if " " not in w)
        translated = word_translations(set(found), pool, embed)
        found = {folded: word for folded, word in found.items() if not translated.get(folded)}
    return list(found.values())


# A yes/no question whether the business sells, installs, accepts or supports a thing ("Can I pay my bill
# with bitcoin?", "Do you also install range hoods?", "¿El router soporta IPv6 y modo bridge?"): the thing
# is what it asks about, and when the pages never name it they cannot say yes, whatever passage the
# question's other words find (the payment methods, the installation prices). Unlike ``unknown_subjects``,
# an everyday word counts here ("bitcoin", "bridge", "hoods"); only a very common one does not ("my own",
# "a second card", "my daughter": Zipf ``OBJECT_MAX_ZIPF`` or more), nor a verb form.
_SUPPORT_ASKED = re.compile(
    r"\b(?:(?:do|can|will) you (?:also |still |even )?(?:sell|install|accept|take|rent|repair|fix|support|stock)"
    r"|(?:do|does|can|will) (?:the|my|your|this|that|these|those) [\w-]+(?: [\w-]+)? (?:support|accept|work with)"
    r"|can i pay (?:[\w-]+ ){0,3}?(?:with|by|using)"
    r"|(?:venden|instalan|aceptan|reparan|arreglan|alquilan|soporta|soportan|acepta|admite|admiten)"
    r"|(?:puedo|se puede) pagar (?:[\w-]+ ){0,3}?(?:con|usando))\b(?P<object>[^?.!¿]*)", re.IGNORECASE)
OBJECT_MAX_ZIPF = 5.0
# The question words (EN/ES) of a question that asks what, how much, when, where, who or why: not a yes/no one.
_WH_WORDS = (r"what|how|when|where|which|who|whom|whose|why|qu[eé]|c[oó]mo|cu[aá]ndo|cu[aá]nt[oa]s?|d[oó]nde|"
             r"ad[oó]nde|cu[aá]l(?:es)?|qui[eé]n(?:es)?|por ?qu[eé]|para qu[eé]")
# A question word before the verb makes it another question ("When do you install on weekends?", "¿Dónde
# aceptan efectivo?"): only a yes/no question asks whether the thing is sold, installed or accepted.
_WH_WORD = re.compile(rf"\b(?:{_WH_WORDS})\b", re.IGNORECASE)


def unknown_objects(question: str, vocabulary, embed=None) -> list[str]:
    """The words of the thing a support question asks about (``_SUPPORT_ASKED``) that the knowledge base
    never uses (``unknown_subjects`` without its rarity filter: nor a form, a typo or a translation of one),
    under ``OBJECT_MAX_ZIPF`` in English and Spanish, not verb forms and not places (``places.named_places``:
    "Do you ship to Salta?" asks about the shipping, not about Salta); in a yes/no question only (no question
    word before the verb in its sentence, ``_WH_WORD``)."""
    if vocabulary is None or not question:
        return []
    from .language import detect_language
    from .rare_words import looks_like_verb_form, zipf

    spanish = detect_language(question)[0] == "es"
    asked = asked_part(question)
    found: list[str] = []
    for match in _SUPPORT_ASKED.finditer(asked):
        thing = match.group("object").strip()
        opening = re.split(r"[.!?¿¡\n]", asked[:match.start()])[-1]
        if not thing or _WH_WORD.search(opening):
            continue  # "When do you install on weekends?" asks when, not whether
        named = {fold(w) for place, _country in places.named_places(thing) for w in place.lower().split()}
        for word in unknown_subjects(thing, vocabulary, embed, rarity=False):
            if (zipf(word.lower()) < OBJECT_MAX_ZIPF and not looks_like_verb_form(word, spanish=spanish)
                    and fold(word) not in named and word not in found):
                found.append(word)
    return found


def unknown_quantities(question: str, stated) -> list[str]:
    """The figures with a unit in what the message asks (its questions, ``_ASKED``) that no page
    states with a unit of that kind (``apps.knowledge.lexical.quantities``): "Can I get a 10 Gbps plan
    for my house?" when the plans go up to 1 Gbps, "Do I get 20% off?" when the pages say 15%. The
    pages cannot confirm that value, so the passage the question's other words find (the plans table)
    is no answer to it: like a thing the pages never mention (``unknown_subjects``). A value the pages
    state ("how much is the 300 megas plan?") is not one. ``stated``: ``LexicalIndex.quantities``."""
    if stated is None or not question:
        return []
    from apps.knowledge.lexical import quantities

    asked = asked_part(question)
    return [written for key, written in quantities(asked).items() if key not in stated]


# A value of the market as of now (EN/ES): an exchange rate, a currency's price, an interest rate or a
# yield, asked "today" or "right now". Help pages are written once and read for months: a page can
# say how a rate is applied ("Visa converts at its rate of the day"), or give a hypothetical example,
# never what the rate is today. A price list is not one ("What are your rates?" is answered by the
# plans page): only "the rate", a currency's quote or a yield, in a question that also says "now".
_LIVE_WHEN = re.compile(r"\b(?:today|today's|right now|current|currently|at the moment|as of (?:now|today)|hoy|"
                        r"ahora(?: mismo)?|en este momento|actualmente|al d[ií]a de hoy|del d[ií]a)\b", re.IGNORECASE)
_LIVE_VALUE = re.compile(
    r"\b(?:the|today's|current|this week's) (?:exchange |interest |dollar |fx )?rate\b|\bexchange rate\b|"
    r"\binterest rate\b|\byield\b|\btipo de cambio\b|\b(?:la|una) tasa\b|\btna\b|\btea\b|\brendimiento\b|"
    r"\bcotizaci[oó]n (?:del|de) (?:d[oó]lar|euro|real|bitcoin)\w*|"
    r"\b(?:a )?cu[aá]nto (?:est[aá]|cotiza|vale|sale)\b[^?.!]{0,25}?\b(?:d[oó]lar|euro|real|bitcoin|peso)\w*|"
    r"\bhow much is (?:the |one |a )?(?:dollar|euro|bitcoin|peso)\b", re.IGNORECASE)


def live_values(question: str) -> list[str]:
    """What a question asks as of now that no help page can hold (``_LIVE_VALUE`` with ``_LIVE_WHEN`` in
    the same question): "what's the rate today?", "¿A cuánto está hoy el dólar para las compras con la
    tarjeta?". The passage its words find (how the rate is applied, an example with a hypothetical rate)
    does not answer it: like a thing the pages never mention (``unknown_subjects``)."""
    found = []
    for asked in _ASKED.findall(question or "") or [question or ""]:
        value, when = _LIVE_VALUE.search(asked), _LIVE_WHEN.search(asked)
        if value and when:
            what = value.group(0).strip()
            found.append(what if when.group(0).lower() in what.lower() else f"{what} ({when.group(0)})")
    return found


# --- the reply ------------------------------------------------------------------------------------

def quote_notice(language: str) -> str:
    return QUOTE_NOTICE.get(language, "")


def declares_quote(reply: str, language: str) -> bool:
    """The reply says, in the customer's language, that it quotes the other language."""
    notice = QUOTE_NOTICE.get(language)
    return bool(notice) and notice in (reply or "").split("\n", 1)[0]


def source_line(title: str, link: str, language: str) -> str:
    label = SOURCE_LABEL.get(language, SOURCE_LABEL["en"])
    return f"{label}: {title}" + (f" ({link})" if link else "")


# "Yes, ..." / "No. ..." open an FAQ's answer to *its* question; under a question that asks what, how
# much or when ("How much is a static IP?" -> "Yes, a static IP costs ..."), the word answers nothing
# the customer asked. It is dropped only when the customer asked such a question and no yes/no one.
_WH_QUESTION = re.compile(rf"^(?:and|so|but|y|pero|entonces)?\s*(?:{_WH_WORDS})\b", re.IGNORECASE)
_POLAR_QUESTION = re.compile(
    r"^(?:and|so|but|y|pero|entonces)?\s*(?:do|does|did|is|are|was|were|can|could|will|would|should|shall|"
    r"have|has|may|might|puedo|puede|pueden|pod[eé]s|podemos|se puede|tienen|tiene|tengo|ten[eé]s|hay|es|son|"
    r"est[aá]|est[aá]n|acepta|aceptan|incluye|incluyen|cubre|cubren|me|se|hacen|existe)\b",
    re.IGNORECASE)
_POLARITY = re.compile(r"^(?:yes|no|s[ií])\s*[,.;:!]\s*(?=\S)", re.IGNORECASE)


def _question_parts(question: str) -> list[str]:
    return [p.strip() for p in re.split(r"[.!?¿¡\n]+", question or "") if p.strip()]


def drop_stray_polarity(answer: str, question: str) -> str:
    """The answer without a leading "Yes,"/"No."/"Sí," when the customer asked a what/how/when
    question and no yes/no question (README, "One turn": the composer)."""
    match = _POLARITY.match(answer or "")
    if not match:
        return answer
    parts = _question_parts(question)
    if not any(_WH_QUESTION.match(p) for p in parts) or any(_POLAR_QUESTION.match(p) for p in parts):
        return answer
    rest = answer[match.end():]
    return rest[:1].upper() + rest[1:]


def compose_reply(answer: str, *, language: str, passage_language: str, title: str = "", link: str = "",
                  translated: bool = False) -> str:
    """The customer's reply: the answer (with the notice when quoted from the other language) and
    its source on the last line, the same on every channel."""
    body = answer.strip()
    if passage_language and language and passage_language != language and not translated:
        body = f"{quote_notice(language)}\n{body}"
    if title:
        body = f"{body}\n\n{source_line(title, link, language)}"
    return body


# --- the local provider's answer ------------------------------------------------------------------

def _kb_lexical():
    from apps.knowledge import search

    try:  # the search just validated the cached matrix: no second generation check
        return (search._cache or search._matrix()).lexical
    except Exception:  # noqa: BLE001 (no KB yet)
        return None


_idf_cache: tuple = (None, None)  # (the vocabulary object, its words' rarity)


def word_idf(vocabulary) -> dict | None:
    """Word rarity in the knowledge base (the lexical index's words, not its trigrams). Cached for the
    vocabulary *object* (held, so a new generation's vocabulary never reuses a freed one's id)."""
    if vocabulary is None:
        return None
    global _idf_cache
    cached = _idf_cache  # read once: another thread may replace it
    if cached[0] is not vocabulary:
        words = {g: v for g, v in vocabulary.items() if " " not in g}
        words["__max__"] = max(words.values(), default=1.0)
        cached = _idf_cache = (vocabulary, words)
    return cached[1]


def _known(term: str, vocabulary) -> bool:
    parts = [p for p in re.split(r"[^a-z0-9]+", fold(term)) if p]
    return all(p in vocabulary for p in parts)


WIDER_HITS = 3  # passages from outside the topic's documents that rank above all of the topic's own


def widen(hits: list, vector: np.ndarray, *, query: str | None, document_ids, wider, departments: list[int],
          k: int, language: str | None = None) -> list:
    """``hits`` from the topic's documents joined by up to ``WIDER_HITS`` passages of the rest of the
    KB that rank above all of them, so a wrong topic guess does not hide the passage that answers.
    ``wider``: False (no search beyond the topic's documents) or the documents never searched beyond
    them (``providers.answer_documents``). ``k``: how many hits the topic's search asked for. Both
    providers retrieve this way."""
    from apps.knowledge.search import knowledge_search_vector

    if wider is False or not document_ids:
        return hits
    best = max((h.relevance for h in hits), default=0.0)
    known = {h.chunk_id for h in hits}
    extra = [h for h in knowledge_search_vector(vector, query=query or "", document_ids=None,
                                                exclude_document_ids=list(wider), departments=list(departments),
                                                language=language, k=k + WIDER_HITS)
             if h.chunk_id not in known and h.relevance > best][:WIDER_HITS]
    return sorted(hits + extra, key=lambda h: -h.relevance) if extra else hits


# A list question's section: how many chunks of the topic's documents are looked through for a section
# named by the question, and the lines that make a chunk hold a list or a table.
LISTED_SECTION_POOL = 60
_LISTED_LINE = re.compile(r"^\s*(?:[-*•]\s+\S|\|.*\|\s*$|\d+[.)]\s+\S)", re.M)


def listed_things(question: str) -> set[str]:
    """The plural nouns a list question asks for ("What *plans* do you have?", "¿Qué *medios* de pago
    aceptan?", "What *add-ons* do you offer?"): the section that lists them names them in the same form
    ("Home internet plans", "Medios de pago"), not the singular of a section about one of them
    ("Changing plan", "What each plan includes")."""
    return {w for w in content_words(question) if len(w) > 3 and w.endswith("s") and not w.isdigit()}


def listed_section(hits: list, vector: np.ndarray, *, question: str, document_ids,
                   departments: list[int]) -> tuple[list, int | None]:
    """``listed_sections``' first section only: (hits, its chunk id or None)."""
    hits, sections = listed_sections(hits, vector, question=question, document_ids=document_ids,
                                     departments=departments)
    return hits, (sections[0] if sections else None)


def listed_sections(hits: list, vector: np.ndarray, *, question: str, document_ids,
                    departments: list[int]) -> tuple[list, tuple]:
    """The section that lists what a list question asks for, joined to ``hits`` when the search missed
    it: "What plans do you have?" / "¿Qué planes tienen?" name the section "Home internet plans" (a table
    of the four plans), but short FAQ entries that merely mention plans ("Do the plans have a data cap?")
    outrank a table whose rows share no word with the question. Among the topic's documents (the same
    departments), or among every document the answer may quote when the turn has no topic
    (``document_ids`` None, as the answer's own search), the most relevant chunk whose own heading (its
    last level) names what the question asks to have listed (``listed_things``) and that holds a list or a
    table (two lines at least). Only for a question that asks for a list (``_LIST_ASKED``). Returns the
    hits (that chunk first when it was not among them) and the ids of the named sections: that chunk's
    first, then the other sections of its page that name the same words, in the same language
    (``sibling_lists``), or ``()``. The answer is the chunk's list or table (``select_answer``'s
    ``sections``), judged by the verifier as any other passage."""
    from apps.knowledge.search import knowledge_search_vector

    if not _LIST_ASKED.search(question or ""):
        return hits, ()
    keys = listed_things(question)
    if not keys:
        return hits, ()
    named = [hit for hit in knowledge_search_vector(vector, query=question, document_ids=document_ids,
                                                    departments=list(departments), language=None,
                                                    k=LISTED_SECTION_POOL)
             if keys & set(content_words(own_heading(hit.heading)))
             and len(_LISTED_LINE.findall(hit.text or "")) >= 2]
    if not named:
        return hits, ()
    main = named[0]
    siblings = [h for h in named[1:] if h.document_id == main.document_id and h.chunk_id != main.chunk_id]
    known = {h.chunk_id for h in hits}
    out = list(hits) if main.chunk_id in known else [main, *hits]
    # a sibling the search missed goes right after the section (within the hits the answer reads)
    at = next(n for n, h in enumerate(out) if h.chunk_id == main.chunk_id) + 1
    out[at:at] = [h for h in siblings if h.chunk_id not in known]
    return out, (main.chunk_id, *(h.chunk_id for h in siblings))


# A word of the question the knowledge base writes in this few chunks at most (a place, a product, a
# plan: each page in two languages) names the passage that answers: "if i order a kettle today to neuquen
# when will it arrive" is answered by the shipping table's row for Neuquén, a long chunk whose other
# rows dilute its similarity to the question below the order-status passages.
NAMED_PASSAGE_MAX_CHUNKS = 4


def named_words(question: str, lexical) -> set[str]:
    """The words of what the message asks (``asked_part``) that the knowledge base writes in at most
    ``NAMED_PASSAGE_MAX_CHUNKS`` chunks (read off the lexical index's word rarity)."""
    if lexical is None or not getattr(lexical, "size", 0):
        return set()
    most = math.log((1 + lexical.size) / (1 + NAMED_PASSAGE_MAX_CHUNKS)) + 1.0
    return {w for w in content_words(asked_part(question)) if len(w) >= 4 and not w.isdigit()
            and lexical.idf.get(w, 0.0) >= most}


def named_passages(hits: list, vector: np.ndarray, *, question: str, document_ids, departments: list[int],
                   lexical, language: str = "") -> list:
    """``hits`` joined by the chunk naming each rare word of the question (``named_words``) that no hit
    names, among the documents the answer may quote: one in the customer's ``language`` first, then the
    most similar to the question."""
    from apps.knowledge.search import knowledge_chunks_naming

    words = named_words(question, lexical)
    if not words:
        return hits
    named = set().union(*(content_words(f"{h.heading} {h.text}") for h in hits))
    missing = words - named
    if not missing:
        return hits
    known = {h.chunk_id for h in hits}
    extra = []
    for word in sorted(missing):
        for hit in knowledge_chunks_naming(vector, word, document_ids=document_ids, departments=list(departments),
                                           language=language):
            if hit.chunk_id not in known:
                known.add(hit.chunk_id)
                extra.append(hit)
    if not extra:
        return hits
    # within the hits the answer reads (``PARAMS["max_hits"]``), after the better-ranked ones
    at = max(0, min(len(hits), PARAMS["max_hits"] - len(extra)))
    return list(hits[:at]) + extra + list(hits[at:])


# A follow-up this short ("¿Y cuánto tardan en contestar?", "ok and how long until I get the money?")
# leans on the conversation for its subject: it is read together with the customer's previous question.
FOLLOW_UP_MAX_WORDS = 14


def question_in_context(text: str, history: list[dict] | None) -> str:
    """The words the answer is searched with besides the turn's own: a short follow-up is read after the
    customer's previous message that says something (not a greeting: two content words or more),
    "¿Necesito autorización para una resonancia? ¿Y cuánto tardan en contestar?"; "" when the turn
    stands alone (long, or the conversation's first message). After a turn that names no subject of its own
    ("¿Cuánto tarda?", ``names_no_subject``) one word of subject is enough ("¿Cuánto sale la instalación?")."""
    if len((text or "").split()) > FOLLOW_UP_MAX_WORDS:
        return ""
    minimum, ignored = (1, _GREETING_WORDS | FRAME_WORDS) if names_no_subject(text) else (2, _GREETING_WORDS)
    earlier = [h.get("text") or "" for h in (history or []) if h.get("role") == "customer"]
    previous = next((t for t in reversed(earlier)
                     if len([w for w in content_words(t) if w not in ignored]) >= minimum), "")
    return previous.strip()


# A follow-up that leans on the conversation for its subject: it opens, after an acknowledgement, with a
# connective ("ok and how long until I get the money?", "¿Y cuánto tardan en contestar?", "So if I break a
# leg on the slopes am I covered?", "O sea que...") or refers back with a pronoun ("Do we need to tell you
# about it?", "¿Eso cuánto tarda?"). "Bien. ¿Hay alguna sucursal en Salta?" names its own subject.
_ACKNOWLEDGEMENT = (r"(?:(?:ok(?:ay)?|okey|got it|i see|great|perfect|fine|sure|thanks|thank you|right|alright|bien|"
                    r"dale|listo|perfecto|genial|gracias|bueno|ah|ahh|entiendo|ya veo|claro|vale|ya)\W+)*")
_BACK_REFERENCE = r"\b(?:it|its|that|this|them|those|these|eso|esto|ese|esa|esos|esas)\b"
# Spanish object pronouns: attached to an infinitive ("¿Cuánto tardan en pagarlo?", "¿Puedo cancelarla?") or
# before the verbs a customer asks with ("¿La puedo cancelar?", "¿Lo pueden mandar a otra dirección?"); not
# the article ("¿La factura llega por mail?").
_SPANISH_OBJECT_PRONOUN = (r"\b[a-záéíóúñ]{3,}(?:ar|er|ir)(?:lo|la|los|las)\b|"
                           r"(?:^|[¿¡,;]\s*|\by\s+)(?:lo|la|los|las)\s+(?:puedo|puede|pueden|pod[eé]s|podemos|tengo|"
                           r"ten[eé]s|tiene|tienen|debo|debe|deben|necesito|van|vas|voy|mandan|env[ií]an|cobran|dan|"
                           r"hacen|piden|pido|pago|cancelo|devuelvo|devuelven|reciben|recibo|retiro|uso|activo)\b")
_REFERS_BACK = re.compile(rf"{_BACK_REFERENCE}|{_SPANISH_OBJECT_PRONOUN}", re.IGNORECASE)
_LEANS_ON_CONTEXT = re.compile(
    rf"^\W*{_ACKNOWLEDGEMENT}(?:and|so|also|then|but|what about|how about|y|e|entonces|o sea|pero|"
    rf"tambi[eé]n|adem[aá]s)\b|{_BACK_REFERENCE}|{_SPANISH_OBJECT_PRONOUN}|\b(?:ah[ií]|all[ií])\b", re.IGNORECASE)


def follow_up_documents(document_ids, previous_documents):
    """The documents a follow-up is searched in: the topic's (None: the whole knowledge base) and those the
    bot's last answer quoted."""
    if document_ids is None or not previous_documents:
        return document_ids
    return sorted(set(document_ids) | set(previous_documents))


# The words of a question's frame, what kind of thing it asks for ("how long does it take", "¿cuánto
# cuesta?", "how many days"), not what it is about.
FRAME_WORDS = frozenset("""long take takes taking much many cost costs price prices time times day days hour hours
week weeks month months happens happen tarda tardan tarde demora demoran cuesta cuestan costo sale salen tiempo
dia dias hora horas semana semanas mes meses pasa sucede""".split())
ELLIPTICAL_MAX_WORDS = 6


def names_no_subject(text: str) -> bool:
    """A short question whose words are only its frame: "¿Cuánto tarda?", "¿Cuánto cuesta?", "What do I do?",
    "How many days do I have?". What it is about is the conversation's subject."""
    # after an acknowledgement: "ok, and how long does it take?" is "how long does it take?"
    text = _OPENING_ACKNOWLEDGEMENT.sub("", text or "", count=1)
    if (not 2 <= len(text.split()) <= ELLIPTICAL_MAX_WORDS or "?" not in text or "!" in text
            or _ASKS_WHY.search(text)):
        # "What?!", "¡¿Cómo que no puedo?!", "Why not?": a reaction or a reason asked for, not a detail of the
        # same subject
        return False
    return not [w for w in content_words(text) if w not in FRAME_WORDS and not w.isdigit()]


_ASKS_WHY = re.compile(r"\b(?:why|how come|por ?qu[eé])\b", re.IGNORECASE)
_OPENING_ACKNOWLEDGEMENT = re.compile(rf"^\W*{_ACKNOWLEDGEMENT}", re.IGNORECASE)

# "How about Bahía Blanca?", "And in Palihue?", "¿Y en Rosario?": the conversation's question asked again of
# another place or thing, named (capitalised) after the opener, with no question words of its own
_SUBSTITUTION = re.compile(rf"^\W*{_ACKNOWLEDGEMENT}(?:what about|how about|and|y|e|qu[eé] tal)\s+(?P<rest>.+)$",
                           re.IGNORECASE)
_ASKING = re.compile(r"\b(?:how|when|where|what|which|who|why|is|are|do|does|did|can|could|will|would|should|"
                     r"cu[aá]nt\w*|cu[aá]ndo|d[oó]nde|c[oó]mo|qu[eé]|qui[eé]n\w*|puedo|pued\w+|pod[eé]s|tien\w+|"
                     r"tengo|es|son|hay|est[aá]\w*)\b", re.IGNORECASE)
SUBSTITUTION_MAX_WORDS = 4


def substituted_names(text: str) -> list[str]:
    """The names a follow-up asks the conversation's question again about ("How about Villa Mitre?" ->
    ["villa", "mitre"], "¿Y en Rosario?" -> ["rosario"]): its capitalised words after "what about", "how
    about", "and", "y"..., when what follows is a few words that ask nothing of their own ("And how long
    does it take?" names none). Folded."""
    found = _SUBSTITUTION.match((text or "").strip())
    if not found:
        return []
    rest = found.group("rest")
    if len(rest.split()) > SUBSTITUTION_MAX_WORDS or _ASKING.search(rest):
        return []
    return [fold(w) for w in re.findall(r"\b[A-ZÁÉÍÓÚÑ][\wáéíóúñü]+", rest) if fold(w) not in STOPWORDS]


# a name the pages use in at most this share of their rarest word's rarity (inverse document frequency) is
# specific enough to stand for what a pronoun refers to: "Córdoba" (a store's row), not "TecnoMundo" (every page)
CARRIED_NAME_MIN_RARITY = 0.5


def carried_names(previous: str, vocabulary) -> list[str]:
    """The names of the customer's previous message a pronoun may stand for ("What are its opening hours on
    Saturday?" after "I want to buy a laptop at your Córdoba store." -> ["cordoba"]): its capitalised words,
    not opening a sentence, that the pages use, and not on most of them. Folded."""
    idf = word_idf(vocabulary)
    if not idf or not previous:
        return []
    floor = CARRIED_NAME_MIN_RARITY * idf["__max__"]
    return list(dict.fromkeys(w for w in names_of(previous) if w not in STOPWORDS and idf.get(w, 0.0) >= floor))


def names_in(names: list[str], text: str) -> bool:
    """Every name of ``names`` is a word of ``text`` (folded)."""
    words = set(_WORD.findall(fold(text)))
    return all(n in words for n in names)


def leans_on_context(text: str) -> bool:
    """The message is a follow-up that needs the conversation to be understood (``_LEANS_ON_CONTEXT``), or
    a question that names no subject of its own (``names_no_subject``)."""
    return bool(_LEANS_ON_CONTEXT.search(text or "")) or names_no_subject(text)


def refers_back(text: str) -> bool:
    """The message names its subject with a pronoun ("How long does that take?", "¿Eso cuánto tarda?"), or
    names none ("¿Cuánto tarda?"): what the conversation was about, not anything its own words match."""
    return bool(_REFERS_BACK.search(text or "")) or names_no_subject(text)


_GREETING_WORDS = frozenset("""good morning afternoon evening hello hey thanks thank cheers hola buenas buenos buen dia
dias tardes noches gracias saludos""".split())


# after a sentence's end and its spaces, or after "!!" / "?!" run straight into the next word (a customer's
# message: any next word, lower case included; ``split_sentences``'s ``_SENTENCE_END`` is for the pages)
_FOCUS_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[!?]{2})(?![!?\s])")
_INTERJECTION = re.compile(
    r"^\W*((?!(?:what|when|where|why|how|which|who|can|could|do|does|is|are|will|qu[eé]|c[oó]mo|cu[aá]ndo|d[oó]nde|"
    r"por qu[eé]|cu[aá]l|cu[aá]nto|puedo|pueden|hay|and|y|but|pero)\b)(?:[^\W\d_]+[\s']*){1,4}?)\s*[,;:]\s+(?=\S)",
    re.IGNORECASE)


def question_focus(text: str, vocabulary) -> str:
    """The message without its sentences that share no word with the knowledge base ("Estoy harta!!!
    ¿cuánto tarda en pagarse un reintegro?" -> the question; "Are you KIDDING me? My fee went up AGAIN.
    How often do you raise prices??" -> the last two): venting the help pages never word cannot find
    their passage, and it dilutes the question's meaning and its share of words in the answer. So does a
    short exclamation opening a sentence ("La puta madre, la heladera vino abollada...": ``_INTERJECTION``,
    a leading clause of at most four words that asks nothing and shares no word with them). The whole
    message when every sentence, or none, shares a word with them."""
    if vocabulary is None or not text:
        return text

    def known(part: str) -> bool:
        return any(w in vocabulary for w in content_words(part) if len(w) > 3)

    # an exclamation opening a sentence ("La puta madre, la heladera vino abollada...", "For God's sake, I
    # paid..."): a short leading clause that shares no word with the pages goes with the venting
    sentences = [_INTERJECTION.sub(lambda m: "" if not known(m.group(1)) else m.group(0), p.strip())
                 for p in _FOCUS_SENTENCE_END.split(text) if p and p.strip()]
    sentences = [p for p in sentences if p]
    if len(sentences) < 2:
        focused = sentences[0] if sentences else text
        return focused if focused != text.strip() and known(focused) else text
    kept = [p for p in sentences if known(p)]
    return " ".join(kept) if kept and (len(kept) < len(sentences) or " ".join(kept) != text.strip()) else text


def local_answer(*, question: str, vector: np.ndarray, language: str, document_ids, departments: list[int],
                 intent_probability: float, embed, wider=False, context: str = "", upset: bool = False,
                 previous_documents=frozenset()) -> dict | None:
    """Retrieve (both languages, the customer's preferred), select, score and compose. Returns
    {answer, confidence, hit, selection, unknown_terms, unknown_amounts, unknown_subjects, top, features}
    or None when nothing is retrieved.
    ``wider`` (False: only ``document_ids``): how far beyond the topic's documents up to
    ``WIDER_HITS`` passages may join the topic's when they rank above its best (``widen``).
    ``context``: the customer's previous question for a follow-up (``question_in_context``): the
    search reads both; the passage is chosen by this turn's words, and the knowledge base's evidence
    of scope (``top``) is this turn's own search, so context never makes an off-topic follow-up
    ("Unrelated, but can you help me with my tax return?") look covered.
    ``previous_documents``: the documents the bot's last answer quoted; a follow-up (``context``) is
    also searched in them, beyond its topic's documents, and their units are preferred by
    ``FOLLOW_UP_SAME_DOCUMENT``.
    ``upset``: the customer is clearly upset (sentiment at or under ``policy.UPSET_MAX_SENTIMENT``): the
    passage is searched and chosen without the message's sentences that share no word with the
    knowledge base (``question_focus``); the whole message still marks the customer's own case."""
    from apps.knowledge.search import knowledge_search_vector

    def search(text, text_vector, ids=document_ids):
        found = knowledge_search_vector(text_vector, query=text, document_ids=ids,
                                        departments=list(departments), language=None, k=PARAMS["max_hits"])
        return widen(found, text_vector, query=text, document_ids=ids, wider=wider,
                     departments=departments, k=PARAMS["max_hits"])

    asked = question  # the whole message: its codes, names and amounts mark the customer's own case
    # the vocabulary of the matrix last searched (at most one knowledge-base generation behind: the search
    # below checks the generation); only the country read and which sentences are kept depend on it
    before = _kb_lexical()
    known = before.idf if before is not None else None
    # the country of a place the customer names, as the pages write it ("...get to Córdoba? (Argentina)")
    countries = places.countries_for(question, known)
    if countries:
        question = f"{question} ({', '.join(countries)})"
        vector = np.asarray(embed([question])[0], dtype=np.float32)
    if upset:
        focus = question_focus(question, known)
        if focus != question:
            question, vector = focus, np.asarray(embed([focus])[0], dtype=np.float32)
    found = search(question, vector)
    hits = own = named_passages(found, vector, question=question, document_ids=document_ids,
                                departments=departments, lexical=before, language=language)
    named_chunks = frozenset(h.chunk_id for h in own) - frozenset(h.chunk_id for h in found)
    # the section a list question names, read on the turn's own words (``listed_section``)
    hits, sections = listed_sections(hits, vector, question=question, document_ids=document_ids,
                                     departments=departments)
    if context:
        combined = f"{context} {question}"
        combined_vector = np.asarray(embed([combined])[0], dtype=np.float32)
        # a follow-up is also searched in the documents the bot's last answer quoted: "¿Y cuánto tardan
        # en contestar?" after the authorizations page, read by its own words as the complaints topic
        hits = search(combined, combined_vector, follow_up_documents(document_ids, previous_documents))
        if sections and all(h.chunk_id != sections[0] for h in hits):
            sections = ()
    if not hits:
        return None
    lexical = _kb_lexical()  # the search just validated the matrix's generation
    vocabulary = lexical.idf if lexical is not None else None

    def copies(unit_vector):  # a passage's copy in the customer's language (``customer_language_copy``)
        return knowledge_search_vector(unit_vector, departments=list(departments), language=language,
                                       k=COPY_SEARCH_K) if language else []

    selection = select_answer(question, vector, hits, language=language, embed=embed, idf=word_idf(vocabulary),
                              sections=sections, copies=copies, keep=named_chunks,
                              prefer_documents=frozenset(previous_documents or ()) if context else frozenset())
    if selection is None:
        return None
    looks = answer_type_asked(asked, instructions=False)  # what the turn asks for: a time, an amount...
    if context and own and hits is not own:
        # Searched with the previous message too, the passage may answer that message instead: "And how
        # long does the installation take?" after "How much is the 300 mega plan?" found "Installation
        # costs $25,000". A passage that does not state what the turn asks for (its answer type) gives
        # way to the one the turn's own words find, when that one does.
        if looks is not None and not looks.search(selection.text):
            alone = select_answer(question, vector, own, language=language, embed=embed, idf=word_idf(vocabulary),
                                  copies=copies)
            if alone is not None and looks.search(alone.text):
                selection = alone
    unknown = unknown_specific_terms(asked, vocabulary)
    names = unknown_names(asked, vocabulary)
    subjects = (unknown_subjects(asked, vocabulary, embed) + unknown_quantities(asked, getattr(lexical, "quantities", None))
                + live_values(asked))
    subjects += [w for w in unknown_objects(asked, vocabulary, embed) if w not in subjects]
    others = other_organisations(asked, vocabulary)
    confidence = answer_confidence(selection, intent_probability=intent_probability, unknown_terms=unknown,
                                   unknown_names=names)
    read_with_context = False
    floor = hedge_floor()
    # A turn that names no subject and is not found with the conversation is not answered, not even hedged
    # (under every hedge floor): its words alone find whatever passage states a time or a price.
    from .policy import TOPIC_HEDGE_PROBABILITY  # the lowest hedge floor the policy applies

    unsure = min(floor, TOPIC_HEDGE_PROBABILITY or floor) - 0.01 if floor is not None else None
    if not context and floor is not None and names_no_subject(asked):
        # "How long does it take?" with nothing said before it
        confidence = min(confidence, unsure)
    if context and leans_on_context(asked) and floor is not None:
        # A follow-up that leans on the conversation ("¿Y cuánto tardan en contestar?", "Do we need to tell
        # you about it?", "How long does that take?") is also read as the conversation's question, the
        # previous message and this one: on the pages the bot's last answer quoted first, then on the
        # turn's passages. Such a reading is taken when the turn's own few words cannot answer it (under
        # the hedge floor: the right passage was judged at 0.27), or when the turn refers back with a
        # pronoun and its own words found another page ("How long does that take?" after the change of
        # account holder: payments are credited in 24-72 hours, says the FAQ). Only a passage that states
        # what the turn asks for (its answer type: "¿Y cuánto tardan en instalar?" after the price of the
        # installation is not answered by the price again) and that reaches the hedge floor; the turn is
        # then always hedged (``read_with_context``, ``services._decide``): the previous question's words
        # make its passage look surer than it is.

        # "How about Villa Mitre?" after the answer on Punta Alta: only a passage that names Villa Mitre
        named = substituted_names(asked)
        # "What are its opening hours on Saturday?" after "I want to buy a laptop at your Córdoba store.": the
        # pronoun stands for what the previous message named, and a passage that does not name it (the
        # customer service's hours) answers another question
        carried = False
        if not named and refers_back(asked):
            named = carried_names(context, vocabulary)
            carried = bool(named) and not names_in(named, selection.text)

        def reading(found_hits):
            if named:
                found_hits = [h for h in found_hits if names_in(named, h.text)]
                if not found_hits:
                    return None
            chosen = select_answer(combined, combined_vector, found_hits, language=language, embed=embed,
                                   idf=word_idf(vocabulary), copies=copies,
                                   prefer_documents=frozenset(previous_documents or ()))
            if (chosen is None or (looks is not None and not looks.search(chosen.text))
                    or (named and not names_in(named, chosen.text))):
                return None
            sure = answer_confidence(chosen, intent_probability=intent_probability, unknown_terms=unknown,
                                     unknown_names=names)
            return (chosen, sure) if sure >= floor else None

        page = frozenset(previous_documents or ())
        unanswered = confidence < floor
        # "¿Cuánto tarda?" names no subject: its own words find whatever passage states a time, so only a
        # reading with the conversation answers it (else no answer it can be sure of: under the floor)
        subjectless = names_no_subject(asked)
        elsewhere = refers_back(asked) and getattr(selection.hit, "document_id", None) not in page
        found = None
        if page and (unanswered or elsewhere or subjectless):
            page_hits = [h for h in search(combined, combined_vector, sorted(page)) if h.document_id in page]
            found = reading(page_hits) if page_hits else None
        if found is None and (unanswered or subjectless or carried):
            # a name asked about again is also looked for where the turn's own words found it
            found = reading(hits + [h for h in own if all(h.chunk_id != k.chunk_id for k in hits)] if named else hits)
        if found is None and carried and document_ids is not None:
            # what the previous message named may be on a page of another topic (the stores' opening hours,
            # asked under the contact topic): looked for on every page the customer may be answered from
            found = reading(search(combined, combined_vector, None))
        if found is not None and (elsewhere or subjectless or carried or found[1] > confidence):
            (selection, confidence), read_with_context = found, True
        elif subjectless:
            confidence = min(confidence, unsure)
    link = ""
    try:
        from apps.knowledge.models import Document

        source = Document.objects.filter(pk=selection.hit.document_id).values_list("source", flat=True).first() or ""
        link = source if source.startswith(("http://", "https://")) else ""
    except Exception:  # noqa: BLE001
        link = ""
    answer = compose_reply(drop_stray_polarity(selection.text, question), language=language, passage_language=selection.language,
                           title=selection.hit.document_title, link=link)
    return {"answer": answer, "confidence": confidence, "hit": selection.hit, "selection": selection,
            "unknown_terms": unknown, "unknown_amounts": unknown_amounts(asked, getattr(lexical, "figures", None)),
            "unknown_subjects": subjects, "read_with_context": read_with_context, "other_organisations": others,
            "top": float(own[0].score) if own else 0.0,
            "features": verifier_features(selection, unknown_terms=unknown, unknown_names=names)}


def units_warm(limit: int = 20000) -> int:
    """Split and embed the units of the knowledge base's chunks now (one batch), so the first
    customers do not pay for it; called when a worker starts and before an evaluation. Returns how
    many chunks were prepared."""
    from apps.knowledge.embeddings import embed_texts
    from apps.knowledge.models import Chunk

    todo = [(cid, heading, text) for cid, heading, text in
            Chunk.objects.filter(document__is_active=True).values_list("id", "heading", "text")[:limit]
            if _unit_key(cid, heading, text) not in _unit_cache]
    if not todo:
        return 0
    prepared = []
    texts: list[str] = []
    for cid, heading, text in todo:
        units, unit_texts = _chunk_units(heading, text)
        prepared.append((_unit_key(cid, heading, text), units, len(texts)))
        texts += unit_texts
    vectors = embed_texts(texts)
    for key, units, start in prepared:
        _unit_cache[key] = (units, vectors[start:start + len(units)])
    return len(prepared)
