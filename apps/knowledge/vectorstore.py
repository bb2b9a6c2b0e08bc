"""The chromadb adapter: the only module that talks to the vector store.

Embedded ``PersistentClient`` at ``settings.CHROMA_PATH`` by default, ``HttpClient`` when
``settings.CHROMA_URL`` is set. We always hand chromadb our own vectors and our own embedding
function object: its default function downloads a model (fails offline), and ``get_collection``
without a function rebuilds one from saved config on every call (measured: 1.3 s per query). The
collection handle is cached per process.
"""
from __future__ import annotations

import logging
import threading
from urllib.parse import urlparse

import numpy as np
from django.conf import settings

from .embeddings import embed_texts, embedding_space

log = logging.getLogger(__name__)

_lock = threading.RLock()
_client = None
_client_key = None
_collections: dict[str, object] = {}


def _embedding_function():
    """A chromadb EmbeddingFunction that delegates to :func:`embed_texts` (built lazily: chromadb
    is heavy to import)."""
    from chromadb.api.types import EmbeddingFunction
    from chromadb.utils.embedding_functions import known_embedding_functions, register_embedding_function

    if "asisteclick_kb" not in known_embedding_functions:
        @register_embedding_function
        class AsisteClickEmbeddings(EmbeddingFunction):
            def __init__(self) -> None:
                pass

            def __call__(self, input):  # noqa: A002 (chromadb's parameter name)
                return list(embed_texts(list(input)))

            @staticmethod
            def name() -> str:
                return "asisteclick_kb"

            def default_space(self):
                return "cosine"

            def get_config(self) -> dict:
                return {"space": embedding_space()}

            @staticmethod
            def build_from_config(config: dict):
                return AsisteClickEmbeddings()

    return known_embedding_functions["asisteclick_kb"]()


def _settings_key() -> tuple:
    return (getattr(settings, "CHROMA_URL", None) or "", str(getattr(settings, "CHROMA_PATH", "")))


def client():
    """The process-wide chromadb client for the current settings."""
    global _client, _client_key
    key = _settings_key()
    with _lock:
        if _client is None or _client_key != key:
            import chromadb
            from chromadb.config import Settings as ChromaSettings

            chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
            url = key[0]
            if url:
                parsed = urlparse(url)
                _client = chromadb.HttpClient(host=parsed.hostname or "localhost",
                                              port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                                              ssl=parsed.scheme == "https", settings=chroma_settings)
            else:
                _client = chromadb.PersistentClient(path=key[1], settings=chroma_settings)
            _client_key = key
            _collections.clear()
        return _client


def collection_name() -> str:
    return f"kb_{embedding_space()}"


def collection():
    """The chunk collection of the current embedding space (cached handle)."""
    name = collection_name()
    with _lock:
        chroma = client()
        handle = _collections.get(name)
        if handle is None:
            handle = chroma.get_or_create_collection(
                name=name, embedding_function=_embedding_function(),
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"owner": "asisteclick.knowledge"})
            _collections[name] = handle
        return handle


def reset_for_tests() -> None:
    """Drop the cached client and collection handles (tests point CHROMA_PATH elsewhere)."""
    global _client, _client_key
    with _lock:
        _client = None
        _client_key = None
        _collections.clear()
        try:  # chromadb keeps one "system" per path alive in a class-level cache: drop those too
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        except Exception:  # noqa: BLE001 (older/newer chromadb without it)
            pass


def vectors_upsert(*, ids: list[str], vectors: np.ndarray, metadatas: list[dict]) -> None:
    if not ids:
        return
    col = collection()
    batch = 1000
    for start in range(0, len(ids), batch):
        col.upsert(ids=ids[start:start + batch], embeddings=vectors[start:start + batch],
                   metadatas=metadatas[start:start + batch])


def vectors_delete(*, ids: list[str] | None = None, document_id: int | None = None) -> None:
    col = collection()
    if ids:
        for start in range(0, len(ids), 1000):
            col.delete(ids=ids[start:start + 1000])
    if document_id is not None:
        col.delete(where={"document_id": int(document_id)})


def vectors_all() -> tuple[list[str], np.ndarray, list[dict]]:
    """Every vector in the collection (the search matrix cache loads this)."""
    col = collection()
    total = col.count()
    ids: list[str] = []
    metas: list[dict] = []
    parts: list[np.ndarray] = []
    page = 5000
    for offset in range(0, total, page):
        got = col.get(include=["embeddings", "metadatas"], limit=page, offset=offset)
        ids += list(got["ids"])
        metas += list(got["metadatas"] or [{} for _ in got["ids"]])
        if len(got["ids"]):
            parts.append(np.asarray(got["embeddings"], dtype=np.float32))
    matrix = np.vstack(parts) if parts else np.zeros((0, 0), dtype=np.float32)
    return ids, matrix, metas


def vectors_query(*, vector: np.ndarray, k: int, document_ids: list[int] | None = None) -> list[tuple[str, float]]:
    """Nearest vectors through chromadb itself (used for very large bases and in the benchmark)."""
    col = collection()
    where = {"document_id": {"$in": [int(d) for d in document_ids]}} if document_ids else None
    got = col.query(query_embeddings=[vector], n_results=k, where=where, include=["distances"])
    return [(vid, 1.0 - float(dist)) for vid, dist in zip(got["ids"][0], got["distances"][0])]


def vectors_count() -> int:
    return collection().count()
