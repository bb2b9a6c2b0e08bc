#!/usr/bin/env python
"""Fan-out benchmark: a customer's message reaching 200 agents' and the monitors' screens.

What it does, all on 127.0.0.1 in one run:

1. Prepares a database (a fresh SQLite file unless DATABASE_URL is set) with one department,
   ``--agents`` Collaborators in it and ``--monitors`` Operators, logged in through real sessions.
2. Starts the project's ASGI app under Daphne in a subprocess, with the channels-redis pub/sub
   layer on REDIS_URL (default redis://127.0.0.1:6379/6) and a per-run channel prefix.
3. Connects every agent and monitor to ``/ws/staff/`` (real websockets, session cookie, Origin)
   and one customer to ``/ws/widget/``; brings the customer's chat to "in progress" through the
   services.
4. The customer sends ``--messages`` messages through the widget socket. Each one is stored by
   ``services.message_receive`` and signalled after commit to the audience computed by
   ``access.conversation_audience``. Latency = customer send -> signal frame received by each
   staff socket ("message-to-screen signal latency").
5. Baseline in the same run: raw Redis publish/subscribe with the same fan-out (one subscriber
   connection per screen, one PUBLISH per screen per message) and the same pacing.
6. Reports p50/p95/max for both, the ratio of p95s (target <= 3x) and dropped signals (target 0),
   then prints ONE JSON line.

Usage: .venv/bin/python bench/fanout.py [--agents 200] [--monitors 5] [--messages 30]
                                             [--interval 0.5] [--server uvicorn|daphne]

Latency is measured below saturation (default: one customer message every 0.5 s, i.e. ~410
signal frames/s); with a shorter --interval the same run shows where the server saturates
(the p95 then measures queueing, not the path). Both Python ends share the machine's cores.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def log(msg: str) -> None:
    print(f"[fanout {time.strftime('%H:%M:%S', time.gmtime())}] {msg}", flush=True)


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[idx]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def configure_env(args, data_dir: Path) -> dict:
    env = dict(os.environ)
    env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/6")
    env["CHANNELS_PREFIX"] = f"fanout{os.getpid()}"
    env["ASISTE_DATA_DIR"] = str(data_dir)
    env["CELERY_TASK_ALWAYS_EAGER"] = "1"  # the agent turn and routing run inline; no worker needed
    env["WIDGET_MESSAGES_PER_MINUTE"] = "100000"  # the bench customer is not a flood
    env.setdefault("SECRET_KEY", "fanout-bench-only")
    env.setdefault("SECURE_SSL_REDIRECT", "0")
    env.setdefault("SESSION_COOKIE_SECURE", "0")
    env.setdefault("CSRF_COOKIE_SECURE", "0")
    env.setdefault("LOG_LEVEL", "WARNING")
    env["DJANGO_SETTINGS_MODULE"] = "asisteclick.settings"
    os.environ.update(env)
    return env


def prepare(args) -> dict:
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from apps.conversations.models import Channel
    from apps.departments.models import Department
    from apps.departments.services import membership_set
    from apps.roles.services import roles_ensure, user_set_role

    log("migrating the database...")
    call_command("migrate", verbosity=0)
    roles_ensure()
    tag = os.environ["CHANNELS_PREFIX"]
    dept = Department.objects.create(name=f"Bench {tag}", slug=f"bench-{tag}")
    channel = Channel.objects.create(name=f"Bench web {tag}", kind=Channel.Kind.WEBCHAT, default_department=dept,
                                     config={"public_key": f"key-{tag}"})
    User = get_user_model()
    log(f"creating {args.agents} agents and {args.monitors} monitors...")
    agents = User.objects.bulk_create([User(username=f"{tag}-agent{i}", first_name=f"Agent {i}")
                                       for i in range(args.agents)])
    monitors = User.objects.bulk_create([User(username=f"{tag}-op{i}", first_name=f"Operator {i}")
                                         for i in range(args.monitors)])
    agents = list(User.objects.filter(username__startswith=f"{tag}-agent").order_by("pk"))
    monitors = list(User.objects.filter(username__startswith=f"{tag}-op").order_by("pk"))
    for i, user in enumerate(agents):
        user_set_role(user=user, role="collaborator")
        membership_set(user=user, department=dept)
        if (i + 1) % 50 == 0:
            log(f"  memberships {i + 1}/{len(agents)}")
    for user in monitors:
        user_set_role(user=user, role="operator")
    sessions = {}
    for user in agents + monitors:
        s = SessionStore()
        s[SESSION_KEY] = str(user.pk)
        s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        s[HASH_SESSION_KEY] = user.get_session_auth_hash()
        s.create()
        sessions[user.pk] = s.session_key
    return {"dept": dept.pk, "channel": channel.pk, "key": channel.config["public_key"],
            "agents": [u.pk for u in agents], "monitors": [u.pk for u in monitors], "sessions": sessions}


def start_server(env: dict, port: int, server: str = "daphne") -> subprocess.Popen:
    if server == "uvicorn":
        cmd = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               "--no-access-log", "asisteclick.asgi:application"]
    else:
        cmd = [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "asisteclick.asgi:application"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("daphne exited: " + proc.stderr.read().decode()[-2000:])
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("daphne did not start within 60 s")


async def staff_client(url, origin, session_key, inbox: list, ready: asyncio.Event, stop: asyncio.Event):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async with connect(url, origin=origin, additional_headers={"Cookie": f"sessionid={session_key}"},
                       open_timeout=30, close_timeout=1, max_queue=None, compression=None) as ws:
        ready.set()
        closer = asyncio.create_task(_close_when(stop, ws))
        try:
            async for raw in ws:  # no per-frame timers: the client should cost as little as the baseline's
                inbox.append((time.perf_counter(), raw))
        except ConnectionClosed:
            pass
        finally:
            closer.cancel()


async def _close_when(stop: asyncio.Event, ws) -> None:
    await stop.wait()
    await ws.close()


def _message_signals(box, conv_id) -> list[float]:
    out = []
    for t, raw in box:
        data = json.loads(raw)
        if data.get("type") == "signal" and data.get("what") == "message" and data.get("conversation") == conv_id:
            out.append(t)
    return out


async def run_signals(args, setup: dict, port: int) -> dict:
    from asgiref.sync import sync_to_async
    from websockets.asyncio.client import connect

    origin = f"http://127.0.0.1:{port}"
    url = f"ws://127.0.0.1:{port}/ws/staff/"
    stop = asyncio.Event()
    users = setup["agents"] + setup["monitors"]
    inboxes = {uid: [] for uid in users}
    tasks, readies = [], []
    log(f"connecting {len(users)} staff websockets...")
    t0 = time.perf_counter()
    for batch_start in range(0, len(users), 50):
        batch = users[batch_start:batch_start + 50]
        events = []
        for uid in batch:
            ev = asyncio.Event()
            events.append(ev)
            tasks.append(asyncio.create_task(staff_client(url, origin, setup["sessions"][uid], inboxes[uid], ev, stop)))
        await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout=60)
        readies += events
        log(f"  connected {len(readies)}/{len(users)}")
    connect_s = time.perf_counter() - t0

    widget_url = f"ws://127.0.0.1:{port}/ws/widget/?key={setup['key']}"
    async with connect(widget_url, origin=origin, open_timeout=30, compression=None) as customer:
        async def expect(kind):
            while True:
                data = json.loads(await asyncio.wait_for(customer.recv(), timeout=30))
                if data.get("type") == kind:
                    return data

        await customer.send(json.dumps({"type": "hello", "name": "Bench customer"}))
        await expect("welcome")
        await customer.send(json.dumps({"type": "send", "body": "Necesito ayuda", "client_id": "open"}))
        ack = await expect("ack")

        def to_in_progress(message_id: int) -> int:
            from django.contrib.auth import get_user_model
            from django.db import connections

            from apps.conversations import services
            from apps.conversations.models import Message, Status

            try:
                conv = Message.objects.get(pk=message_id).conversation
                deadline = time.monotonic() + 20
                while conv.status != Status.UNASSIGNED and time.monotonic() < deadline:
                    time.sleep(0.05)  # the placeholder/real agent hands off, routing queues it
                    conv.refresh_from_db()
                agent = get_user_model().objects.get(pk=setup["agents"][0])
                if conv.status == Status.UNASSIGNED:
                    services.conversation_pickup(conversation=conv, user=agent)
                services.message_send_human(conversation=conv, user=agent, body="Hola, te ayudo")
                conv.refresh_from_db()
                assert conv.status == Status.IN_PROGRESS, conv.status
                return conv.pk
            finally:
                connections.close_all()

        conv_id = await sync_to_async(to_in_progress, thread_sensitive=False)(ack["id"])
        await asyncio.sleep(1.0)  # let the setup signals land, then start counting from zero
        for box in inboxes.values():
            box.clear()

        log(f"sending {args.messages} customer messages, one every {args.interval * 1000:.0f} ms...")
        sent_at = []
        for i in range(args.messages):
            sent_at.append(time.perf_counter())
            await customer.send(json.dumps({"type": "send", "body": f"mensaje {i}", "client_id": f"m{i}"}))
            await asyncio.sleep(args.interval)
            if (i + 1) % 10 == 0:
                log(f"  sent {i + 1}/{args.messages}")
        # Wait until every screen has every signal, or nothing arrived for 5 s (then it is a drop).
        expected = args.messages * len(users)
        last_total, last_change = -1, time.perf_counter()
        while time.perf_counter() - last_change < 5.0:
            total = sum(len(box) for box in inboxes.values())
            if total >= expected:
                break
            if total != last_total:
                last_total, last_change = total, time.perf_counter()
            await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    latencies, dropped, extra = [], 0, 0
    for uid, box in inboxes.items():
        got = _message_signals(box, conv_id)
        dropped += max(0, args.messages - len(got))
        extra += max(0, len(got) - args.messages)
        for i, t in enumerate(got[:args.messages]):
            latencies.append((t - sent_at[i]) * 1000)
    return {"latencies": latencies, "dropped": dropped, "duplicates": extra, "connect_s": connect_s,
            "screens": len(users)}


async def run_baseline(args, screens: int) -> dict:
    """Raw Redis pub/sub, same fan-out: one subscriber connection and one PUBLISH per screen."""
    import redis.asyncio as aioredis

    url = os.environ["REDIS_URL"]
    prefix = f"{os.environ['CHANNELS_PREFIX']}-raw"
    subs, readers = [], []
    received = [[] for _ in range(screens)]
    log(f"baseline: {screens} raw Redis subscribers...")
    for i in range(screens):
        client = aioredis.from_url(url)
        ps = client.pubsub()
        await ps.subscribe(f"{prefix}.{i}")
        await ps.get_message(timeout=1)  # the subscribe confirmation
        subs.append((client, ps))
    async def reader(i, ps):
        async for msg in ps.listen():
            if msg.get("type") == "message":
                received[i].append((time.perf_counter(), int(msg["data"])))

    readers = [asyncio.create_task(reader(i, ps)) for i, (_c, ps) in enumerate(subs)]
    pub = aioredis.from_url(url)
    await asyncio.sleep(0.5)
    sent_at = []
    for n in range(args.messages):
        sent_at.append(time.perf_counter())
        for i in range(screens):
            await pub.publish(f"{prefix}.{i}", str(n))
        await asyncio.sleep(args.interval)
    deadline = time.perf_counter() + 10
    while sum(len(b) for b in received) < args.messages * screens and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    latencies, dropped = [], 0
    for box in received:
        dropped += args.messages - len(box)
        latencies += [(t - sent_at[n]) * 1000 for t, n in box]
    for client, ps in subs:
        await ps.aclose()
        await client.aclose()
    await pub.aclose()
    return {"latencies": latencies, "dropped": dropped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--monitors", type=int, default=5)
    parser.add_argument("--messages", type=int, default=30)
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between customer messages")
    parser.add_argument("--server", choices=["daphne", "uvicorn"], default="uvicorn")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="asiste-fanout-"))
    env = configure_env(args, data_dir)
    backend = "postgresql" if os.environ.get("DATABASE_URL") else "sqlite"
    log(f"database: {backend}; redis: {os.environ['REDIS_URL']}; prefix {os.environ['CHANNELS_PREFIX']}")
    setup = prepare(args)
    port = free_port()
    log(f"starting {args.server} on 127.0.0.1:{port}...")
    server = start_server(env, port, args.server)
    try:
        sig = asyncio.run(run_signals(args, setup, port))
        base = asyncio.run(run_baseline(args, sig["screens"]))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data_dir, ignore_errors=True)

    s_p50, s_p95, s_max = pct(sig["latencies"], 50), pct(sig["latencies"], 95), max(sig["latencies"] or [float("nan")])
    b_p50, b_p95, b_max = pct(base["latencies"], 50), pct(base["latencies"], 95), max(base["latencies"] or [float("nan")])
    ratio = s_p95 / b_p95 if b_p95 else float("inf")
    log(f"signals: {len(sig['latencies'])} delivered to {sig['screens']} screens, dropped {sig['dropped']}, "
        f"duplicates {sig['duplicates']}; p50 {s_p50:.1f} ms, p95 {s_p95:.1f} ms, max {s_max:.1f} ms")
    log(f"raw redis pub/sub: {len(base['latencies'])} delivered, dropped {base['dropped']}; "
        f"p50 {b_p50:.1f} ms, p95 {b_p95:.1f} ms, max {b_max:.1f} ms")
    log(f"p95 ratio {ratio:.2f}x (target <= 3x); mean signal latency {statistics.fmean(sig['latencies'] or [0]):.1f} ms")
    print(json.dumps({
        "bench": "fanout", "database": backend, "layer": "channels_redis.pubsub", "server": args.server,
        "agents": args.agents, "monitors": args.monitors, "screens": sig["screens"], "messages": args.messages,
        "interval_ms": round(args.interval * 1000), "connect_s": round(sig["connect_s"], 2),
        "signal_p50_ms": round(s_p50, 2), "signal_p95_ms": round(s_p95, 2), "signal_max_ms": round(s_max, 2),
        "redis_p50_ms": round(b_p50, 2), "redis_p95_ms": round(b_p95, 2), "redis_max_ms": round(b_max, 2),
        "p95_ratio": round(ratio, 2), "target_ratio": 3.0, "ratio_ok": ratio <= 3.0,
        "delivered": len(sig["latencies"]), "dropped": sig["dropped"], "duplicates": sig["duplicates"],
        "redis_dropped": base["dropped"],
    }))


if __name__ == "__main__":
    main()
