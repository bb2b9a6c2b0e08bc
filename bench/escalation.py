#!/usr/bin/env python3
"""Escalation sweep under load: 100,000 open conversations whose deadlines are rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/asiste_routing_bench \\
        .venv/bin/python bench/escalation.py [--conversations 100000] [--interval 5] [--duration 60]

What it does, on its own fresh database (dropped at the end unless --keep):
* bulk-inserts N queued conversations in one department whose pick-up timer is --timer-minutes;
  their deadlines are spread uniformly over one timer length, as they would be in steady state
  (N open chats, each escalating once per timer), so ``N / (timer*60)`` escalations fall due each
  second while the other rows sit in the index;
* a "beat" process emits a tick every --interval seconds (ticks older than the interval expire,
  like the task's ``expires`` option) and --workers worker processes run ``routing.sweep`` on each
  tick they get. Each escalation is the real one: claim, lock, notify the Operator, log the event,
  tell the customer their place in line, re-arm the ladder;
* with --redis-url (the default) the workers run as production does: the customer notice's
  outbound delivery is enqueued to that Redis db for the outbound workers (not run inline by an
  eager Celery, which bills the sweep for another queue's work) and live signals go through Redis;
  ``--redis-url ''`` runs the old way (eager Celery, in-memory signals);
* measures each step's lateness (event time minus the due time), duplicates (a chat escalated
  twice), misses (due in the window but never escalated), worker RSS after the first sweep and at
  the end, and as a baseline a plain indexed UPDATE of the same rows in the same database.

Targets: p99 lateness <= interval + 5 s (and none missed); duplicates 0; memory after/before <= 1.1.
Load-independent figures from the same run: worker CPU ms per escalation and the cores that takes at
the due rate, and the share of a core a busy loop gets before and after (the machine's load). A
worker still catching up with a backlog when the window and drain are over is stopped (SIGUSR1) and
reports; the escalations it did not reach count as missed.
Ends with one JSON line.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import queue
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import routing_common as rc  # noqa: E402


def cpu_share(seconds: float = 2.0) -> float:
    """Same-run measure of the machine load: the share of one core a busy Python loop gets
    (CPU time / wall time; 1.0 on an idle core, about cores / runnable processes when contended)."""
    w, c = time.perf_counter(), time.process_time()
    x = 0
    while time.perf_counter() - w < seconds:
        for i in range(10_000):
            x += i * i
    return round((time.process_time() - c) / (time.perf_counter() - w), 3)


def worker(idx: int, ticks, results, interval: float, batch: int) -> None:
    from django.db import connections
    from django.utils import timezone

    from apps.routing.sweep import sweep

    connections.close_all()

    class Stop(BaseException):  # not an Exception: no handler in the app may swallow it
        pass

    def stop(*_a):
        raise Stop

    signal.signal(signal.SIGUSR1, stop)  # the bench is over: report what was done, even mid-sweep
    rss_before = None
    sweeps = claimed = 0
    busy = cpu = 0.0
    while True:
        try:
            tick = ticks.get(timeout=1)
        except queue.Empty:
            continue
        if tick is None:
            break
        if time.time() - tick > interval:  # expired tick (beat's `expires`): skip, the next one comes
            continue
        t, c = time.perf_counter(), time.process_time()
        try:
            stats = sweep(batch=batch, assign=False)
        except Stop:  # still catching up with a backlog when the bench ended
            busy += time.perf_counter() - t
            cpu += time.process_time() - c
            break
        busy += time.perf_counter() - t
        cpu += time.process_time() - c
        sweeps += 1
        claimed += stats.get("claimed", 0)
        if rss_before is None:
            rss_before = rc.rss_mb()
    results.put({"worker": idx, "sweeps": sweeps, "claimed": claimed, "busy_s": round(busy, 2), "cpu_s": round(cpu, 2),
                 "rss_before_mb": round(rss_before or rc.rss_mb(), 1), "rss_after_mb": round(rc.rss_mb(), 1)})
    try:
        connections.close_all()
    except Exception:  # interrupted mid-query
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--conversations", type=int, default=100_000)
    ap.add_argument("--interval", type=float, default=5.0, help="sweep interval (beat), seconds")
    ap.add_argument("--duration", type=float, default=60.0, help="measured window, seconds")
    ap.add_argument("--timer-minutes", type=int, default=30, help="pick-up timer of the department")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--keep", action="store_true", help="keep the bench database")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/7",
                    help="Redis db for Celery's broker and live signals, flushed before and after ('': eager "
                         "Celery and in-memory signals)")
    args = ap.parse_args()

    url = rc.prepare(redis_url=args.redis_url)
    from tqdm import tqdm

    from django.db import connection, connections
    from django.contrib.auth import get_user_model

    from apps.conversations.models import Channel
    from apps.departments.models import Department
    from apps.roles.services import roles_ensure, user_set_role
    from apps.routing.models import DepartmentRouting

    try:
        roles_ensure()
        op = get_user_model().objects.create_user(username="bench-operator", password="x")
        user_set_role(user=op, role="operator")
        dept = Department.objects.create(name="Bench support", slug="bench-support")
        DepartmentRouting.objects.create(department=dept, mode="manual", pickup_minutes=args.timer_minutes,
                                         pickup_auto_assign=False, pickup_to_backup=False, pickup_notify=True)
        channel = Channel.objects.create(name="Bench web", kind="webchat", default_department=dept)
        n, timer_s = args.conversations, args.timer_minutes * 60
        t = time.perf_counter()
        # Due times: uniform over one timer length, starting 0..timer_s after an epoch fixed below.
        first, last = rc.bulk_conversations(
            n=n, department_id=dept.pk, channel_id=channel.pk,
            queued_at_sql=f"now() + (random() * {timer_s}) * interval '1 second' - interval '{timer_s} seconds'")
        with connection.cursor() as cur:
            cur.execute("""
                INSERT INTO routing_conversationdeadline (conversation_id, kind, due_at, scheduled_at, armed_for, stage)
                SELECT id, 'pickup', queued_at + %s * interval '1 second', queued_at + %s * interval '1 second',
                       queued_at, 0
                FROM conversations_conversation WHERE id BETWEEN %s AND %s""", [timer_s, timer_s, first, last])
            cur.execute("ANALYZE")
        print(f"inserted {n:,} conversations with deadlines in {time.perf_counter() - t:.1f}s", flush=True)

        # Shift everything so the first deadline falls 2 s after the workers start.
        lead = 2.0
        with connection.cursor() as cur:
            cur.execute("SELECT extract(epoch from min(due_at)) FROM routing_conversationdeadline")
            min_due = float(cur.fetchone()[0])
            epoch = time.time() + 8 + lead
            shift = epoch - min_due
            cur.execute("UPDATE conversations_conversation SET queued_at = queued_at + %s * interval '1 second' "
                        "WHERE id BETWEEN %s AND %s", [shift, first, last])
            cur.execute("UPDATE routing_conversationdeadline SET due_at = due_at + %s * interval '1 second', "
                        "scheduled_at = scheduled_at + %s * interval '1 second', "
                        "armed_for = armed_for + %s * interval '1 second'", [shift, shift, shift])
            cur.execute("ANALYZE routing_conversationdeadline")
            window_end = epoch + args.duration
            cur.execute("SELECT count(*) FROM routing_conversationdeadline WHERE scheduled_at <= to_timestamp(%s)",
                        [window_end])
            expected = cur.fetchone()[0]
        print(f"{expected:,} deadlines fall due in the {args.duration:.0f}s window "
              f"({expected / args.duration:.0f}/s); {n - expected:,} wait in the index", flush=True)
        connections.close_all()

        share_before, load_before = cpu_share(), round(os.getloadavg()[0], 2)
        print(f"machine: {share_before:.2f} of a core for a busy loop, load average {load_before}", flush=True)
        ctx = mp.get_context("fork")
        ticks, results = ctx.Queue(), ctx.Queue()
        procs = [ctx.Process(target=worker, args=(i, ticks, results, args.interval, args.batch))
                 for i in range(args.workers)]
        for p in procs:
            p.start()
        while time.time() < epoch - lead:
            time.sleep(0.05)
        start = time.time()
        next_tick = start
        done = 0
        bar = tqdm(total=expected, unit="esc", desc="escalations", mininterval=1)
        drain_deadline = window_end + max(30.0, args.interval * 4)
        while True:
            now = time.time()
            if now >= next_tick:
                ticks.put(now)
                next_tick += args.interval
            with connection.cursor() as cur:
                cur.execute("SELECT count(*) FROM routing_conversationdeadline WHERE stage > 0 "
                            "AND armed_for <= to_timestamp(%s) - %s * interval '1 second'", [window_end, timer_s])
                processed = cur.fetchone()[0]
            bar.update(processed - done)
            done = processed
            if (now > window_end and done >= expected) or now > drain_deadline:
                break
            time.sleep(min(1.0, max(0.05, next_tick - time.time())))
        bar.close()
        for _ in procs:
            ticks.put(None)
        stats = []
        for _ in procs:
            try:
                stats.append(results.get(timeout=20))
            except queue.Empty:  # a worker still inside one long sweep (a backlog): stop it, it reports
                for p in procs:
                    if p.is_alive():
                        os.kill(p.pid, signal.SIGUSR1)
                stats.append(results.get(timeout=60))
        for p in procs:
            p.join(30)
        elapsed = time.time() - start

        with connection.cursor() as cur:
            cur.execute("""
                SELECT extract(epoch from e.created_at - (e.payload->>'scheduled_at')::timestamptz)
                FROM conversations_conversationevent e
                WHERE e.kind = 'escalation' AND (e.payload->>'scheduled_at')::timestamptz <= to_timestamp(%s)""",
                        [window_end])
            late = sorted(float(r[0]) for r in cur.fetchall())
            cur.execute("SELECT count(*) - count(DISTINCT conversation_id), count(*) FROM conversations_conversationevent "
                        "WHERE kind = 'escalation'")
            duplicates, done_total = cur.fetchone()
            cur.execute("SELECT count(*) FROM routing_conversationdeadline WHERE stage = 0 "
                        "AND scheduled_at <= to_timestamp(%s)", [window_end])
            missed = cur.fetchone()[0]
            cur.execute("SELECT count(*) FROM routing_notification")
            notifications = cur.fetchone()[0]
            # Baseline: a plain indexed UPDATE of the same rows (they were re-armed one timer later).
            cur.execute("SELECT min(due_at), max(due_at), count(*) FROM routing_conversationdeadline WHERE stage > 0")
            lo, hi, same_rows = cur.fetchone()
            t = time.perf_counter()
            cur.execute("UPDATE routing_conversationdeadline SET due_at = due_at + interval '1 second', "
                        "claimed_at = now() WHERE due_at BETWEEN %s AND %s", [lo, hi])
            baseline_rows = cur.rowcount
            baseline_s = time.perf_counter() - t

        def pct(p: float) -> float:
            return round(late[min(len(late) - 1, int(p * len(late)))], 3) if late else 0.0

        rss_before = max(s["rss_before_mb"] for s in stats)
        rss_after = max(s["rss_after_mb"] for s in stats)
        mem_ratio = round(max(s["rss_after_mb"] / s["rss_before_mb"] for s in stats), 3)
        sweep_rate = len(late) / max(sum(s["busy_s"] for s in stats) / len(stats), 1e-9)
        share_after = cpu_share()
        cpu_total = sum(s["cpu_s"] for s in stats)
        cpu_ms = 1000 * cpu_total / max(len(late), 1)
        # The workers go on past the window (a backlog, or deadlines due during the drain): per step done.
        cpu_ms_done = 1000 * cpu_total / max(done_total, 1)
        due_rate = n / timer_s
        # Load-independent cost: worker CPU per escalation (the database's own CPU comes on top).
        # Needed: due_rate * cpu_ms / 1000 cores of worker CPU; obtained: what the workers' busy
        # time converted into CPU (their share of a core while sweeping).
        got_share = cpu_total / max(sum(s["busy_s"] for s in stats), 1e-9)
        print(f"cost: {cpu_ms:.1f} ms worker CPU per escalation due in the window ({cpu_ms_done:.1f} per step "
              f"done, {done_total:,} steps); {due_rate:.1f}/s fall due -> "
              f"{due_rate * cpu_ms / 1000:.2f} cores needed; workers got {got_share:.2f} of a core while busy; "
              f"busy loop got {share_before:.2f} / {share_after:.2f} of a core (before / after)")
        print(f"workers: {stats}")
        print(f"lateness p50={pct(0.5)}s p99={pct(0.99)}s max={late[-1] if late else 0:.3f}s "
              f"(target p99 <= {args.interval + 5:.0f}s); duplicates={duplicates}; missed={missed}")
        print(f"baseline: plain indexed UPDATE of {baseline_rows:,} rows in {baseline_s:.3f}s "
              f"({baseline_rows / max(baseline_s, 1e-9):,.0f} rows/s) vs sweep {sweep_rate:,.0f} escalations/s "
              f"per busy worker")
        result = {
            "bench": "routing.escalation", "conversations": n, "interval_s": args.interval,
            "window_s": args.duration, "timer_minutes": args.timer_minutes, "workers": args.workers,
            "due_in_window": expected, "escalated": len(late), "notifications": notifications,
            "lateness_p50_s": pct(0.5), "lateness_p99_s": pct(0.99), "lateness_max_s": round(late[-1], 3) if late else 0,
            "p99_target_s": args.interval + 5,
            "p99_ok": bool(late) and missed == 0 and pct(0.99) <= args.interval + 5,
            "duplicates": duplicates, "missed": missed,
            "worker_rss_before_mb": rss_before, "worker_rss_after_mb": rss_after, "worker_rss_ratio": mem_ratio,
            "memory_ok": mem_ratio <= 1.1,
            "sweep_escalations_per_busy_s": round(sweep_rate, 1),
            "baseline_update_rows": baseline_rows, "baseline_update_s": round(baseline_s, 3),
            "baseline_rows_per_s": round(baseline_rows / max(baseline_s, 1e-9), 1),
            "elapsed_s": round(elapsed, 1), "cpu_count": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2), "load_avg_1m_before": load_before,
            "cpu_share_before": share_before, "cpu_share_after": share_after,
            "worker_cpu_ms_per_escalation": round(cpu_ms, 2), "escalations_done": done_total,
            "worker_cpu_ms_per_escalation_done": round(cpu_ms_done, 2), "due_per_s": round(due_rate, 2),
            "worker_cores_needed": round(due_rate * cpu_ms / 1000, 3),
            "worker_cpu_share_while_busy": round(got_share, 3),
        }
        result["broker"] = "redis (delivery enqueued)" if args.redis_url else "eager (delivery inline)"
        if args.redis_url:
            names, _queues = rc.enqueued(args.redis_url)
            result["tasks_enqueued"] = sum(names.values())
            result["tasks_by_name"] = dict(names)
    finally:
        rc.finish(url, keep=args.keep, redis_url=args.redis_url)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
