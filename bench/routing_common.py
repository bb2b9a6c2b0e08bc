"""Shared set-up for the routing benchmarks (bench/escalation.py, bench/assignment.py).

Each benchmark runs on its own PostgreSQL database (DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/asiste_routing_bench), created fresh, migrated, filled with bulk
SQL inserts, and dropped at the end (--keep to keep it). Without a Redis URL, Celery runs eager
(a task enqueued on commit runs inline) and live signals go to the in-memory layer. With one
(``prepare(redis_url=...)``, bench/escalation.py's ``--redis-url``) the process runs as production
does: tasks are enqueued to that Redis db (nobody consumes them; the db is flushed before and
after) and live signals go through it.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/asiste_routing_bench"


def _admin_conn(url: str):
    import psycopg

    parts = urlparse(url)
    admin = parts._replace(path="/postgres").geturl()
    return psycopg.connect(admin, autocommit=True), parts.path.lstrip("/")


def prepare(*, redis_url: str = "") -> str:
    """Create a fresh bench database, configure Django for it and migrate. Returns the URL."""
    url = os.environ.get("DATABASE_URL") or DEFAULT_URL
    if not url.startswith("postgres"):
        sys.exit("The routing benchmarks need PostgreSQL: set DATABASE_URL=postgres://...")
    os.environ["DATABASE_URL"] = url
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
        os.environ["CHANNELS_PREFIX"] = f"bench{os.getpid()}"
        import redis

        if redis.Redis.from_url(redis_url).dbsize():
            # Another run (another session's bench) may be using it: its tasks would be counted as
            # ours, and flushing loses them. Give each run its own db.
            print(f"warning: Redis {redis_url} is not empty; flushing it (use a db of your own)", flush=True)
        flush_redis(redis_url)
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
    os.environ["ROUTING_INPROCESS_SWEEP"] = "0"
    sys.path.insert(0, str(ROOT))
    conn, name = _admin_conn(url)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    import django

    django.setup()
    from django.core.management import call_command

    t = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    print(f"migrated {name} in {time.perf_counter() - t:.1f}s", flush=True)
    return url


def flush_redis(redis_url: str) -> None:
    """Empty the bench's Redis db (the tasks it enqueued and nobody ran)."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()


def finish(url: str, *, keep: bool, redis_url: str = "") -> None:
    """The end of a run: drop the bench database (unless ``keep``) and empty its Redis db."""
    if not keep:
        drop(url)
    if redis_url:
        flush_redis(redis_url)


def enqueued(redis_url: str) -> tuple[Counter, Counter]:
    """Celery messages waiting in the Redis db (every priority list of every queue): (by task name,
    by queue). Other lists (the channel layer's) are skipped."""
    import redis

    r = redis.Redis.from_url(redis_url)
    names: Counter = Counter()
    queues: Counter = Counter()
    for key in r.scan_iter():
        if r.type(key) != b"list":
            continue
        queue = key.decode(errors="replace").split("\x06")[0]
        for raw in r.lrange(key, 0, -1):
            try:
                names[json.loads(raw)["headers"]["task"]] += 1
            except (ValueError, KeyError, TypeError):
                continue
            queues[queue] += 1
    return names, queues


def drop(url: str) -> None:
    from django.db import connections

    connections.close_all()
    conn, name = _admin_conn(url)
    with conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"dropped {name}", flush=True)


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bulk_conversations(*, n: int, department_id: int, channel_id: int, status: str = "unassigned",
                       queued_at_sql: str = "now()") -> tuple[int, int]:
    """Insert ``n`` contacts and ``n`` open conversations with plain SQL; returns (first id, last id)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("""
            INSERT INTO conversations_contact (name, email, phone, external_ref, is_vip, language, attributes, created_at)
            SELECT 'Bench customer ' || g, '', '', 'B' || g, false, 'es', '{}'::jsonb, now()
            FROM generate_series(1, %s) g""", [n])
        cur.execute("SELECT max(id) FROM conversations_contact")
        last_contact = cur.fetchone()[0]
        cur.execute(f"""
            INSERT INTO conversations_conversation (status, subject, language, handoff_summary, handoff, resolution,
                csat_comment, created_at, updated_at, queued_at, channel_id, contact_id, department_id)
            SELECT %s, '', 'es', '', '{{}}'::jsonb, '', '', now(), now(), {queued_at_sql}, %s,
                   %s - %s + g, %s
            FROM generate_series(1, %s) g""", [status, channel_id, last_contact, n, department_id, n])
        cur.execute("SELECT min(id), max(id) FROM (SELECT id FROM conversations_conversation ORDER BY id DESC LIMIT %s) t",
                    [n])
        return cur.fetchone()
