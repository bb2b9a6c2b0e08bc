"""Reports at scale: 1,000,000 archived conversations, the 30-day dashboard p95 on PostgreSQL.

    .venv/bin/python bench/reports.py [--conversations 1000000] [--days 120] [--runs 60] [--keep]

1. creates the database ``asiste_reports_bench`` (dropped at the end unless --keep),
2. bulk-loads conversations, messages and events with COPY (secondary indexes are dropped for
   the load and rebuilt after it), with a progress bar,
3. builds the rollups with the real ``reports_rebuild`` path,
4. measures the dashboard (Django test client, logged-in Operator) for a 30-day range, unfiltered
   and filtered, beside the cost of one indexed COUNT on the same data and of a direct scan of
   the event log for a few of the same figures,
5. folds 200 new conversations written through the real services into the rollups with the
   incremental refresh, checks them against a recomputation of those conversations,
6. prints one JSON line of figures.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone as dt_timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "asiste_reports_bench"
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def setup_django() -> None:
    os.environ.update({
        "DATABASE_URL": f"{PG}/{DB_NAME}", "SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0", "STATIC_MANIFEST": "0", "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only"),
        "DB_CONN_MAX_AGE": "0",
    })
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
    import logging

    import django

    django.setup()
    logging.getLogger("celery").setLevel(logging.WARNING)
    logging.disable(logging.INFO)


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, dt_timezone.utc).isoformat()


TRIGGERS = ["low_confidence", "negative_sentiment", "out_of_scope", "explicit_request"]


def generate(n: int, days: int, cast: dict, seed: int = 11):
    """Yield (conversation line, [message lines], [event lines]) in COPY text format, ids ascending."""
    rng = random.Random(seed)
    rand, choice, randint = rng.random, rng.choice, rng.randint
    end = time.time() - 3600
    start = end - days * 86400
    span = end - start
    depts, members, channels, contacts = cast["depts"], cast["members"], cast["channels"], cast["contacts"]
    mid = eid = 0
    N = "\\N"
    for i in range(n):
        cid = i + 1
        t0 = start + span * i / n + rand() * 60
        channel = channels[0] if rand() < 0.6 else channels[1]
        contact = choice(contacts)
        msgs, evs = [], []

        def msg(kind, author, t):
            nonlocal mid
            mid += 1
            msgs.append(f"{mid}\t{cid}\t{kind}\t{author or N}\tbench text\tf\t{N}\t{channel}\t[]\t{{}}\t\t{iso(t)}\n")

        def ev(kind, actor_kind, actor, t, fs, ts, fd=None, td=None, fa=None, ta=None, payload="{}"):
            nonlocal eid
            eid += 1
            evs.append(f"{eid}\t{cid}\t{kind}\t{actor_kind}\t{actor or N}\t{fs}\t{ts}\t{fd or N}\t{td or N}\t"
                       f"{fa or N}\t{ta or N}\t\t{payload}\t{iso(t)}\n")

        ev("created", "customer", None, t0, "", "bot")
        msg("customer", None, t0)
        tokens = randint(600, 2400)
        ev("agent_decision", "ai_agent", None, t0 + 2, "bot", "bot",
           payload=f'{{"usage": {{"total_tokens": {tokens}}}, "confidence": 0.8}}')
        msg("ai_agent", None, t0 + 3)
        csat = N
        if rand() < 0.58:  # closed by the AI Agent
            r = rand()
            resolution = "bot_confirmed" if r < 0.45 else ("bot_assumed" if r < 0.8 else "abandoned")
            t_end = t0 + (2100 if resolution == "bot_assumed" else 120)
            ev("archived", "ai_agent", None, t_end, "bot", "archived", payload=f'{{"resolution": "{resolution}"}}')
            if resolution == "bot_confirmed" and rand() < 0.3:
                csat = randint(3, 5)
                ev("rated", "customer", None, t_end + 30, "archived", "archived", payload=f'{{"score": {csat}}}')
            dept = assignee = None
            handoff = "{}"
            t_last = t_end
        else:
            slug = choice(list(depts))
            dept = depts[slug]
            trig = choice(TRIGGERS)
            handoff = f'{{"trigger": "{trig}"}}'
            ev("handoff", "ai_agent", None, t0 + 5, "bot", "transfer", None, dept, payload=handoff)
            ev("queued", "system", None, t0 + 6, "transfer", "unassigned", dept, dept)
            assignee = choice(members[slug])
            t_as = t0 + 6 + randint(20, 600)
            ev("assigned", "system", None, t_as, "unassigned", "assigned", dept, dept, None, assignee)
            t_rep = t_as + randint(10, 700)
            msg("human", assignee, t_rep)
            ev("started", "human", assignee, t_rep, "assigned", "in_progress", dept, dept, assignee, assignee)
            t = t_rep
            if rand() < 0.05:  # transferred to another department
                new_slug = choice([s for s in depts if s != slug])
                new_dept, new_assignee = depts[new_slug], choice(members[new_slug])
                ev("transferred", "human", assignee, t + 60, "in_progress", "transfer", dept, new_dept, assignee)
                ev("queued", "system", None, t + 61, "transfer", "unassigned", new_dept, new_dept)
                ev("assigned", "system", None, t + 200, "unassigned", "assigned", new_dept, new_dept, None, new_assignee)
                t = t + 200 + randint(10, 400)
                msg("human", new_assignee, t)
                ev("started", "human", new_assignee, t, "assigned", "in_progress", new_dept, new_dept, new_assignee,
                   new_assignee)
                dept, assignee = new_dept, new_assignee
            elif rand() < 0.03:  # reassigned by the Operator
                other = choice(members[slug])
                ev("reassigned", "human", cast["operator"], t + 90, "in_progress", "assigned", dept, dept, assignee,
                   other)
                t += 90 + randint(10, 300)
                msg("human", other, t)
                ev("started", "human", other, t, "assigned", "in_progress", dept, dept, other, other)
                assignee = other
            msg("customer", None, t + 120)
            t_end = t + randint(600, 3600)
            msg("human", assignee, t_end - 5)
            ev("archived", "human", assignee, t_end, "in_progress", "archived", dept, dept, assignee, assignee,
               payload='{"resolution": "resolved"}')
            resolution = "resolved"
            if rand() < 0.03:
                ev("reopened", "customer", None, t_end + 3600, "archived", "unassigned", dept, dept, assignee)
                ev("assigned", "system", None, t_end + 3700, "unassigned", "assigned", dept, dept, None, assignee)
                msg("human", assignee, t_end + 3800)
                t_end += 4000
                ev("archived", "human", assignee, t_end, "in_progress", "archived", dept, dept, assignee, assignee,
                   payload='{"resolution": "resolved"}')
            if rand() < 0.6:
                csat = rng.choices((5, 4, 3, 2, 1), (55, 25, 8, 6, 6))[0]
                ev("rated", "customer", None, t_end + 30, "archived", "archived", payload=f'{{"score": {csat}}}')
            t_last = t_end
        conv = (f"{cid}\t{contact}\t{channel}\tarchived\t{dept or N}\t{assignee or N}\t\tes\t\t{handoff}\t"
                f"{resolution}\t{csat}\t\t{iso(t0)}\t{iso(t_last)}\t{N}\t{N}\t{N}\t{iso(t_last)}\t{iso(t0)}\t{iso(t_last)}\n")
        yield conv, msgs, evs


CONV_COLS = ("id, contact_id, channel_id, status, department_id, assignee_id, subject, language, handoff_summary, "
             "handoff, resolution, csat_score, csat_comment, created_at, updated_at, queued_at, assigned_at, "
             "first_human_reply_at, last_message_at, last_customer_message_at, archived_at")
MSG_COLS = ("id, conversation_id, author_kind, author_id, body, is_internal, external_id, channel_id, sources, meta, "
            "delivery_status, created_at")
EV_COLS = ("id, conversation_id, kind, actor_kind, actor_id, from_status, to_status, from_department_id, "
           "to_department_id, from_assignee_id, to_assignee_id, reason, payload, created_at")
TABLES = {"conversations_conversation": CONV_COLS, "conversations_message": MSG_COLS,
          "conversations_conversationevent": EV_COLS}


def make_cast():
    from apps.conversations.models import Channel, Contact
    from apps.departments.models import Department
    from apps.departments.services import membership_set
    from apps.reports.models import CostSettings
    from apps.roles.services import roles_ensure, user_set_role
    from django.contrib.auth import get_user_model
    from decimal import Decimal

    roles_ensure()
    User = get_user_model()
    depts = {}
    for i, slug in enumerate(["customer-service", "sales", "technical-support", "collections", "cancellations"]):
        depts[slug] = Department.objects.create(name=slug.replace("-", " ").title(), slug=slug, is_default=i == 0).pk
    members = {}
    for slug in depts:
        members[slug] = []
        for k in range(4):
            u = User.objects.create_user(username=f"{slug}-{k}", password="bench-pass-1", first_name=f"{slug}-{k}")
            user_set_role(user=u, role="collaborator")
            membership_set(user=u, department=Department.objects.get(pk=depts[slug]))
            members[slug].append(u.pk)
    operator = User.objects.create_user(username="laura", password="bench-pass-1", first_name="Laura")
    user_set_role(user=operator, role="operator")
    web = Channel.objects.create(name="Web", kind="webchat", default_department_id=depts["customer-service"])
    wa = Channel.objects.create(name="WhatsApp", kind="whatsapp", default_department_id=depts["customer-service"])
    Contact.objects.bulk_create([Contact(name=f"Customer {i}") for i in range(20_000)], batch_size=5000)
    contacts = list(Contact.objects.values_list("id", flat=True))
    CostSettings(operator_seat_monthly_cost=Decimal("1200"), collaborator_hourly_cost=Decimal("9.5"),
                 platform_monthly_cost=Decimal("450"), ai_cost_per_1k_tokens=Decimal("0.002")).save()
    return {"depts": depts, "members": members, "channels": [web.pk, wa.pk], "contacts": contacts,
            "operator": operator.pk, "operator_user": operator}


def load(n: int, days: int, cast: dict) -> dict:
    """COPY the generated rows over three connections at once, secondary indexes dropped meanwhile."""
    import psycopg
    from tqdm import tqdm

    url = f"{PG}/{DB_NAME}"
    conns = {t: psycopg.connect(url) for t in TABLES}
    ddl = psycopg.connect(url, autocommit=True)
    dropped = []
    for table in TABLES:
        for name, definition in ddl.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", (table,)).fetchall():
            ddl.execute(f'DROP INDEX "{name}"')
            dropped.append(definition)
    counts = {t: 0 for t in TABLES}
    t_start = time.perf_counter()
    copies = {}
    stack = contextlib.ExitStack()
    for table, conn in conns.items():
        conn.execute("SET session_replication_role = replica")  # rows are consistent by construction
        copies[table] = stack.enter_context(conn.cursor().copy(f"COPY {table} ({TABLES[table]}) FROM STDIN"))
    buffers = {t: io.StringIO() for t in TABLES}
    with tqdm(total=n, unit="conv", desc="COPY conversations+messages+events", file=sys.stderr) as bar:
        for i, (conv, msgs, evs) in enumerate(generate(n, days, cast), 1):
            buffers["conversations_conversation"].write(conv)
            buffers["conversations_message"].writelines(msgs)
            buffers["conversations_conversationevent"].writelines(evs)
            counts["conversations_conversation"] += 1
            counts["conversations_message"] += len(msgs)
            counts["conversations_conversationevent"] += len(evs)
            if i % 10_000 == 0 or i == n:
                for table, buf in buffers.items():
                    copies[table].write(buf.getvalue())
                    buffers[table] = io.StringIO()
                bar.update(10_000 if i % 10_000 == 0 else n % 10_000)
    stack.close()
    for table, conn in conns.items():
        conn.commit()
        conn.close()
    copy_s = time.perf_counter() - t_start
    t_idx = time.perf_counter()
    ddl.execute("SET maintenance_work_mem = '512MB'")
    for definition in tqdm(dropped, desc="rebuild indexes", file=sys.stderr):
        ddl.execute(definition)
    for table in TABLES:
        ddl.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        ddl.execute(f"ANALYZE {table}")
    ddl.close()
    return {"rows": counts, "copy_s": round(copy_s, 1), "index_s": round(time.perf_counter() - t_idx, 1)}


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def p95(values: list[float]) -> float:
    return round(sorted(values)[max(0, int(round(0.95 * len(values))) - 1)], 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=120, help="history spread over this many days")
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the bench database")
    args = parser.parse_args()

    print(f"creating database {DB_NAME}", file=sys.stderr)
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin_sql(f"CREATE DATABASE {DB_NAME}")
    result: dict = {"bench": "reports", "conversations": args.conversations, "history_days": args.days}
    try:
        setup_django()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        cast = make_cast()
        result.update(load(args.conversations, args.days, cast))

        from tqdm import tqdm

        from apps.reports.rollups import reports_rebuild

        t = time.perf_counter()
        with tqdm(total=args.conversations, unit="conv", desc="reports_rebuild", file=sys.stderr) as bar:
            rebuilt = reports_rebuild(progress=bar.update)
        result["rebuild_s"] = round(time.perf_counter() - t, 1)
        result["buckets"] = rebuilt["buckets"]
        connection.close()

        from django.test import Client
        from django.utils import timezone

        client = Client()
        client.force_login(cast["operator_user"])
        end = timezone.localdate()
        start = end - timedelta(days=29)
        url = f"/reports/?start={start}&end={end}"
        first = client.get(url)
        assert first.status_code == 200, first.status_code
        html = first.content.decode()
        assert "AI deflection rate" in html or "Tasa de" in html
        print(f"measuring {args.runs} dashboard renders", file=sys.stderr)
        plain = timed(lambda: client.get(url), args.runs)
        filtered_url = url + f"&department={cast['depts']['technical-support']}&channel={cast['channels'][1]}"
        filtered = timed(lambda: client.get(filtered_url), args.runs)
        api = timed(lambda: client.get(f"/api/v1/reports/agents/?start={start}&end={end}"), args.runs)

        from apps.conversations.models import Conversation, ConversationEvent

        since = timezone.now() - timedelta(days=30)
        count_ms = timed(lambda: Conversation.objects.filter(created_at__gte=since).count(), 7)
        in_range = Conversation.objects.filter(created_at__gte=since).count()

        def direct_scan():
            # A few of the same figures straight from the log (what the rollups avoid).
            from django.db.models import Avg, Count

            list(ConversationEvent.objects.filter(kind="handoff", created_at__gte=since)
                 .values("payload__trigger").annotate(n=Count("id")))
            Conversation.objects.filter(created_at__gte=since).aggregate(a=Avg("csat_score"), n=Count("id"))
            ConversationEvent.objects.filter(kind="reopened", created_at__gte=since).count()
        scan_ms = timed(direct_scan, 3)

        # Incremental refresh of fresh traffic written through the real services.
        from apps.conversations import services
        from apps.conversations.models import Channel, Contact
        from apps.departments.models import Department
        from apps.reports.rollups import reports_refresh, stored_buckets

        dept = Department.objects.get(slug="sales")
        collab = cast["members"]["sales"][0]
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(pk=collab)
        web = Channel.objects.get(pk=cast["channels"][0])
        contact = Contact.objects.first()
        for k in range(200):
            conv = services.conversation_start(contact=contact, channel=web)
            services.message_receive(channel=web, contact=contact, body="hola", conversation=conv)
            if k % 2:
                services.conversation_escalate(conversation=conv, department=dept, trigger="explicit_request")
                services.conversation_enqueue(conversation=conv)
                services.conversation_assign(conversation=conv, assignee=user)
                services.message_send_human(conversation=conv, user=user, body="hola")
            services.conversation_archive(conversation=conv, actor=services.SYSTEM if k % 2 == 0 else user)
        t = time.perf_counter()
        refreshed = reports_refresh(settle_seconds=0)
        result["refresh_ms_200_new_conversations"] = round((time.perf_counter() - t) * 1000, 1)
        result["refresh_events"] = refreshed["events"]
        today = stored_buckets()
        todays_keys = {k: v for k, v in today.items() if k[0] == timezone.localdate().toordinal()}
        print("checking today's buckets against a recomputation", file=sys.stderr)
        # Recompute only the newest conversations' buckets: every conversation of today is new here.
        recomputed, _, _ = full_recomputation_today()
        result["rollups_agree_today"] = todays_keys == recomputed

        result.update({
            "conversations_in_30_days": in_range,
            "dashboard_30d_p50_ms": round(statistics.median(plain), 1), "dashboard_30d_p95_ms": p95(plain),
            "dashboard_30d_filtered_p95_ms": p95(filtered), "api_agents_30d_p95_ms": p95(api),
            "indexed_count_30d_ms": round(statistics.median(count_ms), 1),
            "direct_log_scan_30d_ms": round(statistics.median(scan_ms), 1),
            "budget_ms": 500, "within_budget": p95(plain) <= 500,
        })
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            print(f"dropped {DB_NAME}", file=sys.stderr)
    for key in ("rows",):
        print(f"{key}: {result.get(key)}", file=sys.stderr)
    print(f"dashboard 30 days: p50 {result['dashboard_30d_p50_ms']} ms, p95 {result['dashboard_30d_p95_ms']} ms "
          f"(budget 500 ms) | one indexed COUNT: {result['indexed_count_30d_ms']} ms | "
          f"direct scan of the log for 3 figures: {result['direct_log_scan_30d_ms']} ms")
    print(json.dumps(result, default=str))


def full_recomputation_today():
    """Buckets for today's conversations only, computed from their logs (the bench's agreement check)."""
    from collections import defaultdict

    from django.utils import timezone

    from apps.conversations.models import Conversation
    from apps.reports.facts import Context, conversation_contrib
    from apps.reports.rollups import _accumulate, load_conversations

    ctx = Context()
    day = timezone.localdate()
    ids = [pk for pk, created in Conversation.objects.filter(created_at__gte=timezone.now() - timedelta(days=2))
           .values_list("id", "created_at") if timezone.localtime(created).date() == day]
    totals = defaultdict(lambda: defaultdict(int))
    for conv, events, messages in load_conversations(ids):
        _accumulate(totals, conversation_contrib(conv, events, messages, ctx))
    return {k: {n: v for n, v in c.items() if v} for k, c in totals.items()}, None, None


if __name__ == "__main__":
    main()
