#!/usr/bin/env python3
"""Assignment under a burst: 5,000 handed-off chats arrive at once in a department of 50 online agents.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/asiste_routing_bench \\
        .venv/bin/python bench/assignment.py [--chats 5000] [--agents 50] [--capacity 50] [--workers 4]

On its own fresh database (dropped at the end unless --keep): bulk-inserts the chats in "transfer"
(handed off, waiting for routing) and --workers processes run the real route step
(``routing_conversation_arrived``: queue, arm the timer, assign by load with row locks, announce the
agent to the customer) for all of them at once. Reports throughput, the maximum load of any agent
against its capacity (must never exceed it), chats assigned twice (must be 0), and as a baseline
in the same run the same burst into a manual-mode department (queue + timer, no assignment).
Ends with one JSON line.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import routing_common as rc  # noqa: E402


def _route(pk: int) -> bool:
    from apps.routing.services import routing_conversation_arrived

    routing_conversation_arrived(conversation_id=pk)
    return True


def _init() -> None:
    from django.db import connections

    connections.close_all()


def burst(ids: list[int], workers: int, label: str) -> float:
    from django.db import connections
    from tqdm import tqdm

    connections.close_all()
    ctx = mp.get_context("fork")
    t = time.perf_counter()
    with ctx.Pool(workers, initializer=_init) as pool:
        for _ in tqdm(pool.imap_unordered(_route, ids, chunksize=10), total=len(ids), unit="chat", desc=label,
                      mininterval=1):
            pass
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chats", type=int, default=5000)
    ap.add_argument("--agents", type=int, default=50)
    ap.add_argument("--capacity", type=int, default=50, help="per agent; default leaves half the burst queued")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    url = rc.prepare()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from apps.conversations.models import Channel
    from apps.departments.models import Department, Membership
    from apps.roles.services import roles_ensure
    from apps.routing.models import AgentPresence, DepartmentRouting

    try:
        roles_ensure()
        User = get_user_model()
        dept = Department.objects.create(name="Bench support", slug="bench-support")
        manual = Department.objects.create(name="Bench manual", slug="bench-manual")
        DepartmentRouting.objects.create(department=dept, mode="load", pickup_minutes=10, reply_minutes=5)
        DepartmentRouting.objects.create(department=manual, mode="manual", pickup_minutes=10)
        channel = Channel.objects.create(name="Bench web", kind="webchat", default_department=dept)
        users = User.objects.bulk_create([User(username=f"agent{i:03d}", display_name=f"Agent {i}")
                                          for i in range(args.agents)])
        Membership.objects.bulk_create([Membership(user=u, department=dept) for u in users])
        AgentPresence.objects.bulk_create([AgentPresence(user=u, status="online", capacity=args.capacity)
                                           for u in users])
        t = time.perf_counter()
        first, last = rc.bulk_conversations(n=args.chats, department_id=dept.pk, channel_id=channel.pk,
                                            status="transfer", queued_at_sql="NULL")
        bfirst, blast = rc.bulk_conversations(n=args.chats, department_id=manual.pk, channel_id=channel.pk,
                                              status="transfer", queued_at_sql="NULL")
        with connection.cursor() as cur:
            cur.execute("ANALYZE")
        print(f"inserted 2 x {args.chats:,} handed-off chats in {time.perf_counter() - t:.1f}s", flush=True)

        base_s = burst(list(range(bfirst, blast + 1)), args.workers, "baseline (manual: queue only)")
        routed_s = burst(list(range(first, last + 1)), args.workers, "load mode (queue + assign)")

        with connection.cursor() as cur:
            cur.execute("SELECT assignee_id, count(*) FROM conversations_conversation "
                        "WHERE status IN ('assigned', 'in_progress') GROUP BY assignee_id")
            loads = dict(cur.fetchall())
            cur.execute("SELECT count(*) - count(DISTINCT conversation_id) FROM conversations_conversationevent "
                        "WHERE kind = 'assigned'")
            double = cur.fetchone()[0]
            cur.execute("SELECT status, count(*) FROM conversations_conversation WHERE department_id = %s "
                        "GROUP BY status", [dept.pk])
            by_status = dict(cur.fetchall())
            cur.execute("SELECT count(*) FROM conversations_message WHERE author_kind = 'system'")
            announced = cur.fetchone()[0]
        assigned = sum(loads.values())
        max_load = max(loads.values()) if loads else 0
        expected = min(args.chats, args.agents * args.capacity)
        print(f"assigned {assigned:,} (expected {expected:,}); max agent load {max_load} / capacity {args.capacity}; "
              f"chats assigned twice {double}; statuses {by_status}")
        print(f"throughput {args.chats / routed_s:,.0f} chats/s routed vs baseline {args.chats / base_s:,.0f} "
              f"chats/s queued only ({args.workers} workers)")
        result = {
            "bench": "routing.assignment", "chats": args.chats, "agents": args.agents, "capacity": args.capacity,
            "workers": args.workers, "routed_s": round(routed_s, 2),
            "chats_per_s": round(args.chats / routed_s, 1),
            "baseline_queue_only_s": round(base_s, 2), "baseline_chats_per_s": round(args.chats / base_s, 1),
            "assigned": assigned, "expected_assigned": expected, "queued": by_status.get("unassigned", 0),
            "max_agent_load": max_load, "capacity_ok": max_load <= args.capacity,
            "agents_used": len(loads), "assigned_twice": double, "announcements": announced,
            "cpu_count": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
        }
    finally:
        if not args.keep:
            rc.drop(url)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
