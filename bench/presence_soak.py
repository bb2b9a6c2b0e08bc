#!/usr/bin/env python3
"""Thirty minutes of the demo with people logging in and out, on a simulated clock.

    /work/main/.venv/bin/python bench/presence_soak.py [--minutes 30] [--seed 16] [--start 17:40]

What it does, on a fresh SQLite database of its own (the embedded demo's database; deleted at the
end unless --keep):

* seeds the FibraSur demo (departments, people, 120 historical chats, routing set-up) with the
  clock set to --start (local time, on a Wednesday): by default 17:40, so Sales, Collections and
  Cancellations close at 18:00 in the middle of the run and their backup, Customer Service, has
  nobody on shift (its people work nights): the situation of issue 16;
* replaces ``django.utils.timezone.now`` with the simulated clock, so every service, the eager
  Celery tasks (route, agent available) and the sweep run on it; ticks every 15 s;
* customers arrive (about one every 40 s, to every department, handed off by the AI Agent); the
  people work (reply, archive, pick up from the manual queue); an explorer logs in and out as
  random people: signs in (online, a tab), closes tabs, reopens them, has network blips of 30 s to
  4 min, sets away or offline, signs in as a night-shift person outside their shift;
* at 22:00 (when the run covers it) the night shift signs in;
* checks after every step: each chat routing moved to another department (out of hours, the
  pick-up ladder) had someone online there; each blip shorter than the grace period kept the
  person's chats.

Baseline, measured in the same run: the moves the previous rules would have made into a department
with nobody online (every step where the backup was wanted and could not take the chat), and the
chats the previous 90-second offline grace would have reclaimed during the blips.

Targets: moves_to_department_without_online_agents == 0; chats_lost_in_short_blips == 0.
Ends with one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self, start: datetime):
        self.t = start

    def now(self) -> datetime:
        return self.t


def setup(db_path: str):
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    os.environ["SQLITE_PATH"] = db_path
    os.environ["ROUTING_INPROCESS_SWEEP"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--minutes", type=int, default=30)
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--start", default="17:40", help="local start time (HH:MM) on a Wednesday")
    ap.add_argument("--tick", type=int, default=15, help="seconds between sweeps")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="presence-soak-")
    db_path = str(Path(tmp) / "soak.sqlite3")
    t0 = time.perf_counter()
    setup(db_path)

    from zoneinfo import ZoneInfo

    from django.conf import settings
    from django.utils import timezone as dj_tz

    hh, mm = (int(x) for x in args.start.split(":"))
    start = datetime(2026, 11, 25, hh, mm, tzinfo=ZoneInfo(settings.TIME_ZONE))  # a Wednesday
    clock = Clock(start)
    dj_tz.now = clock.now  # every service, task and the sweep read the simulated clock from here on

    from django.contrib.auth import get_user_model

    from apps.conversations import services as conv
    from apps.conversations.models import Contact, Conversation, ConversationEvent, Message, Status
    from apps.conversations.demo import seed_core
    from apps.core.errors import DomainError
    from apps.departments.models import Department, Membership
    from apps.routing import demo as routing_demo
    from apps.routing import services as rs
    from apps.routing.models import AgentPresence, Notification, Presence
    from apps.routing.schedules import agent_in_shift
    from apps.routing.selectors import line
    from apps.routing.sweep import sweep

    rng = random.Random(args.seed)
    seed_core(None, conversations=120)
    routing_demo._seed(None)
    routing_demo.day_shift_online()
    print(f"seeded in {time.perf_counter() - t0:.1f}s; simulating {args.minutes} min from {start:%a %H:%M %Z}",
          flush=True)

    User = get_user_model()
    people = {u.username: u for u in User.objects.filter(username__in=list(routing_demo.PEOPLE))}
    depts = {d.slug: d for d in Department.objects.all()}
    weights = {"technical-support": 4, "customer-service": 3, "sales": 2, "collections": 1, "cancellations": 1}
    from apps.conversations.models import Channel

    channels = list(Channel.objects.filter(is_active=True))
    contacts = list(Contact.objects.values_list("pk", flat=True)[:2000])
    grace = rs.away_grace()
    old_grace = timedelta(seconds=90)  # the previous rule: offline (and chats reclaimed) 90 s after the last tab

    def online_in(dept_id: int) -> int:
        members = Membership.objects.filter(department_id=dept_id, can_handle=True).values("user_id")
        rows = AgentPresence.objects.filter(user_id__in=members, status=Presence.ONLINE).prefetch_related("shifts")
        return sum(1 for p in rows if agent_in_shift(p, clock.t, list(p.shifts.all())))

    stats = {"arrivals": 0, "explorer_actions": 0, "blips": 0, "blips_short": 0, "chats_lost_in_short_blips": 0,
             "baseline_chats_reclaimed_by_90s_grace": 0, "replies": 0, "archived": 0, "picked_up": 0,
             "moves_checked": 0, "moves_to_department_without_online_agents": 0}
    violations: list[dict] = []
    blips: list[dict] = []  # pending reconnects
    last_event = ConversationEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    cs = depts["customer-service"]
    cs_queue_start = Conversation.objects.filter(department=cs, status=Status.UNASSIGNED).count()
    max_cs_queue = cs_queue_start

    def check_moves() -> None:
        nonlocal last_event
        new = list(ConversationEvent.objects.filter(pk__gt=last_event, kind="transferred", actor_kind="system")
                   .values("pk", "conversation_id", "to_department_id"))
        for ev in new:
            stats["moves_checked"] += 1
            if online_in(ev["to_department_id"]) == 0:
                stats["moves_to_department_without_online_agents"] += 1
                violations.append({"conversation": ev["conversation_id"], "to": ev["to_department_id"],
                                   "at": clock.t.isoformat()})
        last_event = ConversationEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or last_event

    def held(user) -> set[int]:
        return set(Conversation.objects.filter(assignee=user, status__in=[Status.ASSIGNED, Status.IN_PROGRESS])
                   .values_list("pk", flat=True))

    def explorer() -> None:
        stats["explorer_actions"] += 1
        user = people[rng.choice(sorted(people))]
        action = rng.choices(["sign_in", "close_tab", "reopen", "blip", "away", "offline"],
                             weights=[4, 3, 2, 4, 1, 1])[0]
        p = rs.presence_for(user)
        if action == "sign_in":
            rs.presence_set(user=user, status=Presence.ONLINE, reason="login")
            rs.presence_connected(user.pk)
        elif action == "close_tab" and p.connections:
            rs.presence_disconnected(user.pk)
        elif action == "reopen":
            rs.presence_connected(user.pk)
        elif action == "blip" and p.status == Presence.ONLINE:
            if not p.connections:
                rs.presence_connected(user.pk)
            rs.presence_disconnected(user.pk)
            length = timedelta(seconds=rng.randint(30, 240))
            blips.append({"user": user, "since": clock.t, "until": clock.t + length, "length": length,
                          "held": held(user)})
            stats["blips"] += 1
        elif action == "away":
            rs.presence_set(user=user, status=Presence.AWAY)
        elif action == "offline":
            rs.presence_set(user=user, status=Presence.OFFLINE)

    def end_blips() -> None:
        for b in [b for b in blips if b["until"] <= clock.t]:
            blips.remove(b)
            rs.presence_connected(b["user"].pk)
            if b["length"] < grace:
                # Taken from them because of presence (archives and reply timers are not the blip's doing).
                stats["blips_short"] += 1
                stats["chats_lost_in_short_blips"] += ConversationEvent.objects.filter(
                    kind="requeued", conversation_id__in=b["held"], created_at__gte=b["since"],
                    created_at__lte=clock.t, payload__why__in=["offline", "disconnected", "end_of_shift"]).count()
            if b["length"] >= old_grace:
                stats["baseline_chats_reclaimed_by_90s_grace"] += len(b["held"])

    night = [people[n] for n in people if n.startswith("night.")]
    night_starts = start.replace(hour=22, minute=0)

    def shift_change() -> None:
        """22:00: the night shift signs in (online, a tab open)."""
        for user in night:
            rs.presence_set(user=user, status=Presence.ONLINE, reason="login")
            rs.presence_connected(user.pk)

    def arrive() -> None:
        slug = rng.choices(list(weights), weights=list(weights.values()))[0]
        contact = Contact.objects.get(pk=rng.choice(contacts))
        c = conv.conversation_start(contact=contact, channel=rng.choice(channels), language=contact.language or "es")
        Message.objects.create(conversation=c, author_kind="customer", body="Necesito ayuda", channel=c.channel)
        conv.conversation_escalate(conversation=c, department=depts[slug], trigger="explicit_request",
                                   summary="Necesito ayuda")  # the route task runs on commit, on this clock
        stats["arrivals"] += 1

    def work() -> None:
        for user in people.values():
            p = AgentPresence.objects.filter(pk=user.pk).first()
            if p is None or p.status != Presence.ONLINE:
                continue
            mine = list(Conversation.objects.filter(assignee=user, status__in=[Status.ASSIGNED, Status.IN_PROGRESS]))
            fresh = [c for c in mine if c.status == Status.ASSIGNED]
            if fresh and rng.random() < 0.35:
                try:
                    conv.message_send_human(conversation=fresh[0].pk, user=user, body="Hola, ya te ayudo.")
                    stats["replies"] += 1
                except DomainError:  # e.g. a seeded WhatsApp chat past its 24-hour window: resolve it instead
                    conv.conversation_archive(conversation=fresh[0].pk, actor=user)
                    stats["archived"] += 1
            going = [c for c in mine if c.status == Status.IN_PROGRESS]
            if going and rng.random() < 0.12:
                conv.conversation_archive(conversation=rng.choice(going).pk, actor=user)
                stats["archived"] += 1
            if user.username == "javier" and rng.random() < 0.2:  # Collections is manual: he picks up
                first = line(depts["collections"].pk).first()  # next in line, as routing would take it
                if first is not None:
                    conv.conversation_pickup(conversation=first.pk, user=user)
                    stats["picked_up"] += 1

    ticks = args.minutes * 60 // args.tick
    next_explore = clock.t + timedelta(seconds=rng.randint(30, 90))
    wall = time.perf_counter()
    sweep(now=clock.t)
    check_moves()
    for i in range(1, ticks + 1):
        clock.t = start + timedelta(seconds=i * args.tick)
        for _ in range(sum(1 for _ in range(4) if rng.random() < args.tick / 40 / 4)):  # ~one per 40 s
            arrive()
            check_moves()
        end_blips()
        if clock.t - timedelta(seconds=args.tick) < night_starts <= clock.t:
            shift_change()
        if clock.t >= next_explore:
            explorer()
            next_explore = clock.t + timedelta(seconds=rng.randint(30, 120))
        work()
        check_moves()
        sweep(now=clock.t)
        check_moves()
        max_cs_queue = max(max_cs_queue, Conversation.objects.filter(department=cs, status=Status.UNASSIGNED).count())
        if i % (300 // args.tick) == 0:
            print(f"  {clock.t:%H:%M} arrivals={stats['arrivals']} moves={stats['moves_checked']} "
                  f"to_empty={stats['moves_to_department_without_online_agents']} "
                  f"blips={stats['blips']} queue(CS)={Conversation.objects.filter(department=cs, status=Status.UNASSIGNED).count()}",
                  flush=True)

    escalations = ConversationEvent.objects.filter(kind="escalation", created_at__gte=start)
    baseline_moves = (escalations.filter(reason="out_of_hours", payload__backup_unavailable__isnull=False).count()
                      + sum(1 for a in escalations.filter(reason="pickup_overdue").values_list("payload", flat=True)
                            if "backup_unavailable" in (a or {}).get("actions", [])))
    notices = Message.objects.filter(author_kind="system", created_at__gte=start)
    result = {
        "bench": "routing.presence_soak", "simulated_minutes": args.minutes, "start_local": start.strftime("%a %H:%M"),
        "tick_s": args.tick, "seed": args.seed, **stats,
        "baseline_moves_old_rules_would_make_to_empty_departments": baseline_moves,
        "moved_to_backup": ConversationEvent.objects.filter(kind="transferred", actor_kind="system",
                                                            created_at__gte=start).count(),
        "reclaimed": dict(sorted({why: ConversationEvent.objects.filter(kind="requeued", created_at__gte=start,
                                                                         payload__why=why).count()
                                  for why in ("offline", "disconnected", "end_of_shift")}.items())),
        "customer_notices": {k: notices.filter(meta__routing=k).count()
                             for k in ("waiting", "unavailable", "closed", "assigned")},
        "operator_notifications": Notification.objects.filter(created_at__gte=start).count(),
        "cs_queue_start": cs_queue_start, "cs_queue_max": max_cs_queue,
        "cs_queue_end": Conversation.objects.filter(department=cs, status=Status.UNASSIGNED).count(),
        "violations": violations[:5],
        "ok": stats["moves_to_department_without_online_agents"] == 0 and stats["chats_lost_in_short_blips"] == 0,
        "wall_s": round(time.perf_counter() - wall, 1), "cpu_count": os.cpu_count(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    if not args.keep:
        from django.db import connections

        connections.close_all()
        for f in Path(tmp).glob("*"):
            f.unlink()
        os.rmdir(tmp)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
