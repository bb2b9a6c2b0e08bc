#!/usr/bin/env python3
"""Where a Collaborator's inbox request spends its time, per SQL statement and in Python, on a
database kept by ``bench/inbox.py --keep`` (issue 15: "flat from 100k to 1M").

For each list kind (default, label filter, search, archived search) it runs the page ``--requests``
times after a warm-up and prints, per statement of the request (in order), its median and p95 wall
time as Django's cursor sees it, then the request's total, its SQL, the template rendering
(``render`` in the workspace views, SQL inside it excluded) and the rest of the Python side.
``--explain`` also prints ``EXPLAIN (ANALYZE, BUFFERS)`` execution times of each statement.
Ends with one JSON line.

    python bench/inbox_profile.py --db asiste_bench_inbox [--requests 60] [--explain]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._common import percentile, use_bench_database  # noqa: E402


def _label(sql: str) -> str:
    s = " ".join(sql.split())
    low = s.lower()
    for needle, name in (("django_session", "session"), ("from \"accounts_user\"", "user"),
                         ("departmentuserobjectpermission", "department read"), ("auth_permission", "permissions"),
                         ("json_agg", "page (ids + rows)"), ("json_group_array", "page (ids + rows)"),
                         ("union all", "tab counts"), ("\"tab\"", "tab counts"), ("workspace_label", "label menu"),
                         ("routing_agentpresence", "presence")):
        if needle in low:
            return name
    return s[:60]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--user", default="agent007")
    args = parser.parse_args()
    use_bench_database(args.db)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    import apps.workspace.views as views
    from apps.conversations.models import Conversation
    from apps.workspace.models import Label
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=args.user)
    label = Label.objects.get(name="label-3")
    client = Client()
    client.force_login(user)
    kinds = {"list": "/inbox/", "label": f"/inbox/?label={label.pk}", "search": "/inbox/?q=router",
             "archived_search": "/inbox/?tab=archived&q=factura"}

    log: list = []  # (label, ms) of the current request
    in_render = [False]

    def wrapper(execute, sql, params, many, context):
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            log.append((_label(sql), (time.perf_counter() - t0) * 1000, in_render[0]))

    real_render = views.render
    render_ms = [0.0]

    def timed_render(*a, **kw):
        in_render[0] = True
        t0 = time.perf_counter()
        try:
            return real_render(*a, **kw)
        finally:
            render_ms[0] = (time.perf_counter() - t0) * 1000
            in_render[0] = False

    views.render = timed_render
    out = {"db": args.db, "conversations": Conversation.objects.count()}
    print(f"{args.db}: {out['conversations']:,} conversations, user {args.user}", flush=True)
    with connection.execute_wrapper(wrapper):
        for kind, url in kinds.items():
            for _ in range(5):
                assert client.get(url).status_code == 200
            per_query: dict[int, list] = {}
            totals, sqls, renders, render_sql = [], [], [], []
            for _ in range(args.requests):
                log.clear()
                t0 = time.perf_counter()
                client.get(url)
                totals.append((time.perf_counter() - t0) * 1000)
                for i, (name, ms, _r) in enumerate(log):
                    per_query.setdefault(i, [name, []])[1].append(ms)
                sqls.append(sum(ms for _n, ms, _r in log))
                render_sql.append(sum(ms for _n, ms, r in log if r))
                renders.append(render_ms[0] - render_sql[-1])

            def s(v):
                return {"p50": round(statistics.median(v), 2), "p95": round(percentile(v, 95), 2)}

            res = {"total": s(totals), "sql": s(sqls), "render_py": s(renders),
                   "python_other": s([t - q - r for t, q, r in zip(totals, sqls, renders)]),
                   "queries": [[name, s(v)] for _i, (name, v) in sorted(per_query.items())]}
            out[kind] = res
            print(f"  {kind:16s} total p50/p95 {res['total']['p50']}/{res['total']['p95']} ms; sql "
                  f"{res['sql']['p50']}/{res['sql']['p95']}; render (py) {res['render_py']['p50']}/"
                  f"{res['render_py']['p95']}; other py {res['python_other']['p50']}/{res['python_other']['p95']}")
            for name, v in res["queries"]:
                print(f"      {name:28s} {v['p50']:7.2f} {v['p95']:7.2f}")
    views.render = real_render
    if args.explain:
        from django.conf import settings

        settings.SQLCACHE_PREPARE = False
        out["explain"] = {}
        for kind, url in kinds.items():
            with CaptureQueriesContext(connection) as ctx:
                client.get(url)
            rows = []
            for q in ctx.captured_queries:
                with connection.cursor() as cur:
                    cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + q["sql"].replace("%", "%%"))
                    plan = cur.fetchone()[0]
                    plan = plan[0] if isinstance(plan, list) else json.loads(plan)[0]
                rows.append([_label(q["sql"]), plan["Planning Time"], plan["Execution Time"],
                             plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0)])
            out["explain"][kind] = rows
            print(f"  EXPLAIN {kind}: " + "; ".join(f"{n} plan {p:.2f} exec {e:.2f} ms ({b} buf)" for n, p, e, b in rows))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
