"""The per-process agent engine: the scope classifier trained on the configured topics.

Trained on first use and retrained when the topics' examples change (a cheap fingerprint read on
each turn), so an Operator's edit in the admin or an ``agent_config import`` applies to the next
message in every worker without a restart.
"""
from __future__ import annotations

import hashlib
import logging
import threading

import numpy as np

from .builtin import BUILTIN_EXAMPLES, OOS
from .classifier import ScopeClassifier

log = logging.getLogger(__name__)

# Scope threshold on the 0..1 score; AgentSettings.out_of_scope_threshold overrides per operation.
_lock = threading.Lock()
_engine: "Engine | None" = None


def embed(texts: list[str]) -> np.ndarray:
    from apps.knowledge.embeddings import embed_texts

    return embed_texts(list(texts))


def topic_label(slug: str) -> str:
    return f"topic:{slug}"


class Engine:
    def __init__(self, fingerprint: str, classifier: ScopeClassifier, topics: dict[str, int]):
        self.fingerprint, self.classifier, self.topics = fingerprint, classifier, topics


def _training_rows() -> list[tuple[str, str]]:
    from .models import TopicExample

    rows = [(topic_label(slug), text) for slug, text in
            TopicExample.objects.filter(topic__is_active=True).order_by("topic__slug", "id")
            .values_list("topic__slug", "text")]
    for label, texts in BUILTIN_EXAMPLES.items():
        rows += [(label, t) for t in texts]
    return rows


def _fingerprint(rows: list[tuple[str, str]]) -> str:
    digest = hashlib.sha1()
    for label, text in rows:
        digest.update(f"{label}\x1f{text}\x1e".encode())
    return digest.hexdigest()


def engine_get() -> Engine:
    global _engine
    from .models import Topic

    rows = _training_rows()
    fingerprint = _fingerprint(rows)
    current = _engine
    if current is not None and current.fingerprint == fingerprint:
        return current
    with _lock:
        if _engine is not None and _engine.fingerprint == fingerprint:
            return _engine
        texts = [t for _l, t in rows]
        labels = [label for label, _t in rows]
        vectors = embed(texts)
        # Small training sets: a milder regularisation and a scope score leaning on the
        # nearest example, which stays meaningful with a handful of examples per class.
        classifier = ScopeClassifier(C=10.0, embedding_weight=2.0, knn_weight=1.0, oos_weight=0.5)
        classifier.fit(texts, labels, vectors)
        topics = dict(Topic.objects.filter(is_active=True).values_list("slug", "pk"))
        _engine = Engine(fingerprint, classifier, topics)
        log.info("agent: scope classifier trained on %d examples, %d classes", len(texts),
                 len(set(labels)))
        return _engine


def engine_invalidate() -> None:
    global _engine
    _engine = None


__all__ = ["engine_get", "engine_invalidate", "embed", "topic_label", "OOS"]
