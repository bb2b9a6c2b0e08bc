"""AI Agent tests: the FibraSur knowledge base and topics on top of the fixed cast.

The embedding model and the scope classifier are loaded once per process (module caches), so a
test pays only for its database rows and the demo KB ingestion.
"""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def _agent_tmp(tmp_path_factory):
    """The vector store on tmpfs when the machine has one: chromadb syncs its files on every write,
    and each test ingests the demo KB afresh."""
    import shutil
    import tempfile
    from pathlib import Path

    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        path = Path(tempfile.mkdtemp(prefix="asiste_agent_kb_", dir=shm))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("agent_kb")


@pytest.fixture(scope="session", autouse=True)
def _memo_embeddings():
    """Embed each distinct text once per test session (the demo KB is ingested in every test that
    needs it; the model is deterministic, so a memo changes nothing but the time)."""
    import numpy as np

    from apps.knowledge import embeddings

    original = embeddings._embed_local
    memo: dict[str, np.ndarray] = {}

    def memoised(texts):
        missing = [t for t in dict.fromkeys(texts) if t not in memo]
        if missing:
            for text, vector in zip(missing, original(missing)):
                memo[text] = vector
        return np.stack([memo[t] for t in texts])

    embeddings._embed_local = memoised
    yield
    embeddings._embed_local = original


@pytest.fixture
def kb_store(_agent_tmp, settings, db):
    from apps.knowledge import search, vectorstore

    settings.CHROMA_PATH = str(_agent_tmp / "chroma")
    settings.CHROMA_URL = None
    settings.MEDIA_ROOT = str(_agent_tmp / "media")
    settings.EMBEDDINGS_PROVIDER = "local"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.AGENT_PROVIDER = "local"
    settings.AGENT_CRM_URL = ""
    vectorstore.reset_for_tests()
    try:
        vectorstore.client().delete_collection(vectorstore.collection_name())
    except Exception:  # noqa: BLE001 (first test: nothing to delete)
        pass
    vectorstore.reset_for_tests()
    search.cache_clear()
    yield
    search.cache_clear()
    vectorstore.reset_for_tests()


@pytest.fixture
def fibrasur(cast, kb_store):
    """The cast plus the FibraSur KB (EN/ES) and AI Agent configuration (5 departments)."""
    from apps.agent import demo as agent_demo
    from apps.departments.models import Department
    from apps.knowledge import demo as kb_demo

    kb_demo.seed(None)
    agent_demo.seed(None)
    # The turn, trigger, routing and language tests need the bot to answer the demo's common
    # questions. The learned answer verifier's probabilities sit mostly under 0.6 on the demo KB and
    # its shipped threshold (calibrated P(facts) 0.75, README "Answer confidence") hands many of them off
    # (apps/agent/README.md, "Figures"); the verifier and its threshold are tested in
    # test_answers.py, the threshold's handoff in test_turn.py.
    from apps.agent.models import AgentSettings

    cfg = AgentSettings.load()
    cfg.confidence_threshold = 0.05
    cfg.save()
    cast.extra["depts"] = {d.slug: d for d in Department.objects.all()}
    return cast


@pytest.fixture
def no_hedged_band():
    """The shipped verifier without its hedged band: a draft under ``confidence_threshold`` is handed
    off, whatever its confidence (tests of the threshold itself, not of the band; the band has its own
    tests in test_answer_confidence.py)."""
    from apps.agent.compose import verifier_load, verifier_use

    with verifier_use({k: v for k, v in verifier_load().items() if k != "hedge_probability"}):
        yield
