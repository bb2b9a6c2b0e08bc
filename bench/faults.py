#!/usr/bin/env python
"""Faults and bursts on the production topology, started by this script, on 127.0.0.1.

It starts (and only ever kills) its own processes: a fresh PostgreSQL database on the local
server, Redis (one db, flushed), a chromadb server (`chroma run`), 2 daphne, 2 Celery workers
(`-Q default,agent` and `-Q routing,default,housekeeping,outbound`, taken in that order), beat, and a local stand-in for
the WhatsApp Graph API speaking its wire format (it answers 500 to 3% of first attempts). Then:

1. ``--customers`` web-chat customers (real widget websockets) send ``--messages`` messages each,
   and ``--webhooks`` signed WhatsApp webhooks (10% sent twice, as Meta does) are posted, all
   spread over both daphne processes; a refused or failed request is retried as a provider would.
2. Mid-load: a knowledge-base document is uploaded (ingested by a worker), the agent worker is
   killed with SIGKILL and restarted, then one daphne is killed with SIGKILL and restarted.
3. A burst: ``--burst`` more webhooks (new messages, on top of ``--webhooks``) at concurrency 24.
   Once the AI Agent's queue holds ``--queued-turns`` bot turns (its Redis list, sampled; at most
   ``--queue-wait`` seconds), ``--handoffs`` chats are handed off; we time each handoff until
   routing queued it, and report the queue depth seen at every handoff (min, median, max).
4. After the upload, copilot searches on both web processes (their errors are counted).
5. It waits until everything drained (or ``--drain-timeout``), then measures from the database,
   the stand-in's log and the PostgreSQL connection sampler, and prints ONE JSON line.

Usage (2-core machine: scale down with --scale; the JSON says what ran):
  /work/main/.venv/bin/python bench/faults.py [--scale 1.0] [--db-pool-max 4] [--redis-db 8] \
      [--burst 1000] [--queued-turns 1000]
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench._common import percentile  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
WA_SECRET = "faults-app-secret"
PHONE_ID = "5550100200300"
T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[faults +{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the WhatsApp Graph API stand-in -----------------------------------------------------------

class GraphStandIn:
    """POST /v21.0/{phone_number_id}/messages as the Cloud API answers it. Logs every accepted send
    by its idempotency key (``biz_opaque_callback_data``), so duplicates are counted."""

    def __init__(self, fail_rate: float = 0.03):
        self.accepted: dict[str, list[str]] = {}  # key -> provider ids it was accepted under
        self.failed_first: set[str] = set()
        self.lock = threading.Lock()
        self.count = 0
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = json.loads(raw or b"{}")
                key = body.get("biz_opaque_callback_data") or ""
                with stand_in.lock:
                    first = key not in stand_in.accepted and key not in stand_in.failed_first
                    if first and random.random() < fail_rate:
                        stand_in.failed_first.add(key)
                        code, out = 500, {"error": {"message": "An unknown error occurred", "code": 1,
                                                    "type": "OAuthException"}}
                    else:
                        stand_in.count += 1
                        wamid = f"wamid.out.{stand_in.count}"
                        stand_in.accepted.setdefault(key, []).append(wamid)
                        code, out = 200, {"messaging_product": "whatsapp",
                                          "contacts": [{"input": body.get("to"), "wa_id": body.get("to")}],
                                          "messages": [{"id": wamid}]}
                data = json.dumps(out).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


# --- processes -----------------------------------------------------------------------------------

class Topology:
    def __init__(self, env: dict, workdir: Path):
        self.env, self.workdir = env, workdir
        self.procs: dict[str, subprocess.Popen] = {}
        self.specs: dict[str, list[str]] = {}
        self.ports: dict[str, int] = {}

    def start(self, name: str, cmd: list[str]) -> None:
        self.specs[name] = cmd
        out = open(self.workdir / f"{name}.log", "ab")
        # Own session: a SIGKILL of the group takes a worker's children with it (as a crash would).
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def kill9(self, name: str) -> None:
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def restart(self, name: str) -> None:
        self.start(name, self.specs[name])

    def stop_all(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def wait_port(self, port: int, name: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise SystemExit(f"{name} exited; see {self.workdir / (name + '.log')}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{name} did not listen on {port}")


def daphne_cmd(port: int) -> list[str]:
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "asisteclick.asgi:application"]


def worker_cmd(name: str, queues: str, concurrency: int) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "asisteclick", "worker", "-l", "warning", "-Q", queues,
            "-c", str(concurrency), "-n", f"{name}@faults", "--without-gossip", "--without-mingle"]


# --- PostgreSQL connection sampler --------------------------------------------------------------

class ConnectionSampler(threading.Thread):
    def __init__(self, dbname: str):
        super().__init__(daemon=True)
        self.dbname, self.peak, self.samples, self.stop = dbname, 0, 0, threading.Event()

    def run(self):
        import psycopg

        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            while not self.stop.is_set():
                n = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                                 [self.dbname]).fetchone()[0]
                self.peak, self.samples = max(self.peak, n), self.samples + 1
                time.sleep(0.1)


# --- load ---------------------------------------------------------------------------------------

class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.status: dict[int, int] = {}
        self.conn_errors = 0

    def add(self, code: int) -> None:
        with self.lock:
            self.status[code] = self.status.get(code, 0) + 1


def wa_body(i: int, wa_id: str) -> bytes:
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "1029384756", "changes": [{
        "field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5491100000000", "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": f"Cliente {wa_id[-4:]}"}, "wa_id": wa_id}],
            "messages": [{"from": wa_id, "id": f"wamid.in.{i}", "timestamp": str(int(time.time())), "type": "text",
                          "text": {"body": f"Hola, no me anda internet (wa {i})"}}]}}]}]},
        separators=(",", ":")).encode()


def post_webhook(client, ports: list[int], raw: bytes, counters: Counters, attempt_limit: int = 40) -> bool:
    """Post until a 200, as Meta does (it retries any non-200 and connection failures)."""
    sig = "sha256=" + hmac.new(WA_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    for attempt in range(attempt_limit):
        port = ports[(hash(raw) + attempt) % len(ports)]
        try:
            resp = client.post(f"http://127.0.0.1:{port}/webhooks/whatsapp/", content=raw, timeout=30,
                               headers={"Content-Type": "application/json", "X-Hub-Signature-256": sig})
            counters.add(resp.status_code)
            if resp.status_code == 200:
                return True
        except Exception:  # noqa: BLE001 (a killed web process: retry elsewhere)
            with counters.lock:
                counters.conn_errors += 1
        time.sleep(min(0.2 * 2 ** attempt, 3))
    return False


def widget_customer(idx: int, ports: list[int], key: str, messages: int, acked: list, counters: Counters,
                    stop: threading.Event) -> None:
    """One web-chat customer: hello, then each message until its ack; reconnects (same token) and
    re-sends the same client id after a dropped socket (the widget does; the server dedupes)."""
    from websockets.sync.client import connect

    token, sent = None, 0
    attempt = 0
    while sent < messages and not stop.is_set() and attempt < 60:
        port = ports[(idx + attempt) % len(ports)]
        try:
            with connect(f"ws://127.0.0.1:{port}/ws/widget/?key={key}", origin=f"http://127.0.0.1:{port}",
                         open_timeout=20, close_timeout=2) as ws:
                ws.send(json.dumps({"type": "hello", "name": f"Web {idx}", "token": token, "language": "es"}))
                while True:
                    data = json.loads(ws.recv(timeout=30))
                    if data.get("type") == "welcome":
                        token = data["token"]
                        break
                    if data.get("type") == "error":
                        raise RuntimeError(data)
                while sent < messages:
                    time.sleep(random.uniform(2, 10))  # a customer typing: spans the fault window
                    cid = f"c{idx}m{sent}"
                    ws.send(json.dumps({"type": "send", "body": f"Consulta {sent} del cliente web {idx}",
                                        "client_id": cid}))
                    while True:
                        data = json.loads(ws.recv(timeout=60))
                        if data.get("type") == "ack" and data.get("client_id") == cid:
                            acked.append((idx, sent, data["id"]))
                            sent += 1
                            break
                        if data.get("type") == "error" and data.get("client_id") == cid:
                            counters.add(-1)
                            raise RuntimeError(data)
        except Exception:  # noqa: BLE001 (killed web process, timeout: reconnect and re-send)
            with counters.lock:
                counters.conn_errors += 1
            attempt += 1
            time.sleep(min(0.5 * attempt, 3))


def main() -> None:  # noqa: C901 (a script: one straight story)
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count below")
    parser.add_argument("--customers", type=int, default=150)
    parser.add_argument("--messages", type=int, default=3)
    parser.add_argument("--webhooks", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=1000,
                        help="webhooks posted as the burst, after (and on top of) the steady --webhooks")
    parser.add_argument("--queued-turns", type=int, default=1000,
                        help="hand off only once the AI Agent's queue holds this many turns (scaled)")
    parser.add_argument("--queue-wait", type=float, default=180,
                        help="seconds to wait for --queued-turns before handing off anyway (the JSON says)")
    parser.add_argument("--handoffs", type=int, default=30)
    parser.add_argument("--db-pool-max", type=int, default=4)
    parser.add_argument("--redis-db", type=int, default=8)
    parser.add_argument("--database", default="asiste_faults_bench")
    parser.add_argument("--drain-timeout", type=float, default=420)
    args = parser.parse_args()
    customers = max(2, int(args.customers * args.scale))
    webhooks = max(10, int(args.webhooks * args.scale))
    burst = int(args.burst * args.scale)
    queued_target = int(args.queued_turns * args.scale)
    handoffs = max(3, int(args.handoffs * args.scale))

    workdir = Path(tempfile.mkdtemp(prefix="asiste-faults-"))
    db_url = f"{PG}/{args.database}"
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    chroma_port, graph = free_port(), GraphStandIn()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "CELERY"))}
    env.update({
        "DATABASE_URL": db_url, "REDIS_URL": redis_url, "CHROMA_URL": f"http://127.0.0.1:{chroma_port}",
        "SECRET_KEY": "faults-bench-secret", "SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0", "STATIC_MANIFEST": "0", "LOG_LEVEL": "WARNING", "DB_POOL_MAX": str(args.db_pool_max),
        "DB_POOL_TIMEOUT": "10", "ASISTE_DATA_DIR": str(workdir / "var"), "MEDIA_ROOT": str(workdir / "media"),
        "BENCH_WA_SECRET": WA_SECRET, "BENCH_WA_TOKEN": "EAAG-bench", "WIDGET_HELLOS_PER_MINUTE": "100000",
        "WIDGET_MESSAGES_PER_MINUTE": "1000", "OUTBOUND_SWEEP_SECONDS": "5", "OUTBOUND_RETRY_BASE_SECONDS": "2",
        "ROUTING_SWEEP_SECONDS": "5", "CHANNELS_PREFIX": f"faults{os.getpid()}", "PYTHONUNBUFFERED": "1",
    })
    os.environ.update(env)
    log(f"workdir {workdir}; database {args.database}; redis db {args.redis_db}; "
        f"{customers} web customers x {args.messages}, {webhooks} webhooks + a burst of {burst}, {handoffs} handoffs once {queued_target} turns are queued")
    subprocess.run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)"],
                   check=True, capture_output=True)
    subprocess.run(["psql", f"{PG}/postgres", "-qc", f"CREATE DATABASE {args.database}"], check=True,
                   capture_output=True)
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    log("migrating the fresh database...")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
    import django

    django.setup()
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection
    from django.utils import timezone

    from apps.conversations import services
    from apps.conversations.models import Channel, Conversation, ConversationEvent, Message
    from apps.integrations.models import InboundWebhook, OutboundClaim
    from apps.knowledge.models import Document
    from tests.factories import make_cast

    cast = make_cast()
    Channel.objects.filter(pk=cast.channel.pk).update(config={"public_key": "faults-key", "allowed_origins": ["*"]})
    wa = Channel.objects.create(name="WhatsApp", kind=Channel.Kind.WHATSAPP, default_department=cast.default,
                                config={"phone_number_id": PHONE_ID, "app_secret_env": "BENCH_WA_SECRET",
                                        "access_token_env": "BENCH_WA_TOKEN", "graph_base_url": graph.url + "/v21.0"})
    from apps.copilot.models import CopilotSettings

    CopilotSettings.objects.create(department=cast.dept_a, enabled=True)  # the handoffs go there
    session = SessionStore()
    session["_auth_user_id"] = str(cast.operator.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = cast.operator.get_session_auth_hash()
    session.create()
    connection.close()

    topo = Topology(env, workdir)
    sampler = ConnectionSampler(args.database)
    ports = [free_port(), free_port()]
    try:
        topo.start("chroma", [str(Path(sys.executable).with_name("chroma")), "run", "--host", "127.0.0.1", "--port",
                              str(chroma_port), "--path", str(workdir / "chroma")])
        topo.wait_port(chroma_port, "chroma")
        for i, port in enumerate(ports):
            topo.start(f"daphne{i + 1}", daphne_cmd(port))
        topo.start("worker_agent", worker_cmd("agent", "default,agent", 2))
        topo.start("worker_ops", worker_cmd("ops", "routing,default,housekeeping,outbound", 2))
        topo.start("beat", [sys.executable, "-m", "celery", "-A", "asisteclick", "beat", "-l", "warning",
                            "--schedule", str(workdir / "beat-schedule")])
        for i, port in enumerate(ports):
            topo.wait_port(port, f"daphne{i + 1}")
        log(f"topology up: daphne on {ports}, 2 workers, beat, chroma on {chroma_port}, Graph stand-in {graph.url}")
        # Process count for the connection bound: 2 daphne + 2 worker parents + 4 children + beat,
        # each at most DB_POOL_MAX; plus this script (its own pool) and the sampler.
        bound = (2 + 2 + 4 + 1) * args.db_pool_max + args.db_pool_max + 1
        sampler.start()
        time.sleep(8)  # workers warm up their embedding model

        counters, acked = Counters(), []
        stop = threading.Event()
        import httpx

        rng = random.Random(7)
        total = webhooks + burst
        wa_ids = [f"54911{5000000 + n:07d}" for n in range(max(5, total // 3))]
        bodies = [wa_body(i, wa_ids[i % len(wa_ids)]) for i in range(total)]
        steady = bodies[:webhooks]
        dups = [b for b in bodies if rng.random() < 0.10]
        steady_set = set(steady)
        steady_plan = steady + [b for b in dups if b in steady_set]  # a duplicate comes in its original's phase
        rng.shuffle(steady_plan)
        burst_plan = bodies[webhooks:] + [b for b in dups if b not in steady_set]
        rng.shuffle(burst_plan)
        wa_ok = []

        def send_all(plan, concurrency, seconds=0.0):
            """Post ``plan`` at ``concurrency``; spread over ``seconds`` (0: as fast as it goes)."""
            with httpx.Client() as client, ThreadPoolExecutor(concurrency) as pool:
                futures = []
                for raw in plan:
                    futures.append(pool.submit(post_webhook, client, ports, raw, counters))
                    if seconds:
                        time.sleep(seconds / len(plan))
                wa_ok.extend(f.result() for f in futures)

        events: dict[str, float] = {}

        def faults():
            time.sleep(6)
            log("KB upload (a worker ingests it)")
            from apps.knowledge import services as kb
            from apps.knowledge.tasks import document_ingest

            doc = kb.document_create(title="Reinicio del módem", filename="modem.md", data=(
                "# Reinicio del módem\nDesenchufá el módem 30 segundos y volvé a enchufarlo.\n\n"
                "# Luces\nSi la luz LOS está roja, hay un corte en la fibra: pedí una visita técnica.\n").encode())
            document_ingest.delay(doc.pk)
            events["upload"] = time.monotonic()
            connection.close()
            time.sleep(4)
            log("kill -9 the agent worker")
            topo.kill9("worker_agent")
            time.sleep(4)
            topo.restart("worker_agent")
            log("agent worker restarted")
            time.sleep(6)
            log("kill -9 daphne2")
            topo.kill9("daphne2")
            time.sleep(4)
            topo.restart("daphne2")
            topo.wait_port(ports[1], "daphne2")
            log("daphne2 restarted")

        fault_thread = threading.Thread(target=faults)
        fault_thread.start()
        widget_threads = [threading.Thread(target=widget_customer, args=(i, ports, "faults-key", args.messages,
                                                                        acked, counters, stop), daemon=True)
                          for i in range(customers)]
        for t in widget_threads:
            t.start()
            time.sleep(0.05)
        log(f"steady load: {len(steady_plan)} webhooks at concurrency 8 + {customers} web customers")
        # Spread over the fault window, so the kills hit live traffic.
        steady_thread = threading.Thread(target=send_all, args=(steady_plan, 8, 30.0))
        steady_thread.start()
        steady_thread.join()
        fault_thread.join()

        log(f"burst: {len(burst_plan)} webhooks at concurrency 24; {handoffs} handoffs once "
            f"{queued_target} turns are queued")
        burst_thread = threading.Thread(target=send_all, args=(burst_plan, 24))
        burst_thread.start()
        rclient = redis.Redis.from_url(redis_url)
        handoff_ids, depths = [], []
        waited_from, depth_peak = time.monotonic(), 0
        while time.monotonic() - waited_from < args.queue_wait:
            depth_peak = max(depth_peak, rclient.llen("agent"))
            if depth_peak >= queued_target:
                break
            time.sleep(0.5)
        log(f"agent queue holds {rclient.llen('agent')} turns after {time.monotonic() - waited_from:.0f}s "
            f"(peak {depth_peak}, target {queued_target}): handing off")
        candidates = list(Conversation.objects.filter(status="bot", channel=cast.channel)
                          .values_list("pk", flat=True)[:handoffs])
        for pk in candidates:
            depths.append(rclient.llen("agent"))
            try:
                services.conversation_escalate(conversation=pk, department=cast.dept_a, trigger="explicit_request",
                                               summary="bench handoff")
                handoff_ids.append(pk)
            except Exception as exc:  # noqa: BLE001 (the agent handed it off meanwhile)
                log(f"  handoff of {pk} skipped: {type(exc).__name__}")
            time.sleep(0.3)
        connection.close()
        burst_thread.join()
        for t in widget_threads:
            t.join(timeout=120)
        stop.set()

        # Copilot search after the upload, on both web processes.
        search_errors, searches = 0, 0
        deadline = time.monotonic() + 120
        while Document.objects.filter(status="ready").count() < 1 and time.monotonic() < deadline:
            time.sleep(1)
        conv_for_search = handoff_ids[0] if handoff_ids else Conversation.objects.values_list("pk", flat=True).first()
        with httpx.Client(cookies={"sessionid": session.session_key}) as client:
            for i in range(20):
                port = ports[i % 2]
                searches += 1
                try:
                    resp = client.get(f"http://127.0.0.1:{port}/copilot/conversations/{conv_for_search}/search/",
                                      params={"q": "la luz LOS está roja"}, timeout=30)
                    if resp.status_code != 200 or "LOS" not in resp.text:
                        search_errors += 1
                        if search_errors <= 2:
                            log(f"  search on {port}: HTTP {resp.status_code} {resp.text[:300]!r}")
                except Exception as exc:  # noqa: BLE001
                    search_errors += 1
                    log(f"  search on {port} failed: {exc}")

        # Drain.
        log("draining...")
        deadline = time.monotonic() + args.drain_timeout
        while True:
            unprocessed = InboundWebhook.objects.filter(processed_at__isnull=True).count()
            unfinished = OutboundClaim.objects.filter(finished_at__isnull=True).count()
            waiting = _unanswered(Conversation, Message, ConversationEvent)
            queues = {q: rclient.llen(q) for q in ("agent", "default", "routing", "outbound", "housekeeping")}
            log(f"  inbound unprocessed {unprocessed}, bot turns unanswered {waiting}, outbound unfinished "
                f"{unfinished}, queues {queues}, pg connections peak {sampler.peak}")
            connection.close()
            if (not unprocessed and not unfinished and not waiting) or time.monotonic() > deadline:
                break
            time.sleep(5)

        # --- figures ---
        unique_ids = {json.loads(b)["entry"][0]["changes"][0]["value"]["messages"][0]["id"] for b in bodies}
        stored_wa = list(Message.objects.filter(channel=wa, author_kind="customer").values_list("external_id", flat=True))
        acked_ids = {a[2] for a in acked}
        stored_widget = set(Message.objects.filter(pk__in=acked_ids).values_list("pk", flat=True))
        widget_bodies = list(Message.objects.filter(channel=cast.channel, author_kind="customer")
                             .values_list("body", "conversation__contact_id"))
        inbound_lost = len(unique_ids - set(stored_wa)) + len(acked_ids - stored_widget) \
            + (customers * args.messages - len(acked))
        inbound_dup = (len(stored_wa) - len(set(stored_wa))) + (len(widget_bodies) - len(set(widget_bodies)))
        expected = list(OutboundClaim.objects.filter(message__channel=wa).values_list("idempotency_key", "message__external_id"))
        sent_keys = {k for k, ids in graph.accepted.items() if ids}
        outbound_lost = sum(1 for key, _ext in expected if key not in sent_keys)
        outbound_dup = sum(1 for ids in graph.accepted.values() if len(ids) > 1)
        from django.db.models import Count, Sum

        outbound_sends = OutboundClaim.objects.count()
        outbound_tasks = OutboundClaim.objects.aggregate(n=Sum("enqueues"))["n"] or 0

        max_open = (Conversation.objects.exclude(status="archived").values("contact_id", "channel_id")
                    .annotate(n=Count("id")).order_by("-n").values_list("n", flat=True).first() or 0)
        route_s = []
        for pk in handoff_ids:
            times = dict(ConversationEvent.objects.filter(conversation_id=pk, kind__in=["handoff", "queued", "assigned"])
                         .order_by("created_at").values_list("kind", "created_at"))
            routed = [t for k, t in times.items() if k in ("queued", "assigned")]
            if "handoff" in times and routed:
                route_s.append((min(routed) - times["handoff"]).total_seconds())
        latencies = _reply_latencies(Message)
        http_500 = sum(n for code, n in counters.status.items() if code >= 500 and code != 503)
        tracebacks = sum(_count_in(workdir / f"{name}.log", "Traceback") for name in topo.procs)
        result = {
            "bench": "faults", "scale": args.scale, "customers": customers, "messages_per_customer": args.messages,
            "webhooks": webhooks, "webhooks_burst": burst, "webhook_posts": len(steady_plan) + len(burst_plan), "burst": len(burst_plan),
            "inbound_sent": len(unique_ids) + customers * args.messages,
            "inbound_stored": len(set(stored_wa)) + len(stored_widget),
            "inbound_lost": inbound_lost, "inbound_duplicated": inbound_dup,
            "outbound_expected": len(expected), "outbound_sent": len(sent_keys),
            "outbound_lost": outbound_lost, "outbound_duplicated": outbound_dup,
            "outbound_provider_500s_injected": len(graph.failed_first),
            # Delivery tasks queued for those sends (with the message, retries, sweeps): the sweep
            # must not re-queue sends that only wait in the backlog (issue 14: 936 for 504).
            "outbound_tasks_queued": outbound_tasks, "outbound_sends": outbound_sends,
            "max_open_conversations_per_customer": max_open,
            "turns_unanswered": _unanswered(Conversation, Message, ConversationEvent),
            "http_500": http_500, "http_503": counters.status.get(503, 0),
            "http_status_counts": {str(k): v for k, v in sorted(counters.status.items())},
            "connection_errors_retried": counters.conn_errors, "webhooks_never_accepted": wa_ok.count(False),
            "db_connections_peak": sampler.peak, "db_connections_bound": bound, "db_pool_max": args.db_pool_max,
            "handoffs": len(handoff_ids), "handoff_route_p95_s": round(percentile(route_s, 95), 3) if route_s else None,
            "handoff_route_max_s": round(max(route_s), 3) if route_s else None,
            "queued_turns_target": queued_target,
            "queued_turns_reached": bool(depths) and min(depths) >= queued_target,
            "agent_queue_depth_at_handoffs_min": min(depths) if depths else 0,
            "agent_queue_depth_at_handoffs_max": max(depths) if depths else 0,
            "agent_queue_depth_at_handoffs_median": sorted(depths)[len(depths) // 2] if depths else 0,
            "searches_after_upload": searches, "search_errors_after_upload": search_errors,
            "reply_latency_p50_s": round(percentile(latencies, 50), 2) if latencies else None,
            "reply_latency_p95_s": round(percentile(latencies, 95), 2) if latencies else None,
            "replies_measured": len(latencies), "tracebacks_in_logs": tracebacks,
            "drained": time.monotonic() <= deadline, "kills": ["worker_agent (SIGKILL)", "daphne2 (SIGKILL)"],
            "logs": str(workdir),
        }
        print(json.dumps(result), flush=True)
    finally:
        sampler.stop.set()
        topo.stop_all()


def _unanswered(Conversation, Message, ConversationEvent) -> int:
    """Bot-owned chats whose latest customer message has no AI Agent decision."""
    from django.db.models import OuterRef, Subquery

    last = (Message.objects.filter(conversation=OuterRef("pk"), author_kind="customer")
            .order_by("-created_at", "-id").values("pk")[:1])
    rows = list(Conversation.objects.filter(status="bot").annotate(last=Subquery(last)).exclude(last=None)
                .values_list("pk", "last"))
    decided = set(ConversationEvent.objects.filter(kind="agent_decision", conversation_id__in=[c for c, _ in rows])
                  .values_list("payload__message_id", flat=True))
    return sum(1 for _c, m in rows if m not in decided)


def _reply_latencies(Message) -> list[float]:
    """Customer message -> the next message to the customer in that chat (AI Agent, human or system)."""
    out, pending = [], {}
    for conv, kind, internal, at in (Message.objects.order_by("conversation_id", "created_at", "id")
                                     .values_list("conversation_id", "author_kind", "is_internal", "created_at")):
        if kind == "customer":
            pending.setdefault(conv, at)
        elif not internal and conv in pending:
            out.append((at - pending.pop(conv)).total_seconds())
    return out


def _count_in(path: Path, needle: str) -> int:
    try:
        return path.read_text(errors="replace").count(needle)
    except OSError:
        return 0


if __name__ == "__main__":
    main()
