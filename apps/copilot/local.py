"""The offline copilot: every output is quoted or rule-based, so it cannot invent facts.

* reply drafts: the knowledge base's own sentences (the agent's extractive composer);
* summaries: the most central customer sentences plus the chat's facts (handoff, last replies);
* rewrite: rule-based formalising and shortening (EN/ES);
* translation EN<->ES: only sentences found in a knowledge-base document whose other-language
  version exists (documents sharing a ``kb:<key>`` tag, chunk by chunk, sentence by sentence) and
  a small phrase table of customer-service phrases. Anything else is left untranslated and counted,
  and the panel says so: there is no offline machine translation model in the stack.
"""
from __future__ import annotations

import re
import unicodedata

import numpy as np

SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def sentences(text: str) -> list[str]:
    return [p.strip() for p in SENTENCE.split(text or "") if p.strip()]


def fold(text: str) -> str:
    """Lower case, no accents, no punctuation, single spaces: the key phrase lookups use."""
    text = unicodedata.normalize("NFKD", (text or "").lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.findall(r"[a-z0-9ñ]+", text))


# --- summaries ---------------------------------------------------------------------------------

def central_sentences(texts: list[str], *, limit: int = 3) -> list[str]:
    """The ``limit`` sentences closest to the centroid of all of them, in their original order."""
    from apps.agent.engine import embed

    parts = [s for t in texts for s in sentences(t) if len(s) > 3]
    if len(parts) <= limit:
        return parts
    vectors = embed(parts)
    centroid = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centroid)) or 1.0
    sims = vectors @ (centroid / norm)
    chosen = sorted(int(i) for i in np.argsort(-sims)[:limit])
    return [parts[i] for i in chosen]


def clip(text: str, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


_FAQ = re.compile(r"^\s*(?:Q|P)\s*:.*?\n\s*(?:A|R)\s*:\s*(.+)$", re.S)


def faq_answer(text: str) -> str:
    """A drafted FAQ entry ("Q: ...\nA: ...") becomes just its answer."""
    match = _FAQ.match(text or "")
    return match.group(1).strip() if match else text


# --- rewrite: formal / shorter -----------------------------------------------------------------

FORMAL = {
    "en": [
        (r"\bhi\b|\bhey\b", "Hello"), (r"\bthanks\b|\bthx\b", "thank you"), (r"\bok\b|\bokay\b", "certainly"),
        (r"\byeah\b|\byep\b", "yes"), (r"\bnope\b", "no"), (r"\bgonna\b", "going to"), (r"\bwanna\b", "want to"),
        (r"\bcan't\b", "cannot"), (r"\bwon't\b", "will not"), (r"\bdon't\b", "do not"),
        (r"\bdoesn't\b", "does not"), (r"\bisn't\b", "is not"), (r"\baren't\b", "are not"),
        (r"\bI'm\b", "I am"), (r"\byou're\b", "you are"), (r"\bit's\b", "it is"), (r"\bwe're\b", "we are"),
        (r"\bI'll\b", "I will"), (r"\bwe'll\b", "we will"), (r"\bthat's\b", "that is"), (r"\basap\b", "as soon as possible"),
        (r"\bpls\b|\bplz\b", "please"), (r"\bu\b", "you"),
    ],
    "es": [
        (r"\bhola\b", "Buen día"), (r"\bok\b|\bokey\b|\bdale\b", "de acuerdo"), (r"\bgracias\b", "muchas gracias"),
        (r"\bvos\b", "usted"), (r"\btenés\b|\btienes\b", "tiene"), (r"\bpodés\b|\bpuedes\b", "puede"),
        (r"\bquerés\b|\bquieres\b", "quiere"), (r"\bsabés\b|\bsabes\b", "sabe"), (r"\bnecesitás\b|\bnecesitas\b", "necesita"),
        (r"\bfijate\b|\bfíjate\b", "verifique"), (r"\bprobá\b|\bprueba\b", "pruebe"), (r"\breiniciá\b|\breinicia\b", "reinicie"),
        (r"\bescribinos\b|\bescríbenos\b", "escríbanos"), (r"\btu\b", "su"), (r"\btus\b", "sus"), (r"\bte\b", "le"),
        (r"\bxq\b|\bpq\b", "porque"), (r"\bporfa\b", "por favor"),
    ],
}
CLOSING = {"en": "Kind regards.", "es": "Saludos cordiales."}
FILLER = {
    "en": r"\b(just|really|basically|actually|actually|simply|very|quite|of course|as you know|I think that|I believe that)\b\s*",
    "es": r"\b(realmente|básicamente|simplemente|en realidad|obviamente|muy|bastante|como sabe|como sabés|creo que)\b\s*",
}


def _match_case(repl: str, original: str) -> str:
    return repl[:1].upper() + repl[1:] if original[:1].isupper() else repl


def _sentence_case(text: str) -> str:
    out = []
    for s in sentences(text):
        s = s[:1].upper() + s[1:]
        if s[-1] not in ".!?:…":
            s += "."
        out.append(s)
    return " ".join(out)


def formalise(text: str, language: str) -> str:
    lang = language if language in FORMAL else "en"
    result = text.strip()
    for pattern, repl in FORMAL[lang]:
        result = re.sub(pattern, lambda m, r=repl: _match_case(r, m.group(0)), result, flags=re.IGNORECASE)
    result = re.sub(r"!{2,}", "!", result)
    result = re.sub(r"\?{2,}", "?", result)
    result = re.sub(r"[:;]-?[()DPp]|[\U0001F300-\U0001FAFF]", "", result)  # emoticons and emoji
    result = _sentence_case(result)
    if fold(CLOSING[lang]) not in fold(result):
        result = f"{result} {CLOSING[lang]}".strip()
    return result


def shorten(text: str, language: str, *, max_sentences: int = 2) -> str:
    lang = language if language in FILLER else "en"
    cleaned = re.sub(r"\s*\([^)]*\)", "", text)
    cleaned = re.sub(FILLER[lang], "", cleaned, flags=re.IGNORECASE)
    parts = sentences(cleaned)
    if len(parts) > max_sentences:
        parts = parts[:max_sentences]
    result = " ".join(" ".join(p.split()) for p in parts)
    return _sentence_case(result) if result else ""


# --- translation: phrase table + knowledge-base parallel passages -----------------------------

PHRASES = [  # (en, es)
    ("Hello", "Hola"), ("Hi", "Hola"), ("Good morning", "Buen día"), ("Good afternoon", "Buenas tardes"),
    ("Good evening", "Buenas noches"), ("Thank you", "Gracias"), ("Thank you very much", "Muchas gracias"),
    ("Thanks for your patience", "Gracias por su paciencia"), ("Thank you for contacting us", "Gracias por comunicarse con nosotros"),
    ("Kind regards", "Saludos cordiales"), ("Best regards", "Saludos cordiales"), ("You're welcome", "De nada"),
    ("How can I help you", "¿En qué puedo ayudarle"), ("How can I help you?", "¿En qué puedo ayudarle?"),
    ("I will check it for you", "Lo reviso para usted"), ("Let me check", "Déjeme revisar"),
    ("One moment, please", "Un momento, por favor"), ("Please wait a moment", "Por favor, aguarde un momento"),
    ("I'm sorry for the inconvenience", "Disculpe las molestias"), ("Sorry for the inconvenience", "Disculpe las molestias"),
    ("We apologise for the inconvenience", "Le pedimos disculpas por las molestias"),
    ("Is there anything else I can help you with?", "¿Hay algo más en lo que pueda ayudarle?"),
    ("Is there anything else?", "¿Algo más?"), ("Have a nice day", "Que tenga un buen día"),
    ("Could you send me your customer number?", "¿Me podría enviar su número de cliente?"),
    ("Could you confirm your address?", "¿Podría confirmar su dirección?"),
    ("Please restart your router", "Por favor, reinicie su router"), ("Your issue has been solved", "Su problema fue resuelto"),
    ("I'm transferring you to a colleague", "Le transfiero con un compañero"),
    ("A technician will visit you", "Un técnico lo visitará"), ("Yes", "Sí"), ("No", "No"),
    ("Of course", "Por supuesto"), ("Certainly", "Por supuesto"), ("Great", "Perfecto"), ("Perfect", "Perfecto"),
]
_TABLE = {("en", "es"): {fold(en): es for en, es in PHRASES}, ("es", "en"): {fold(es): en for en, es in PHRASES}}


def phrase(sentence: str, source: str, target: str) -> str | None:
    hit = _TABLE.get((source, target), {}).get(fold(sentence))
    if hit is None:
        return None
    end = sentence.rstrip()[-1:] if sentence.rstrip()[-1:] in ".!?," else ""
    return hit if hit[-1:] in ".!?" or not end else hit + end


def parallel(sentence: str, source: str, target: str, allowed_documents: list[int]) -> tuple[str, dict] | None:
    """The other-language version of a knowledge-base sentence, from the document pair sharing a
    ``kb:<key>`` tag: same chunk position, same sentence position (only when both chunks split into
    the same number of sentences, so the alignment is not a guess)."""
    from apps.knowledge.models import Chunk, Document

    key = fold(sentence)
    if len(key) < 12:
        return None
    probe = sentence.strip()[:120]
    candidates = (Chunk.objects.filter(document_id__in=allowed_documents, text__icontains=probe)
                  .select_related("document").only("id", "ordinal", "text", "document__id", "document__tags",
                                                   "document__language")[:20])
    for chunk in candidates:
        doc_lang = chunk.document.language or ""
        if doc_lang and doc_lang != source:
            continue
        tags = [t for t in (chunk.document.tags or []) if isinstance(t, str) and t.startswith("kb:")]
        if not tags:
            continue
        mates = [d for d in Document.objects.filter(pk__in=allowed_documents, language=target)
                 .only("id", "tags", "title") if set(tags) & set(d.tags or [])]
        for mate in mates:
            other = Chunk.objects.filter(document=mate, ordinal=chunk.ordinal).only("text", "heading").first()
            if other is None:
                continue
            src_parts, dst_parts = sentences(chunk.text), sentences(other.text)
            index = next((i for i, s in enumerate(src_parts) if fold(s) == key), None)
            if index is None or len(src_parts) != len(dst_parts):
                continue
            return dst_parts[index], {"document_id": mate.pk, "title": mate.title, "chunk_id": other.pk}
    return None


def translate(text: str, source: str, target: str, allowed_documents: list[int]) -> tuple[str, list[dict], int, int]:
    """Returns (text, sources, sentences translated, sentences left as they were)."""
    out, sources, done, missed = [], [], 0, 0
    for line in (text or "").split("\n"):
        parts = []
        for s in sentences(line):
            found = phrase(s, source, target)
            if found is None:
                pair = parallel(s, source, target, allowed_documents)
                if pair:
                    found, src = pair
                    if src not in sources:
                        sources.append(src)
            if found is None:
                missed += 1
                parts.append(s)
            else:
                done += 1
                parts.append(found)
        out.append(" ".join(parts))
    return "\n".join(out).strip(), sources, done, missed
