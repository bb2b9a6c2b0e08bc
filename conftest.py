"""Shared fixtures: the fixed cast every test uses (DESIGN.md habits).

operator; collab_a (Technical Support); collab_b (Sales); collab_ab (both); outsider (no
department); anonymous; and a customer (Contact) with conversations in each department.
"""
from __future__ import annotations

import os

import pytest
from django.conf import settings


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (run with DATABASE_URL=postgres://...)")
    skip_redis = pytest.mark.skip(reason="needs Redis (run with REDIS_URL=redis://...)")
    for item in items:
        if "postgres" in item.keywords and not settings.IS_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def cast(db):
    from tests.factories import make_cast

    return make_cast()
