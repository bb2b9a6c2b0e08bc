#!/usr/bin/env python3
"""Inbox scale benchmark (issue 2): a Collaborator's inbox against an Operator's, same run.

Generates (with a progress bar) 1,000,000 conversations over 20 departments with 100 agents on
PostgreSQL, then measures the Collaborator inbox page and queue counts against the same page for
an Operator (full visibility). SQL query counts are taken at 100,000 and at 1,000,000
conversations to show they do not grow with data size. Ends with one JSON line.

    python bench/inbox.py [--conversations 1000000] [--requests 60] [--keep]

Uses its own database (asiste_bench_inbox), dropped at the end unless --keep.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import summary, timed, use_bench_database  # noqa: E402

DB = "asiste_bench_inbox"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    use_bench_database(DB, fresh=True)

    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from tqdm import tqdm

    from apps.conversations.models import Channel, Conversation
    from apps.departments.models import Department, DepartmentUserObjectPermission
    from apps.departments.services import membership_set
    from tests.factories import make_user

    print("migrating ...", flush=True)
    call_command("migrate", verbosity=0, interactive=False)
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    rng = random.Random(1)
    depts = [Department.objects.create(name=f"Dept {i:02d}", slug=f"dept-{i:02d}", is_default=(i == 0))
             for i in range(20)]
    channel = Channel.objects.create(name="Web", kind="webchat", default_department=depts[0])
    operator = make_user("bench_operator", "operator")
    agents = []
    for i in tqdm(range(100), desc="agents", unit="agent"):
        member_of = rng.sample(depts, rng.choice([1, 1, 2, 3]))
        agents.append(make_user(f"agent{i:03d}", departments=member_of))
    collaborator = agents[7]
    for dept in depts[:2]:
        membership_set(user=collaborator, department=dept)  # a two-department Collaborator
    dept_ids = [d.pk for d in depts]
    # The Operator handles chats too, so both pages render lists of the same shape.
    agent_ids = [a.pk for a in agents] + [operator.pk]

    with connection.cursor() as cur:
        cur.execute("INSERT INTO conversations_contact (name, email, phone, external_ref, is_vip, language, attributes, created_at)"
                    " SELECT 'Customer ' || g, '', '', 'C' || g, false, 'es', '{}', now() FROM generate_series(1, 200000) g")
        cur.execute("SELECT min(id), max(id) FROM conversations_contact")
        cmin, cmax = cur.fetchone()

    def insert(n_from: int, n_to: int, bar) -> None:
        chunk = 50_000
        with connection.cursor() as cur:
            for start in range(n_from, n_to, chunk):
                stop = min(start + chunk, n_to)
                # A month of an operation at steady state: 99.5% archived; open now: 0.1% with the bot,
                # 0.15% queued, 0.1% assigned, 0.15% in progress (1,500 queued chats at 1M).
                cur.execute(f"""
                    INSERT INTO conversations_conversation
                      (contact_id, channel_id, status, department_id, assignee_id, subject, language, handoff_summary,
                       handoff, resolution, csat_comment, created_at, updated_at, queued_at, assigned_at, archived_at)
                    SELECT {cmin} + (g %% ({cmax} - {cmin} + 1)), {channel.pk},
                           s.status,
                           CASE WHEN s.status = 'bot' THEN NULL ELSE (%s::bigint[])[1 + (g * 7919) %% 20] END,
                           CASE WHEN s.status IN ('assigned','in_progress','archived')
                                THEN (%s::bigint[])[1 + (g * 104729) %% 101] END,
                           '', 'es', '', '{{}}', '', '',
                           now() - (g %% 43200) * interval '1 minute', now() - (g %% 43200) * interval '1 minute',
                           now() - (g %% 600) * interval '1 second', NULL,
                           CASE WHEN s.status = 'archived' THEN now() - (g %% 43200) * interval '1 minute' END
                    FROM generate_series({start}::bigint, {stop - 1}::bigint) g
                    CROSS JOIN LATERAL (SELECT CASE
                         WHEN g %% 2000 < 1990 THEN 'archived' WHEN g %% 2000 < 1992 THEN 'bot'
                         WHEN g %% 2000 < 1995 THEN 'unassigned' WHEN g %% 2000 < 1997 THEN 'assigned'
                         ELSE 'in_progress' END AS status) s
                """, [dept_ids, agent_ids])
                bar.update(stop - start)
        with connection.cursor() as cur:
            cur.execute("ANALYZE")

    collab_client, operator_client = Client(), Client()
    collab_client.force_login(collaborator)
    operator_client.force_login(operator)

    def count_queries(client, url) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx.captured_queries)

    small = min(100_000, args.conversations)
    with tqdm(total=args.conversations, desc="conversations", unit="conv", unit_scale=True) as bar:
        insert(0, small, bar)
        queries_small = {"collaborator_inbox": count_queries(collab_client, "/inbox/"),
                         "operator_inbox": count_queries(operator_client, "/inbox/"),
                         "operator_all_list": count_queries(operator_client, "/conversations/")}
        insert(small, args.conversations, bar)
    queries_large = {"collaborator_inbox": count_queries(collab_client, "/inbox/"),
                     "operator_inbox": count_queries(operator_client, "/inbox/"),
                     "operator_all_list": count_queries(operator_client, "/conversations/")}
    # More departments must not add queries either: give the collaborator 5 more.
    for dept in depts[2:7]:
        membership_set(user=collaborator, department=dept)
    queries_more_depts = count_queries(collab_client, "/inbox/")

    from apps.conversations import access, selectors

    def queue_counts(user):
        return selectors.queue_counts(user)

    print("measuring ...", flush=True)
    for client in (collab_client, operator_client):  # warm up
        for _ in range(5):
            client.get("/inbox/")
    collab = timed(lambda: collab_client.get("/inbox/"), args.requests)
    oper = timed(lambda: operator_client.get("/inbox/"), args.requests)
    collab_counts = timed(lambda: queue_counts(collaborator), args.requests)
    oper_counts = timed(lambda: queue_counts(operator), args.requests)
    conv_rows = Conversation.objects.count()
    perm_rows = DepartmentUserObjectPermission.objects.count()
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM guardian_userobjectpermission")
        generic_perm_rows = cur.fetchone()[0]
    visible = access.conversations_visible_to(collaborator).count()
    figures = {
        "bench": "inbox", "conversations": conv_rows, "departments": len(depts), "agents": len(agents),
        "collaborator_departments": collaborator.memberships.count(), "collaborator_visible_conversations": visible,
        "collaborator_inbox": summary(collab), "operator_inbox": summary(oper),
        "collaborator_p95_over_operator_p95": round(summary(collab)["p95_ms"] / summary(oper)["p95_ms"], 3),
        "collaborator_queue_counts": summary(collab_counts), "operator_queue_counts": summary(oper_counts),
        "queries_at_100k": queries_small, "queries_at_1m": queries_large,
        "collaborator_inbox_queries_with_7_departments": queries_more_depts,
        "object_permission_rows": perm_rows + generic_perm_rows,
        "object_permission_rows_per_conversation_pct": round(100 * (perm_rows + generic_perm_rows) / conv_rows, 4),
    }
    print(f"Collaborator inbox p95 {figures['collaborator_inbox']['p95_ms']} ms vs Operator "
          f"{figures['operator_inbox']['p95_ms']} ms (ratio {figures['collaborator_p95_over_operator_p95']}, target <= 1.5)")
    print(f"SQL queries, collaborator inbox: {queries_small['collaborator_inbox']} at {small:,} conversations, "
          f"{queries_large['collaborator_inbox']} at {conv_rows:,}, {queries_more_depts} with 7 departments")
    print(f"object-permission rows: {figures['object_permission_rows']} "
          f"({figures['object_permission_rows_per_conversation_pct']}% of conversations, target < 0.1%)")
    connection.close()
    if not args.keep:
        subprocess.run(["psql", os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432") + "/postgres", "-qc",
                        f"DROP DATABASE IF EXISTS {DB}"], check=False, capture_output=True)
    print(json.dumps(figures))


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"# finished in {time.time() - t0:.0f}s", file=sys.stderr)
