import pytest


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate-limit windows and fallback presence live in the cache: start every test clean."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
