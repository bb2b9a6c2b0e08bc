"""Knowledge tests: one temporary chroma store per test session, a fresh collection per test."""
from __future__ import annotations

import pytest
from django.utils import translation


@pytest.fixture(scope="session")
def _kb_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("kb")


@pytest.fixture(autouse=True)
def kb_store(_kb_tmp, settings, db):
    from apps.knowledge import search, vectorstore

    settings.CHROMA_PATH = str(_kb_tmp / "chroma")
    settings.CHROMA_URL = None
    settings.MEDIA_ROOT = str(_kb_tmp / "media")
    settings.EMBEDDINGS_PROVIDER = "local"
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # the PostgreSQL pass defaults to the manifest storage, which needs collectstatic first
    settings.STORAGES = {**settings.STORAGES, "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    vectorstore.reset_for_tests()
    try:
        vectorstore.client().delete_collection(vectorstore.collection_name())
    except Exception:  # noqa: BLE001 (first test: nothing to delete)
        pass
    vectorstore.reset_for_tests()
    search.cache_clear()
    with translation.override("en"):  # assertions read the English messages
        yield
    search.cache_clear()
    vectorstore.reset_for_tests()
