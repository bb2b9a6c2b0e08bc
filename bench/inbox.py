#!/usr/bin/env python3
"""Inbox scale benchmark (issues 2 and 15): a Collaborator's inbox against an Operator's, same run,
and against the Django peer (django-helpdesk's restricted ticket list) at the same size.

Generates (with a progress bar) 1,000,000 conversations over 20 departments with 100 agents on
PostgreSQL, then measures the Collaborator inbox page and its tab counts (my chats, the queue I
may pick up from: ``workspace.inbox.tab_counts``) against the same for an Operator (full visibility). SQL query counts are taken at 100,000 and at 1,000,000
conversations to show they do not grow with data size, and the Collaborator's list and search are
timed at the 100,000 mark and again at the full size, same user, same run (flat from 100k to 1M).
Ends with one JSON line.

    python bench/inbox.py [--conversations 1000000] [--requests 60] [--keep] [--no-peer]

Every conversation gets a customer message (so search has text to search) and 5% carry labels;
the one-screen list is also timed with a label filter and with a full-text search. The peer runs
through /work/shared/tools/peer-helpdesk/run (PEER_HELPDESK to override) with --tickets equal to
--conversations, on its own database (peer_helpdesk_bench); the ratio printed is the
Collaborator list p95 over the peer's restricted list p95 (target <= 0.1).

Uses its own database (asiste_bench_inbox, or BENCH_INBOX_DB; the peer's: BENCH_PEER_DB), dropped at the
end unless --keep.
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

DB = os.environ.get("BENCH_INBOX_DB", "asiste_bench_inbox")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--no-peer", action="store_true", help="skip the django-helpdesk comparison")
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

    from apps.workspace.models import Label

    label_ids = [Label.objects.create(name=f"label-{i}").pk for i in range(10)]
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
                    SELECT {cmin} + CASE WHEN s.status = 'archived' THEN g %% ({cmax} - {cmin} + 1)
                                  -- one open chat per customer and channel (a constraint): the k-th open
                                  -- chat goes to the k-th customer, so 1M rows never reuse one
                                  ELSE ((g / 2000) * 10 + g %% 2000 - 1990) %% ({cmax} - {cmin} + 1) END,
                           {channel.pk},
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
                # One customer message per conversation, from a small vocabulary (search has work to do).
                cur.execute(f"""
                    INSERT INTO conversations_message (conversation_id, author_kind, body, is_internal, sources, meta,
                                                       delivery_status, created_at)
                    SELECT c.id, 'customer', (ARRAY['no tengo internet desde ayer', 'las luces del router parpadean',
                           'quiero cambiar de plan', 'me llegó mal la factura', 'quiero dar de baja el servicio',
                           'se corta el wifi a la noche', 'cuánto cuesta fibra 600'])[1 + mod(c.id, 7)] || ' ' || c.id,
                           false, '[]', '{{}}', '', c.created_at
                    FROM conversations_conversation c WHERE c.id > (SELECT coalesce(max(conversation_id), 0)
                                                                    FROM conversations_message)
                """)
                cur.execute("UPDATE conversations_conversation SET last_message_at = created_at,"
                            " last_customer_message_at = created_at WHERE last_message_at IS NULL")
                cur.execute(f"""
                    INSERT INTO workspace_conversationlabel (conversation_id, label_id, created_at, is_open)
                    -- spread over the 10 labels, open chats included (c.id %% 10 gave every one label-0, so
                    -- the label filter timed an empty page); is_open as the label service sets it
                    SELECT c.id, (%s::bigint[])[1 + (c.id / 20 + c.id / 2000) %% 10], now(), c.status <> 'archived'
                    FROM conversations_conversation c
                    WHERE c.id %% 20 = 0 AND NOT EXISTS (SELECT 1 FROM workspace_conversationlabel l
                                                         WHERE l.conversation_id = c.id)
                """, [label_ids])
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
    flat = {}
    with tqdm(total=args.conversations, desc="conversations", unit="conv", unit_scale=True) as bar:
        insert(0, small, bar)
        queries_small = {"collaborator_inbox": count_queries(collab_client, "/inbox/"),
                         "operator_inbox": count_queries(operator_client, "/inbox/"),
                         "operator_all_list": count_queries(operator_client, "/conversations/")}
        # More departments must not add queries either: give the collaborator 5 more (before any
        # timing, so the page is timed for the same user at both sizes).
        for dept in depts[2:7]:
            membership_set(user=collaborator, department=dept)
        queries_more_depts = count_queries(collab_client, "/inbox/")
        if args.conversations > small:
            # Flat from 100k to the full size: the same pages timed here and again at the end.
            for _ in range(5):
                collab_client.get("/inbox/")
            flat = {"collaborator_inbox_at_100k": summary(timed(lambda: collab_client.get("/inbox/"), args.requests)),
                    "collaborator_search_at_100k": summary(timed(lambda: collab_client.get("/inbox/?q=router"),
                                                                 args.requests))}
        insert(small, args.conversations, bar)
    queries_large = {"collaborator_inbox": count_queries(collab_client, "/inbox/"),
                     "operator_inbox": count_queries(operator_client, "/inbox/"),
                     "operator_all_list": count_queries(operator_client, "/conversations/")}

    from apps.conversations import access
    from apps.workspace.inbox import tab_counts

    print("measuring ...", flush=True)
    for client in (collab_client, operator_client):  # warm up
        for _ in range(5):
            client.get("/inbox/")
    collab = timed(lambda: collab_client.get("/inbox/"), args.requests)
    oper = timed(lambda: operator_client.get("/inbox/"), args.requests)
    list_label = timed(lambda: collab_client.get(f"/inbox/?label={label_ids[3]}"), args.requests)
    list_search = timed(lambda: collab_client.get("/inbox/?q=router"), args.requests)
    list_search_all = timed(lambda: collab_client.get("/inbox/?tab=archived&q=factura"), args.requests)

    def page_tab_counts(user):
        # As the inbox page computes them: inside the page's visibility memo, so a Collaborator's
        # departments are one (prepared) read of ids the page shares with its list and menus. Called
        # bare, the whole object-permission UNION is a subquery PostgreSQL plans on every call
        # (planning ~2-6 ms against 0.4 ms of execution), a path no page takes.
        with access.visibility_memo():
            return tab_counts(user)

    collab_counts = timed(lambda: page_tab_counts(collaborator), args.requests)
    oper_counts = timed(lambda: page_tab_counts(operator), args.requests)
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
        "collaborator_list_label_filter": summary(list_label), "collaborator_list_search": summary(list_search),
        "collaborator_archived_search": summary(list_search_all),
        "collaborator_tab_counts": summary(collab_counts), "operator_tab_counts": summary(oper_counts),
        "queries_at_100k": queries_small, "queries_at_1m": queries_large,
        "collaborator_inbox_queries_with_7_departments": queries_more_depts, **flat,
        "object_permission_rows": perm_rows + generic_perm_rows,
        "object_permission_rows_per_conversation_pct": round(100 * (perm_rows + generic_perm_rows) / conv_rows, 4),
    }
    print(f"Collaborator inbox p95 {figures['collaborator_inbox']['p95_ms']} ms vs Operator "
          f"{figures['operator_inbox']['p95_ms']} ms (ratio {figures['collaborator_p95_over_operator_p95']}, target <= 1.5)")
    print(f"SQL queries, collaborator inbox: {queries_small['collaborator_inbox']} at {small:,} conversations, "
          f"{queries_large['collaborator_inbox']} at {conv_rows:,}, {queries_more_depts} with 7 departments")
    print(f"object-permission rows: {figures['object_permission_rows']} "
          f"({figures['object_permission_rows_per_conversation_pct']}% of conversations, target < 0.1%)")
    print(f"Collaborator list p95: default {figures['collaborator_inbox']['p95_ms']} ms, label filter "
          f"{figures['collaborator_list_label_filter']['p95_ms']} ms, search {figures['collaborator_list_search']['p95_ms']}"
          f" ms, archived search {figures['collaborator_archived_search']['p95_ms']} ms")
    if flat:
        print(f"flat: Collaborator list p95 {flat['collaborator_inbox_at_100k']['p95_ms']} ms at {small:,} -> "
              f"{figures['collaborator_inbox']['p95_ms']} ms at {conv_rows:,}; search "
              f"{flat['collaborator_search_at_100k']['p95_ms']} -> {figures['collaborator_list_search']['p95_ms']} ms")
    connection.close()
    if not args.no_peer:
        peer = run_peer(args.conversations, args.requests)
        figures["peer"] = peer
        if peer.get("restricted_list_p95_ms"):
            worst = max(figures[k]["p95_ms"] for k in ("collaborator_inbox", "collaborator_list_label_filter",
                                                        "collaborator_list_search"))
            figures["collaborator_list_p95_over_peer_restricted_list_p95"] = round(
                figures["collaborator_inbox"]["p95_ms"] / peer["restricted_list_p95_ms"], 3)
            figures["worst_collaborator_list_p95_over_peer"] = round(worst / peer["restricted_list_p95_ms"], 3)
            print(f"Peer (django-helpdesk) restricted list p95 {peer['restricted_list_p95_ms']} ms at "
                  f"{peer.get('tickets')} tickets: ratio {figures['collaborator_list_p95_over_peer_restricted_list_p95']}"
                  f" (worst of default/label/search {figures['worst_collaborator_list_p95_over_peer']}; target <= 0.1)")
    if not args.keep:
        subprocess.run(["psql", os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432") + "/postgres", "-qc",
                        f"DROP DATABASE IF EXISTS {DB}"], check=False, capture_output=True)
    print(json.dumps(figures))


def run_peer(tickets: int, requests: int) -> dict:
    """The peer harness at the same size, in the same run; its last stdout line is one JSON object."""
    runner = os.environ.get("PEER_HELPDESK", "/work/shared/tools/peer-helpdesk/run")
    if not Path(runner).exists():
        print(f"peer harness not found at {runner}: no comparison (set PEER_HELPDESK)", flush=True)
        return {"error": "peer harness missing"}
    env = {**os.environ, "DATABASE_URL": os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
           + "/" + os.environ.get("BENCH_PEER_DB", "peer_helpdesk_bench")}
    print(f"running the peer (django-helpdesk) at {tickets:,} tickets ...", flush=True)
    done = subprocess.run([runner, "--tickets", str(tickets), "--requests", str(min(requests, 30))], env=env,
                          stdout=subprocess.PIPE, text=True, check=False)
    lines = [line for line in done.stdout.strip().splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        print(f"peer run failed (exit {done.returncode})", flush=True)
        return {"error": f"exit {done.returncode}"}
    return json.loads(lines[-1])


if __name__ == "__main__":
    t0 = time.time()
    main()
    print(f"# finished in {time.time() - t0:.0f}s", file=sys.stderr)
