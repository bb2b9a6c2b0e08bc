"""The per-process agent engine: the scope classifier trained on the configured topics.

Trained on first use and retrained when the topics' examples change (a cheap fingerprint read on
each turn), so an Operator's edit in the admin or an ``agent_config import`` applies to the next
message in every worker without a restart.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time

import numpy as np

from . import builtin
from .builtin import BUILTIN_EXAMPLES, OOS
from .classifier import ScopeClassifier
from .triggers import FrustrationModel

# Classes whose examples are calm support messages (negatives of the frustration model).
CALM_CLASSES = (builtin.GREETING, builtin.THANKS, builtin.HUMAN, builtin.VAGUE)
# The hard negatives of asking for a person never take that class's place (``ScopeClassifier.absorb``).
ABSORB = {builtin.ABOUT_SOMEONE: builtin.HUMAN}

log = logging.getLogger(__name__)

# Scope threshold on the 0..1 score; AgentSettings.out_of_scope_threshold overrides per operation.
_lock = threading.Lock()
_engine: "Engine | None" = None
_snapshot: "Snapshot | None" = None
# How long a process trusts its cached configuration before re-checking the database. Changes made
# in this process (admin, agent_config import) invalidate at once; other workers follow within this.
CONFIG_TTL_SECONDS = 5.0


def embed(texts: list[str]) -> np.ndarray:
    from apps.knowledge.embeddings import embed_texts

    return embed_texts(list(texts))


def topic_label(slug: str) -> str:
    return f"topic:{slug}"


class Engine:
    def __init__(self, fingerprint: str, classifier: ScopeClassifier, topics: dict[str, int], frustration=None):
        self.fingerprint, self.classifier, self.topics = fingerprint, classifier, topics
        self.frustration = frustration  # triggers.FrustrationModel, trained with the classifier
        self.checked_at = time.monotonic()


class Snapshot:
    """The agent configuration as one immutable read: settings, topics (with their department,
    fields and document ids), transfer rules. Saves a dozen queries per customer message."""

    def __init__(self):
        from .models import AgentSettings, Topic, TransferRule
        from .providers import topic_document_ids

        self.settings = AgentSettings.load()
        if self.settings.default_department_id:
            _ = self.settings.default_department
        self.topics = {t.slug: t for t in Topic.objects.filter(is_active=True).select_related("department")
                       .prefetch_related("required_fields")}
        # None: the whole knowledge base; []: no document (the topic is always handed off)
        self.documents = {slug: (topic_document_ids(t) or None) if t.answers_from_kb else []
                          for slug, t in self.topics.items()}
        # document id -> the topics that use it (routing reads what the KB finds for a turn)
        self.document_topics: dict[int, list[str]] = {}
        for slug, ids in self.documents.items():
            for pk in ids or []:
                self.document_topics.setdefault(pk, []).append(slug)
        # documents only topics the agent may not answer use: never searched for another topic's answer
        answerable = {pk for slug, ids in self.documents.items() if self.topics[slug].bot_may_answer for pk in ids or []}
        self.withheld_documents = sorted({pk for ids in self.documents.values() for pk in ids or []} - answerable)
        self.rules = list(TransferRule.objects.filter(is_active=True).select_related("department", "topic")
                          .order_by("order", "id"))
        self.topic_departments = {slug: self._department_of(t) for slug, t in self.topics.items()}
        self.department_names = self._department_names()
        # (slug, names) of the topics, per language: "alguien de TecnoCanje" names the trade-in topic
        self.topic_names = [(slug, [n for n in (t.name, t.name_es, t.name_en) if n]) for slug, t in self.topics.items()]
        self.loaded_at = time.monotonic()

    def _department_names(self) -> list[tuple[str, list[str]]]:
        """(slug, names) of the active departments: the name, the slug and the customer-facing
        name per language, so a customer can ask for one by name."""
        from apps.departments.models import Department

        per_language = (self.settings.messages or {}).get("departments", {})  # before migration agent 0009
        return [(slug, [name, slug.replace("-", " "), *[n for n in (name_es, name_en) if n],
                        *[n for n in per_language.get(slug, {}).values() if n]])
                for slug, name, name_es, name_en in Department.objects.filter(is_active=True)
                .values_list("slug", "name", "name_es", "name_en")]

    def _department_of(self, topic) -> list[int]:
        """The department a topic belongs to (its own, else the default one it hands off to): a
        customer asking about this topic may be answered from documents limited to it."""
        if topic.department_id:
            return [topic.department_id]
        if not hasattr(self, "_default_department"):
            from apps.departments.services import department_default

            default = self.settings.default_department if self.settings.default_department_id else None
            if default is None or not default.is_active:
                default = department_default()
            self._default_department = default
        return [self._default_department.pk] if self._default_department is not None else []


def config_get() -> Snapshot:
    global _snapshot
    current = _snapshot
    if current is None or time.monotonic() - current.loaded_at >= CONFIG_TTL_SECONDS:
        current = _snapshot = Snapshot()
    return current


def _training_rows() -> list[tuple[str, str]]:
    from .models import TopicExample

    rows = [(topic_label(slug), text) for slug, text in
            TopicExample.objects.filter(topic__is_active=True).order_by("topic__slug", "id")
            .values_list("topic__slug", "text")]
    for label, texts in builtin_examples().items():
        rows += [(label, t) for t in texts]
    return rows


def builtin_examples() -> dict[str, list[str]]:
    """The built-in classes' examples, with the business's own out-of-scope examples
    (``AgentSettings.out_of_scope_examples``: ``{"mode": "extend"|"replace", "examples": [...]}``):
    an electronics shop replaces "what's the best phone to buy" with what is off-topic for it."""
    from .models import AgentSettings

    examples = {label: list(texts) for label, texts in BUILTIN_EXAMPLES.items()}
    custom = AgentSettings.load().out_of_scope_examples or {}
    extra = [str(t).strip() for t in custom.get("examples") or [] if str(t).strip()]
    if custom.get("mode") == "replace" and extra:
        examples[OOS] = extra
    else:
        examples[OOS] += extra
    return examples


def _fingerprint(rows: list[tuple[str, str]]) -> str:
    digest = hashlib.sha1()
    for label, text in rows:
        digest.update(f"{label}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def engine_get() -> Engine:
    global _engine
    from .models import Topic

    current = _engine
    if current is not None and time.monotonic() - current.checked_at < CONFIG_TTL_SECONDS:
        return current
    rows = _training_rows()
    fingerprint = _fingerprint(rows)
    if current is not None and current.fingerprint == fingerprint:
        current.checked_at = time.monotonic()
        return current
    with _lock:
        if _engine is not None and _engine.fingerprint == fingerprint:
            return _engine
        texts = [t for _l, t in rows]
        labels = [label for label, _t in rows]
        vectors = embed(texts)
        # Small training sets: a milder regularisation and a scope score leaning on the
        # nearest example, which stays meaningful with a handful of examples per class.
        # The same settings bench/clinc150.py selects on CLINC150's validation split.
        classifier = ScopeClassifier(C=10.0, embedding_weight=1.5, knn_weight=1.0, oos_weight=1.0,
                                      absorb=ABSORB)
        classifier.fit(texts, labels, vectors)
        topics = dict(Topic.objects.filter(is_active=True).values_list("slug", "pk"))
        calm = [i for i, label in enumerate(labels) if label.startswith("topic:") or label in CALM_CLASSES]
        frustration = FrustrationModel().fit(vectors[calm], embed)
        _engine = Engine(fingerprint, classifier, topics, frustration)
        log.info("agent: scope classifier trained on %d examples, %d classes", len(texts),
                 len(set(labels)))
        return _engine


def engine_invalidate(*args, **kwargs) -> None:
    """Re-read the configuration on the next turn (signal receiver for config models). The trained
    classifier is kept while the examples' fingerprint is unchanged, so saving a threshold does not
    retrain anything."""
    global _snapshot
    _snapshot = None
    if _engine is not None:
        _engine.checked_at = float("-inf")


__all__ = ["engine_get", "engine_invalidate", "embed", "topic_label", "OOS"]
