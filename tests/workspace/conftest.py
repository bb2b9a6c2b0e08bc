import pytest


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit windows and fallback presence live in the cache: start every test clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


STATIC_PLAIN = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


@pytest.fixture(autouse=True)
def _plain_static(settings):
    """Pages are rendered without a collectstatic run: no manifest lookups (the PostgreSQL pass turns it on)."""
    settings.STORAGES = STATIC_PLAIN
