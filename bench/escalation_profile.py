#!/usr/bin/env python3
"""Where one escalation sweep spends its time: one process, N first-stage escalations, profiled.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/asiste_routing_bench \\
        .venv/bin/python bench/escalation_profile.py [--escalations 400] [--redis-url redis://127.0.0.1:6379/7]

Same set-up as bench/escalation.py (one manual department whose pick-up ladder notifies one
Operator; web chat, or WhatsApp with --channel), on its own fresh database (dropped at the end), but every deadline is already
due and a single ``routing.sweep`` takes them all. With --redis-url (the default) Celery enqueues to
that Redis db as in production (flushed before and after). Prints the worker CPU per escalation
(after a warm-up sweep of --warmup chats), the SQL statements per escalation, the Celery tasks
enqueued by name and by queue, and the top of a cProfile (--top, cumulative; 0: none). Ends with
one JSON line. Not a timed test: a figure to compare against a same-run baseline (run it on both
trees back to back).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import routing_common as rc  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--escalations", type=int, default=400)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--channel", default="webchat", choices=["webchat", "whatsapp"],
                    help="the chats' channel: web chat (fetched by the widget) or WhatsApp (pushed: an outbox row "
                         "and a delivery task; nobody runs the tasks here)")
    ap.add_argument("--show-sql", type=int, default=0, help="print the first N SQL statements of the measured sweep")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    args = ap.parse_args()

    url = rc.prepare(redis_url=args.redis_url)
    result: dict = {}
    try:
        from django.contrib.auth import get_user_model
        from django.db import connection

        from apps.conversations.models import Channel
        from apps.departments.models import Department
        from apps.roles.services import roles_ensure, user_set_role
        from apps.routing.models import DepartmentRouting
        from apps.routing.sweep import sweep

        roles_ensure()
        op = get_user_model().objects.create_user(username="bench-operator", password="x")
        user_set_role(user=op, role="operator")
        dept = Department.objects.create(name="Bench support", slug="bench-support")
        DepartmentRouting.objects.create(department=dept, mode="manual", pickup_minutes=30, pickup_auto_assign=False,
                                         pickup_to_backup=False, pickup_notify=True)
        channel = Channel.objects.create(name=f"Bench {args.channel}", kind=args.channel, default_department=dept,
                                         config={"phone_number_id": "1"} if args.channel == "whatsapp" else {})
        n = args.warmup + args.escalations
        first, last = rc.bulk_conversations(n=n, department_id=dept.pk, channel_id=channel.pk,
                                            queued_at_sql="now() - interval '31 minutes'")
        with connection.cursor() as cur:
            # The warm-up chats fall due first (older deadlines are claimed first).
            cur.execute("""
                INSERT INTO routing_conversationdeadline (conversation_id, kind, due_at, scheduled_at, armed_for, stage)
                SELECT id, 'pickup', now() - interval '1 minute' - (%s - id) * interval '1 millisecond',
                       now() - interval '1 minute', queued_at, 0
                FROM conversations_conversation WHERE id BETWEEN %s AND %s""", [last, first, last])
            cur.execute("ANALYZE")
        # Warm-up: imports, caches, connection; only the first ``warmup`` rows.
        from apps.routing import sweep as sweep_mod

        sweep_mod.sweep_deadlines(now=None, batch=args.warmup, max_batches=1)
        if args.redis_url:
            rc.flush_redis(args.redis_url)

        with connection.cursor() as cur:
            cur.execute("SELECT (SELECT count(*) FROM routing_notification), "
                        "(SELECT count(*) FROM conversations_message WHERE author_kind = 'system')")
            before = cur.fetchone()
        queries = [0]

        def count(execute, sql, params, many, context):
            queries[0] += 1
            if queries[0] <= args.show_sql:
                print(f"SQL {queries[0]}: {sql[:300]}")
            return execute(sql, params, many, context)

        prof = cProfile.Profile(time.process_time) if args.top else None  # CPU time, not wall
        with connection.execute_wrapper(count):
            w, c = time.perf_counter(), time.process_time()
            if prof:
                prof.enable()
            stats = sweep(batch=args.batch, assign=False)
            if prof:
                prof.disable()
            cpu, wall = time.process_time() - c, time.perf_counter() - w
        done = stats.get("claimed", 0)
        names, queues = rc.enqueued(args.redis_url) if args.redis_url else (Counter(), Counter())
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM routing_notification")
            notifications = cur.fetchone()[0] - before[0]
            cur.execute("SELECT count(*) FROM conversations_message WHERE author_kind = 'system'")
            notices = cur.fetchone()[0] - before[1]
        if prof:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(args.top)
            print(out.getvalue())
        print(f"sweep stats: {stats}")
        print(f"{done} escalations: {1000 * cpu / max(done, 1):.2f} ms CPU, {1000 * wall / max(done, 1):.2f} ms wall, "
              f"{queries[0] / max(done, 1):.1f} SQL statements each (profiler {'on' if prof else 'off'}; "
              f"load average {os.getloadavg()[0]:.2f})")
        print(f"tasks enqueued: {dict(names)} by queue {dict(queues)}; notifications {notifications}, "
              f"customer notices {notices}")
        result = {"bench": "routing.escalation_profile", "escalations": done, "profiled": bool(prof),
                  "cpu_ms_per_escalation": round(1000 * cpu / max(done, 1), 2),
                  "wall_ms_per_escalation": round(1000 * wall / max(done, 1), 2),
                  "sql_per_escalation": round(queries[0] / max(done, 1), 2),
                  "tasks_enqueued": sum(names.values()), "tasks_by_name": dict(names),
                  "notifications": notifications, "customer_notices": notices,
                  "load_avg_1m": round(os.getloadavg()[0], 2)}
    finally:
        rc.finish(url, keep=args.keep, redis_url=args.redis_url)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
