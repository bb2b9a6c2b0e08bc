"""The four handoff triggers as pure functions over one turn and its conversation (no database):
what the customer asks for (a person, in any wording), how frustrated the conversation is, whether a
turn is in scope *in context*, and which department a handoff goes to. ``services._decide`` calls
them; ``README`` ("Triggers and their priority") states the order in which they win.

Everything here works on a business it was never tuned on: the examples it learns from are the
built-in ones (``builtin.py``, generic EN/ES) plus the business's own topic examples, and the
thresholds are one set of defaults chosen leave-one-business-out (README).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from . import builtin

# --- normalisation --------------------------------------------------------------------------------

_REPEATS = re.compile(r"([a-zñ])\1{2,}")
_SHORTHANDS = [(re.compile(p), r) for p, r in (
    (r"\bx\s+favor\b", "por favor"), (r"\bxfa\b", "por favor"), (r"\bporfa\b", "por favor"),
    (r"\bpls\b|\bplz\b", "please"), (r"\bq\b", "que"), (r"\bk\b", "que"), (r"\bu\b", "you"),
    (r"\br\b", "are"), (r"\bwanna\b", "want to"), (r"\bgonna\b", "going to"), (r"\bd\b", "de"),
)]


def fold(text: str) -> str:
    """Lower case, no accents."""
    return "".join(c for c in unicodedata.normalize("NFD", text.lower()) if unicodedata.category(c) != "Mn")


def normalise(text: str) -> str:
    """What a learned detector should see: repeated letters collapsed ("holaaa"), chat shorthands
    expanded ("x favor", "q", "pls"), spacing tidied. Case and accents kept for the embedding."""
    out = _REPEATS.sub(r"\1", text.strip())
    lowered = out.lower()
    for pattern, replacement in _SHORTHANDS:
        lowered = pattern.sub(replacement, lowered)
    out = lowered if lowered != out.lower() else out
    return " ".join(out.split())


_CLAUSE = re.compile(r"(?<=[.!?¿¡;,])\s+|\s+(?:but|pero|although|aunque|about|regarding|sobre|acerca de|"
                     r"por el tema de|por lo de|con respecto a|respecto de)\s+|\s*[—–]\s*", re.IGNORECASE)


# A period after an abbreviation ends no sentence ("on Av. Libertador", "Dr. Quiroga"): held as a one-dot
# leader while the message is split, so the clause keeps its words.
_ABBREVIATION_DOT = re.compile(r"(?<![\w.])([A-Za-zÁÉÍÓÚáéíóúÑñ]{2,5})\.(?=\s+\S)")
_HELD_DOT = "\u2024"
_SENTENCES_OF_THEIR_OWN = frozenset({"no", "etc"})  # "No. That's not it": in a chat, "No." is an answer


def _hold_abbreviation_dots(text: str) -> str:
    from .compose import ABBREVIATIONS

    return _ABBREVIATION_DOT.sub(lambda m: m.group(1) + (_HELD_DOT if fold(m.group(1)) in ABBREVIATIONS
                                                         and fold(m.group(1)) not in _SENTENCES_OF_THEIR_OWN else "."),
                                 text)


def clauses(text: str) -> list[str]:
    """The message's sentences and contrastive clauses ("ok thanks, but I'd rather talk to a person"),
    each long enough to mean something, not cut after an abbreviation ("Av. Libertador"). A request for
    a person is usually one of them."""
    held = _hold_abbreviation_dots(text)
    parts = [p.strip(" ,.;").replace(_HELD_DOT, ".") for p in _CLAUSE.split(held) if p and len(p.strip(" ,.;")) >= 2]
    return parts if len(parts) > 1 else []


# A purpose or a reason after the request ("Necesito hablar con un vendedor para pasarme al plan
# Integral", "I want to talk to a person because my card was charged twice") dilutes it: read alone,
# the words before the marker are the request and the words after it say what it is about. Only for
# the request for a person (the other readers keep ``clauses``). Not "to" or "as": they also open the
# request itself ("I want to talk to someone").
_PURPOSE = re.compile(r"\s+(?:para|porque|ya que|because|so that|in order to|since)\s+", re.IGNORECASE)


def purpose_split(text: str) -> list[str]:
    """The request and its purpose or reason, split at the first marker ([] when there is none)."""
    parts = [p.strip(" ,.;") for p in _PURPOSE.split(text, maxsplit=1)]
    return parts if len(parts) == 2 and all(len(p) >= 2 for p in parts) else []


# --- a request for a person -----------------------------------------------------------------------

@dataclass
class Explicit:
    probability: float          # P(wants a person): the highest over the message and its clauses
    clause: str                 # the words that asked
    rest_topic: str = ""        # a topic named in the rest of the message ("...about my card")
    rest_probability: float = 0.0


def predict(classifier, texts: list[str], vectors: np.ndarray, reader=None) -> list:
    """``classifier.predict``; through the turn's reader (``providers.TurnReader``) when given one, so a
    text the turn already read is not read again."""
    read = getattr(reader, "predict", None)
    return read(classifier, texts, vectors) if read is not None else classifier.predict(texts, vectors)


# A question about *when* the service's people attend ("And on Saturdays, until what time can I chat with a
# person?", "¿Hasta qué hora atienden por teléfono?") asks for the hours, which the pages state: not for a person
# now. A request beside it in a clause of its own still counts ("I want a person. Until what time are you open?").
_ASKS_HOURS = re.compile(
    r"\b(?:until|till) what time\b|\bwhat time (?:do|does|can|could|is|are|will)\b|"
    r"\bwhat (?:are )?(?:the |your )?(?:opening |business |office |support |service |chat |phone )?hours\b|"
    r"\bhasta qu[eé] hora\b|\b(?:a|desde) qu[eé] hora\b|\bqu[eé] horarios?\b|\ben qu[eé] horarios?\b|"
    r"\bcu[aá]l es el horario\b", re.IGNORECASE)


def explicit_request(classifier, text: str, vector: np.ndarray, embed, topic_prefix: str = "topic:") -> Explicit:
    """P(the customer asks for a person), learned (the classifier's ``human_request`` class over the
    built-in examples, any wording), read on the normalised message and on each of its clauses, so
    "Thanks. Could someone from your team call me about this?" is not diluted by its other half, and
    on the words before a purpose or reason ("Necesito un vendedor *para* cambiar de plan", ``purpose_split``).
    Also the best topic of the clauses that do not ask for a person: where to send the request."""
    norm = normalise(text)
    texts = [norm] + [c for c in clauses(norm)]
    texts += [p for p in purpose_split(norm) if p not in texts]
    vectors = [vector] if norm == text else []
    todo = texts[len(vectors):]
    if todo:
        vectors = list(vectors) + list(embed(todo))
    preds = predict(classifier, texts, np.asarray(vectors), embed)
    asking = [0.0 if _ASKS_HOURS.search(t) else preds[i].prob(builtin.HUMAN) for i, t in enumerate(texts)]
    best = max(range(len(texts)), key=lambda i: asking[i])
    result = Explicit(probability=asking[best], clause=texts[best])
    for i, pred in enumerate(preds):
        if i == 0 or pred.prob(builtin.HUMAN) >= 0.5:
            continue
        label, probability = best_topic(pred, topic_prefix)
        if label and probability > result.rest_probability:
            result.rest_topic, result.rest_probability = label, probability
    if not result.rest_topic:
        label, probability = best_topic(preds[0], topic_prefix)
        result.rest_topic, result.rest_probability = label, probability
    return result


def best_topic(pred, prefix: str = "topic:") -> tuple[str, float]:
    """The most probable business topic of a prediction (whatever its best class), as (slug, share
    of the probability among topics and the out-of-scope class)."""
    topics = {k: v for k, v in pred.probabilities.items() if k.startswith(prefix)}
    if not topics:
        return "", 0.0
    label = max(topics, key=topics.get)
    return label[len(prefix):], float(topics[label])


def _name_word_owners(departments: list[tuple[str, list[str]]], *, stem: bool) -> dict[str, set[str]]:
    """Each word of the department names (five letters or more, not a generic one; without a plural
    "s" when ``stem``) and the departments whose names have it."""
    owners: dict[str, set[str]] = {}
    for slug, names in departments:
        for name in names:
            for w in re.findall(r"[a-z0-9]+", fold(name)):
                if len(w) >= 5 and w not in _GENERIC_WORDS:
                    owners.setdefault(w.rstrip("s") if stem else w, set()).add(slug)
    return owners


def named_department(text: str, departments: list[tuple[str, list[str]]]) -> str:
    """The department the customer names ("someone in Billing", "your cards team"), by its name in
    any configured language; a word of the name counts when no other department's name has it.
    ``departments``: (slug, names). Returns the slug or ""."""
    words = set(re.findall(r"[a-z0-9]+", fold(text)))
    stems = {w.rstrip("s") for w in words if len(w) > 3}
    folded = fold(text)
    owners = _name_word_owners(departments, stem=True)
    for slug, names in departments:
        if any(len(fold(n)) >= 4 and re.search(rf"\b{re.escape(fold(n))}\b", folded) for n in names):
            return slug
    found = {next(iter(slugs)) for stem, slugs in owners.items() if len(slugs) == 1 and stem in stems}
    return found.pop() if len(found) == 1 else ""


# A customer word means a department-name word when their multilingual embeddings (single words, the
# agent's own encoder) are this close: translations score 0.82-0.94 ("comercios"-"merchants" 0.83,
# "facturación"-"billing" 0.87, "tarjetas"-"cards" 0.91), related words under it ("operador"-"provider"
# 0.72, "negocio"-"merchant" 0.65, "plata"-"payment" 0.46). Measured on a word list, not on scenarios.
NAME_TRANSLATION_MIN = 0.8


def named_department_by_meaning(text: str, departments: list[tuple[str, list[str]]], embed) -> str:
    """The department the customer names in another language than its configured names ("alguien del
    área de comercios" for Merchants): a word of the message (five letters or more, not a generic one)
    that translates a distinctive word of exactly one department's names (cosine >= ``NAME_TRANSLATION_MIN``
    of their ``embed`` vectors). For a request for a person only (the caller decides); "" if none or several."""
    owners = _name_word_owners(departments, stem=False)
    distinctive = sorted(w for w, slugs in owners.items() if len(slugs) == 1)
    words = sorted({w for w in re.findall(r"[^\W\d_]+", text.lower()) if len(w) >= 5
                    and fold(w) not in _GENERIC_WORDS and fold(w) not in owners})
    if not distinctive or not words:
        return ""
    vectors = np.asarray(embed(words + distinctive), dtype=np.float32)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    similar = vectors[:len(words)] @ vectors[len(words):].T
    found = {next(iter(owners[distinctive[j]])) for j in np.flatnonzero((similar >= NAME_TRANSLATION_MIN).any(axis=0))}
    return found.pop() if len(found) == 1 else ""


_GENERIC_WORDS = {"service", "services", "support", "customer", "customers", "atencion", "cliente", "clientes",
                  "servicio", "servicios", "soporte", "general", "equipo", "team", "department", "departamento",
                  "area", "sector", "member", "members", "persona", "person", "alguien", "someone", "humano",
                  "human", "operador", "operator", "asesor", "advisor", "agente", "agent", "ejecutivo", "quiero",
                  "hablar", "necesito", "please", "favor"}


# --- frustration ----------------------------------------------------------------------------------

class FrustrationModel:
    """P(this support message is frustrated), learned from the built-in frustrated vs calm support
    messages (``builtin.FRUSTRATED`` / ``CALM``) and, as calm, the business's own topic examples and
    the small-talk and human-request examples. Combined with the general sentiment model (trained
    on tweets, ``sentiment.py``), which alone reads support chats poorly: frustration =
    mean(P(negative), P(frustrated))."""

    C = 3.0

    def __init__(self):
        self.coef: np.ndarray | None = None
        self.intercept = 0.0

    def fit(self, calm_texts_vectors: np.ndarray, embed) -> "FrustrationModel":
        from sklearn.linear_model import LogisticRegression

        fixed = builtin.FRUSTRATED + builtin.CALM
        vectors = np.vstack([embed(fixed), calm_texts_vectors]) if len(calm_texts_vectors) else embed(fixed)
        labels = [1] * len(builtin.FRUSTRATED) + [0] * (len(vectors) - len(builtin.FRUSTRATED))
        clf = LogisticRegression(C=self.C, max_iter=2000, class_weight="balanced").fit(vectors, labels)
        self.coef, self.intercept = clf.coef_[0].astype(np.float32), float(clf.intercept_[0])
        return self

    def probability(self, vector: np.ndarray) -> float:
        if self.coef is None:
            return 0.0
        return float(1.0 / (1.0 + np.exp(-(float(self.coef @ vector) + self.intercept))))


# A customer's words that change the subject ("Unrelated, but...", "By the way", "Otra cosa:", "Nada que
# ver, pero..."): a closed class of discourse markers, in English and Spanish, not any business's words.
_TOPIC_SHIFT = re.compile(
    r"(?:unrelated|(?:totally |completely )?off[- ]topic|different (?:question|topic|subject)|another (?:question|thing)|"
    r"one more (?:question|thing)|on another (?:note|subject)|by the way|btw|changing (?:the )?subject|"
    r"nada que ver|no tiene nada que ver|otra cosa|otra pregunta|otro tema|cambiando de tema|por cierto|"
    r"de paso|ya que estamos|ya que est[aá]s)", re.IGNORECASE)
_SHIFT_OPENING = re.compile(r"^\W*(?:(?:ok|okay|great|thanks|thank you|perfect|cool|gracias|genial|perfecto|dale|"
                            r"bien|bueno|listo)\W+){0,2}(?:and |but |y |pero )?" + _TOPIC_SHIFT.pattern + r"\b",
                            re.IGNORECASE)
_SHIFT_ONLY = re.compile(rf"\W*(?:{_TOPIC_SHIFT.pattern})\W*", re.IGNORECASE)


def topic_shift_only(clause: str) -> bool:
    """The clause only says the subject changes ("Unrelated", "Otra cosa", "By the way"): the frustration
    models read such a word alone as upset ("Unrelated" at 0.68, the frustrated examples being short too),
    and it says nothing about the customer's mood."""
    return bool(_SHIFT_ONLY.fullmatch(clause or ""))


def shifts_topic(text: str) -> bool:
    """The message opens by changing the subject ("Thanks! Unrelated, but could you help me write a
    wedding toast?", "Gracias. Otra cosa: ..."): what follows is not a follow-up of the conversation."""
    return bool(_SHIFT_OPENING.search(text or ""))


def frustration(vector: np.ndarray, text: str, model: FrustrationModel | None, embed=None) -> float:
    """0..1 for one message: the mean of the general sentiment model's P(negative) and the support
    frustration model's probability (the lexicon's negativity when the sentiment model is missing),
    read on the whole message and, with ``embed``, on each of its sentences/clauses, the highest
    counting: "Two business days just to CONTACT the other bank? Are you kidding me?" is frustrated
    even though its first half, which dominates the whole message's embedding, is a plain question."""
    value = _frustration_one(vector, text, model)
    parts = [p for p in clauses(normalise(text)) if not topic_shift_only(p)] if embed is not None else []
    if parts:
        for part, part_vector in zip(parts, embed(parts)):
            value = max(value, _frustration_one(part_vector, part, model))
    return value


def _frustration_one(vector: np.ndarray, text: str, model: FrustrationModel | None) -> float:
    from .sentiment import sentiment_probabilities, sentiment_score

    probs = sentiment_probabilities(vector, text)
    negative = float(probs[0]) if probs is not None else max(0.0, -sentiment_score(text))
    if model is None or model.coef is None:
        return negative
    return (negative + model.probability(vector)) / 2


# The conversation's topic for a sustained-frustration handoff (``conversation_topic_vote``), chosen
# leaving one development business out (README, "Triggers on the three development businesses"):
VOTE_RETRIEVAL_K = 3               # the knowledge base's best chunks of a turn that vote ...
VOTE_RETRIEVAL_MIN_RELEVANCE = 0.3  # ... when at least this relevant, for the topics using their document


def turn_topic_probabilities(preds, prefix: str = "topic:") -> dict[str, float]:
    """A turn's topic probabilities, each the highest over the whole message and its clauses
    (``preds``: the classifier's predictions for them): "Perdí la tarjeta, ¿cuánto cuesta la
    nueva?" is about the lost card in its first clause even when the whole reads as fees."""
    out: dict[str, float] = {}
    for pred in preds:
        for label, p in pred.probabilities.items():
            if label.startswith(prefix):
                out[label] = max(out.get(label, 0.0), float(p))
    return out


def retrieved_topics(hits, document_topics: dict[int, list[str]], *, k: int = VOTE_RETRIEVAL_K,
                     min_relevance: float = VOTE_RETRIEVAL_MIN_RELEVANCE) -> dict[str, float]:
    """The topics whose documents the knowledge base finds for a turn: each of the ``k`` best hits
    at least ``min_relevance`` relevant gives relevance² / rank to the topics using its document
    (shared among them). Questions the topic examples do not cover ("¿Por qué no me anda el
    contactless?") are often covered by the documents of the right topic."""
    out: dict[str, float] = {}
    for rank, hit in enumerate(list(hits)[:k]):
        topics = document_topics.get(hit.document_id) or []
        if not topics or hit.relevance < min_relevance:
            continue
        for slug in topics:
            out[slug] = out.get(slug, 0.0) + float(hit.relevance) ** 2 / len(topics) / (1 + rank)
    return out


def conversation_topic_vote(turns: list[tuple], prefix: str = "topic:") -> tuple[str, float]:
    """The conversation's topic from all its customer turns: each turn votes with its squared topic
    probabilities plus the topics of what the knowledge base finds for it, a calm turn more than a
    frustrated one (weight (1.2 - frustration)²): the question that opened the conversation says
    more about the topic than "this is a joke". ``turns``: (class probabilities, frustration) or
    (class probabilities, frustration, {topic slug: retrieval vote}) per customer turn. Returns
    (slug, share of the votes)."""
    votes: dict[str, float] = {}
    for turn in turns:
        probabilities, frustrated = turn[0], turn[1]
        retrieved = turn[2] if len(turn) > 2 else {}
        weight = max(0.0, 1.2 - float(frustrated)) ** 2
        for label, p in probabilities.items():
            if label.startswith(prefix):
                votes[label[len(prefix):]] = votes.get(label[len(prefix):], 0.0) + weight * float(p) ** 2
        for slug, value in retrieved.items():
            votes[slug] = votes.get(slug, 0.0) + weight * float(value)
    if not votes or max(votes.values()) <= 0:
        return "", 0.0
    best = max(votes, key=votes.get)
    return best, votes[best] / max(1e-9, sum(votes.values()))


def frustration_to_sentiment(value: float) -> float:
    """The turn's ``sentiment`` on the settings' -1 (frustrated) .. +1 (calm) scale."""
    return round(1.0 - 2.0 * float(value), 4)


# The customer turn that opens a conversation is usually its question, even when it sounds like a
# complaint ("Why didn't my purchase get the cashback?"): it counts towards sustained frustration
# only when clearly upset (frustration >= 0.6, sentiment <= -0.2), later turns at the threshold. An
# opening that asks nothing ("La conexión anda pésimo de nuevo") is a complaint, not a question: it
# counts at the threshold like any other turn.
OPENING_MAX_SENTIMENT = -0.2


def sustained(sentiments: list[float], *, threshold: float, window: int, min_negative: int,
              turns: int | None = None, opening_asks: bool = True) -> tuple[bool, int]:
    """Sustained frustration: the current turn is negative and at least ``min_negative`` of the last
    ``window`` customer turns (this one included) are at or below ``threshold``. The shipped
    defaults (3 of 3) mean three frustrated turns in a row: one or two angry turns are answered.
    ``turns``: how many customer turns the conversation has had (this one included); when the
    window reaches back to the opening turn and that turn asked something (``opening_asks``), it
    counts only at or below ``min(threshold, OPENING_MAX_SENTIMENT)``."""
    recent = list(sentiments)[-max(1, window):]
    opening = None if turns is None or not opening_asks else len(recent) - turns  # index of turn 1 in ``recent``
    negatives = sum(1 for i, s in enumerate(recent)
                    if s <= (min(threshold, OPENING_MAX_SENTIMENT) if i == opening else threshold))
    current = min(threshold, OPENING_MAX_SENTIMENT) if opening == len(recent) - 1 else threshold
    return bool(recent) and recent[-1] <= current and negatives >= min_negative, negatives
