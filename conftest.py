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
    # Browser tests first: their live servers are forked from this process, and an embedded chromadb
    # client that earlier tests drove (its Rust threads) does not survive a fork: the server's first
    # knowledge search would hang. Stable otherwise: the order within each group is kept.
    items.sort(key=lambda item: "browser" not in item.keywords)
    for item in items:
        if "postgres" in item.keywords and not settings.IS_POSTGRES:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not os.environ.get("REDIS_URL"):
            item.add_marker(skip_redis)


def pytest_configure(config):
    # Fast hashing for test users; production keeps Django's default.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Production serves hashed static files after collectstatic; tests render templates without it.
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture(autouse=True)
def _celery_in_process():
    """Tasks run in-process in tests (still enqueued on commit). Tests of the real broker path use
    the ``celery_worker_redis`` fixture instead, which turns this off and starts a worker."""
    from asisteclick.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def migrations_restored():
    """For a test that migrates the database back to test a data migration: afterwards every app is
    migrated forward to its latest migration again. Migrating one app back also unapplies the other
    apps' migrations that depend on it, and migrating forward to one target does not re-apply them,
    so later tests would meet a schema without their columns."""
    yield
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def cast(db):
    from tests.factories import make_cast

    return make_cast()


@pytest.fixture(autouse=True)
def _agent_config_fresh():
    """The AI Agent caches its configuration for a few seconds per process (workers re-read it
    within CONFIG_TTL_SECONDS); between tests the database is rolled back, so start each test
    from the database (the trained classifier is kept while the examples are unchanged)."""
    from apps.agent.engine import engine_invalidate

    engine_invalidate()
    yield
