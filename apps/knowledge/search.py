"""Retrieval API for the AI Agent: :func:`knowledge_search`.

Vectors live in chromadb; each process keeps them as one in-memory float32 matrix (a few MB for
thousands of chunks) and scores a query with one matrix product, which measured much faster than
a chromadb query per message (bench/embeddings.py). The matrix is rebuilt when the knowledge
base's generation token changes (one indexed single-row read per search), and only vectors whose
chunk row exists are loaded, so half-finished or deleted ingests are never cited. Scope filters
(active document, departments, explicit document ids) are read fresh from the database on every
search, so an Operator's change applies to the next customer message.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db.models import Q

from .embeddings import embed_query
from .lexical import LexicalIndex
from .models import Chunk, Document, KnowledgeState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchHit:
    chunk_id: int
    document_id: int
    document_title: str
    heading: str
    text: str
    score: float  # semantic cosine similarity (embeddings), clipped to 0..1
    language: str
    lexical: float = 0.0    # TF-IDF cosine of words/trigrams, 0..1
    relevance: float = 0.0  # the blend hits are ranked by: (score + w*lexical) / (1 + w), 0..1


def lexical_weight() -> float:
    return float(getattr(settings, "KB_LEXICAL_WEIGHT", 0.5))


@dataclass
class _Matrix:
    generation: str
    chunk_ids: np.ndarray      # (n,) int64
    document_ids: np.ndarray   # (n,) int64
    languages: np.ndarray      # (n,) str
    vectors: np.ndarray        # (n, dim) float32, rows L2-normalised
    lexical: LexicalIndex | None = None


_cache: _Matrix | None = None
_cache_lock = threading.Lock()


def _current_generation() -> str:
    return KnowledgeState.objects.filter(pk=1).values_list("generation", flat=True).first() or ""


def _build(generation: str) -> _Matrix:
    from . import vectorstore

    live = {str(vid): (cid, did, lang, f"{heading}\n{text}") for cid, vid, did, lang, heading, text in
            Chunk.objects.values_list("id", "vector_id", "document_id", "language", "heading", "text")}
    ids, matrix, _metas = vectorstore.vectors_all() if live else ([], np.zeros((0, 0), np.float32), [])
    keep = [i for i, vid in enumerate(ids) if vid in live]
    rows = [live[ids[i]] for i in keep]
    vectors = matrix[keep] if keep else np.zeros((0, matrix.shape[1] if matrix.ndim == 2 else 0), np.float32)
    if len(live) != len(keep):
        log.warning("knowledge: %d chunks have no vector (re-ingest them)", len(live) - len(keep))
    return _Matrix(generation=generation,
                   chunk_ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                   document_ids=np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)),
                   languages=np.array([r[2] or "" for r in rows], dtype=object),
                   vectors=np.ascontiguousarray(vectors, dtype=np.float32),
                   lexical=LexicalIndex([r[3] for r in rows]) if rows and lexical_weight() > 0 else None)


def _matrix() -> _Matrix:
    global _cache
    generation = _current_generation()
    cached = _cache
    if cached is not None and cached.generation == generation:
        return cached
    with _cache_lock:
        if _cache is None or _cache.generation != generation:
            _cache = _build(generation)
        return _cache


def cache_clear() -> None:
    global _cache
    with _cache_lock:
        _cache = None


def allowed_document_ids(*, departments: list[int] | None = None, document_ids: list[int] | None = None,
                         exclude_document_ids: list[int] | None = None) -> list[int]:
    """Active documents in scope. ``departments``: documents limited to one of them, or to none.
    ``exclude_document_ids``: never these (the agent's documents only for topics it may not answer)."""
    docs = Document.objects.filter(is_active=True, chunk_count__gt=0)
    if document_ids is not None:
        docs = docs.filter(pk__in=list(document_ids))
    if exclude_document_ids:
        docs = docs.exclude(pk__in=list(exclude_document_ids))
    if departments is not None:
        restricted = Document.departments.through.objects.values("document_id")
        docs = docs.filter(~Q(pk__in=restricted) | Q(departments__in=list(departments))).distinct()
    return list(docs.values_list("pk", flat=True))


def knowledge_embed_query(query: str) -> np.ndarray:
    """The unit vector the search uses for ``query`` (the agent may reuse it for intent matching)."""
    return embed_query(query)


def knowledge_search(query: str, *, departments: list[int] | None = None, document_ids: list[int] | None = None,
                     language: str | None = None, k: int = 5) -> list[SearchHit]:
    """The ``k`` chunks most similar to ``query`` within scope, best first.

    ``departments``: only documents limited to one of these departments or unrestricted ones
    (None: no department filter). ``document_ids``: only these documents (a topic's KB links).
    ``language``: only chunks in that language (or of unknown language).
    """
    if not query or not query.strip() or k <= 0:
        return []
    return knowledge_search_vector(knowledge_embed_query(query), query=query, departments=departments,
                                   document_ids=document_ids, language=language, k=k)


def knowledge_search_vector(vector: np.ndarray, *, query: str = "", departments: list[int] | None = None,
                            document_ids: list[int] | None = None, language: str | None = None,
                            k: int = 5, exclude_document_ids: list[int] | None = None) -> list[SearchHit]:
    """:func:`knowledge_search` with a precomputed query vector (``query`` text adds lexical scoring)."""
    allowed = allowed_document_ids(departments=departments, document_ids=document_ids,
                                   exclude_document_ids=exclude_document_ids)
    if not allowed:
        return []
    cache = _matrix()
    if len(cache.chunk_ids) == 0:
        return []
    if len(cache.chunk_ids) > int(getattr(settings, "KB_MATRIX_MAX_CHUNKS", 300_000)):
        return _search_chroma(vector, allowed=allowed, language=language, k=k, cache=cache)
    mask = np.isin(cache.document_ids, np.asarray(allowed, dtype=np.int64))
    if language:
        mask &= (cache.languages == language) | (cache.languages == "")
    rows = np.flatnonzero(mask)
    if rows.size == 0:
        return []
    semantic = np.clip(cache.vectors[rows] @ np.asarray(vector, dtype=np.float32), 0.0, 1.0)
    weight = lexical_weight()
    if query and cache.lexical is not None and weight > 0:
        lexical = cache.lexical.scores(query)[rows]
    else:
        lexical, weight = np.zeros_like(semantic), 0.0
    relevance = (semantic + weight * lexical) / (1.0 + weight)
    top = min(k, rows.size)
    best = np.argpartition(-relevance, top - 1)[:top]
    best = best[np.argsort(-relevance[best])]
    ranked = [(int(cache.chunk_ids[rows[i]]), float(semantic[i]), float(lexical[i]), float(relevance[i]))
              for i in best]
    return _hits(ranked)


def knowledge_chunks_naming(vector: np.ndarray, word: str, *, departments: list[int] | None = None,
                            document_ids: list[int] | None = None, language: str = "", k: int = 1) -> list[SearchHit]:
    """The ``k`` chunks in scope that write ``word`` (a word of the lexical index: lower case, accents
    folded), those in ``language`` first, then the most similar to ``vector``: read off the index's
    postings, no scoring of the rest of the knowledge base. The agent looks up this way the passage
    naming a rare word of the question that the search's hits do not name
    (``apps.agent.compose.named_passages``)."""
    allowed = allowed_document_ids(departments=departments, document_ids=document_ids)
    if not allowed:
        return []
    cache = _matrix()
    posting = cache.lexical.postings.get(word) if cache.lexical is not None else None
    if posting is None:
        return []
    rows = posting[0]
    rows = rows[np.isin(cache.document_ids[rows], np.asarray(allowed, dtype=np.int64))]
    if rows.size == 0:
        return []
    semantic = np.clip(cache.vectors[rows] @ np.asarray(vector, dtype=np.float32), 0.0, 1.0)
    other = (cache.languages[rows] != language).astype(np.float32) if language else np.zeros_like(semantic)
    best = np.lexsort((-semantic, other))[:k]
    return _hits([(int(cache.chunk_ids[rows[i]]), float(semantic[i]), 0.0, float(semantic[i])) for i in best])


def _search_chroma(vector, *, allowed, language, k, cache: _Matrix) -> list[SearchHit]:
    """Very large bases: let chromadb's index do the nearest-neighbour work."""
    from . import vectorstore

    got = vectorstore.vectors_query(vector=vector, k=k * 4, document_ids=allowed)
    by_vector = dict(Chunk.objects.filter(vector_id__in=[vid for vid, _ in got])
                     .values_list("vector_id", "id"))
    by_vector = {str(key): value for key, value in by_vector.items()}
    ranked = [(by_vector[vid], score, 0.0, score) for vid, score in got if vid in by_vector]
    if language:
        langs = dict(Chunk.objects.filter(pk__in=[r[0] for r in ranked]).values_list("id", "language"))
        ranked = [r for r in ranked if langs.get(r[0], "") in (language, "")]
    return _hits(ranked[:k])


def _hits(ranked: list[tuple[int, float, float, float]]) -> list[SearchHit]:
    chunks = {c.pk: c for c in Chunk.objects.filter(pk__in=[r[0] for r in ranked])
              .select_related("document").only("id", "heading", "text", "language", "document__id",
                                               "document__title")}
    hits = []
    for chunk_id, score, lexical, relevance in ranked:
        chunk = chunks.get(chunk_id)
        if chunk is None:  # deleted since the matrix was built
            continue
        hits.append(SearchHit(chunk_id=chunk.pk, document_id=chunk.document_id, document_title=chunk.document.title,
                              heading=chunk.heading, text=chunk.text, score=max(0.0, min(1.0, score)),
                              language=chunk.language, lexical=round(lexical, 4),
                              relevance=max(0.0, min(1.0, relevance))))
    return hits
