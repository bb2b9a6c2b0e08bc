"""Pooled PostgreSQL connections (DB_POOL_MAX > 0) stay with the process that opened them.

Each scenario runs in a fresh interpreter started with the pool on (``DB_POOL_MAX=4``) against
this test database, whatever the suite itself runs with: a forked child (the browser tests'
live server, a Celery prefork child) must not talk over its parent's pooled sockets, and a solo
Celery worker started in the process must not leave the pool a connection whose descriptor Celery
closed (both once showed as psycopg "another command is already in progress" or a hung query)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PRELUDE = """
import json, os, sys
import django
django.setup()
from django.db import connection, connections
def backend_pid():
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        return cur.fetchone()[0]
"""


def run_pooled(code: str, timeout: float = 120) -> dict:
    """Run ``code`` after django.setup() with a 4-connection pool; it prints one JSON line last."""
    db = settings.DATABASES["default"]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "asisteclick.settings", "LOG_LEVEL": "WARNING",
           "DB_POOL_MAX": "4", "DB_POOL_TIMEOUT": "5",
           "DATABASE_URL": (f"postgres://{db.get('USER') or 'postgres'}:{db.get('PASSWORD') or ''}@"
                            f"{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}")}
    done = subprocess.run([sys.executable, "-c", PRELUDE + code], env=env, cwd=settings.BASE_DIR,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_scenarios_really_run_with_a_pool():
    out = run_pooled("""
connection.ensure_connection()
print(json.dumps({"pool": connection.pool is not None, "max": connection.pool.max_size}))
""")
    assert out == {"pool": True, "max": 4}


def test_a_forked_child_opens_its_own_connections_and_leaves_the_parents_alone():
    out = run_pooled("""
parent_pid = backend_pid()          # checked out by this thread
connection.close()                  # back to the pool, idle: the copy a child would inherit
parent_pids = {backend_pid()}
r, w = os.pipe()
child = os.fork()
if child == 0:
    try:
        pids = [backend_pid()]
        connection.close()
        pids.append(backend_pid())
        os.write(w, json.dumps({"pids": pids}).encode())
    except BaseException as exc:
        os.write(w, json.dumps({"error": repr(exc)}).encode())
    finally:
        os._exit(0)
os.close(w)
os.waitpid(child, 0)
child_out = json.loads(os.read(r, 65536).decode())
after = backend_pid()               # the parent's connection still works after the child left
connection.close()
again = backend_pid()
print(json.dumps({"parent": sorted(parent_pids | {parent_pid}), "child": child_out, "after": after, "again": again}))
""")
    assert "error" not in out["child"], out
    assert not set(out["child"]["pids"]) & set(out["parent"]), out
    assert out["after"] in out["parent"] and out["again"] in out["parent"], out


def test_a_solo_worker_started_in_the_process_leaves_the_pool_usable():
    """The solo pool sends Celery's "process init" in this very process, after receivers that
    query (the warm-ups); Celery's Django fix-up used to close those connections' descriptors."""
    out = run_pooled("""
import socket
from celery.contrib.testing.worker import start_worker
from asisteclick.celery import app
from apps.conversations.models import Conversation

before = backend_pid()
app.conf.task_always_eager = False
app.conf.broker_url = "memory://"
results = []
with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
    # New sockets take the lowest free descriptor numbers: a closed one would be reused here.
    extra = [socket.socket() for _ in range(4)]
    for _ in range(6):
        results.append(Conversation.objects.count())
        results.append(backend_pid() > 0)
        connection.close()
    for s in extra:
        s.close()
print(json.dumps({"results": results}))
""")
    assert out["results"] == [0, True] * 6, out
