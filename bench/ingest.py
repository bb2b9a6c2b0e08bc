"""Inbound WhatsApp webhook throughput, end to end, against a bare one-INSERT Django view.

Both go through the same Django stack (WSGI handler, full middleware) in the same run:

* ``whatsapp``: POST /webhooks/whatsapp/ with a signed Cloud API body (a new message id each
  time): size check, JSON, channel lookup, X-Hub-Signature-256 over the raw body, dedupe-on-store
  (unique body hash), INSERT, Celery enqueue on commit (Redis when REDIS_URL is set), coalesced per
  process into one task per few milliseconds (apps/integrations/batching.py).
* ``bare``: POST /bench/bare/ doing one INSERT of the raw body.

Run on PostgreSQL (target: whatsapp >= 40% of bare):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/asiste_integrations REDIS_URL=redis://127.0.0.1:6379/5 \
  SECRET_KEY=x .venv/bin/python bench/ingest.py [--requests 1500] [--rounds 3]
Ends with one JSON line of figures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
for name, value in (("SECURE_SSL_REDIRECT", "0"), ("SESSION_COOKIE_SECURE", "0"), ("CSRF_COOKIE_SECURE", "0"),
                    ("LOG_LEVEL", "WARNING"), ("BENCH_WA_SECRET", "bench-app-secret")):
    os.environ.setdefault(name, value)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

from apps.integrations.signing import hub_signature  # noqa: E402

PHONE_ID = "990011223344"


@csrf_exempt
def bare_insert(request):
    with connection.cursor() as cur:
        cur.execute("INSERT INTO bench_bare_insert (body) VALUES (%s)", [request.body.decode()])
    return HttpResponse("ok")


urlpatterns = [path("bench/bare/", bare_insert), path("", include("asisteclick.urls"))]


def body_for(i: int, run: str) -> bytes:
    return json.dumps({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1234567890987654321", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5491100000000", "phone_number_id": PHONE_ID},
            "contacts": [{"profile": {"name": f"Bench {i % 50}"}, "wa_id": f"54911{i % 50:06d}"}],
            "messages": [{"from": f"54911{i % 50:06d}", "id": f"wamid.bench.{run}.{i}", "timestamp": "1697043223",
                          "type": "text", "text": {"body": f"Hola, mensaje {i}"}}]}}]}],
    }, separators=(",", ":")).encode()


def timed(client: Client, url: str, bodies: list[bytes], secret: str | None, label: str) -> float:
    """Seconds to send ``bodies`` one after the other; every answer must be 200."""
    start = time.perf_counter()
    for raw in bodies:
        headers = {"HTTP_X_HUB_SIGNATURE_256": hub_signature(secret, raw)} if secret else {}
        resp = client.post(url, data=raw, content_type="application/json", **headers)
        if resp.status_code != 200:
            raise SystemExit(f"{label}: HTTP {resp.status_code} {resp.content[:200]!r}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not settings.IS_POSTGRES:
        print("warning: not on PostgreSQL (set DATABASE_URL); figures are not the reference ones", flush=True)
    settings.ROOT_URLCONF = __name__
    settings.DEBUG = False
    print("migrating...", flush=True)
    call_command("migrate", verbosity=0)
    from apps.conversations.models import Channel
    from apps.integrations.models import InboundWebhook

    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_bare_insert")
        cur.execute("CREATE TABLE bench_bare_insert (id %s, body text NOT NULL)"
                    % ("bigserial PRIMARY KEY" if settings.IS_POSTGRES else "integer PRIMARY KEY AUTOINCREMENT"))
    channel, _ = Channel.objects.update_or_create(
        kind=Channel.Kind.WHATSAPP, name="Bench WhatsApp",
        defaults={"config": {"phone_number_id": PHONE_ID, "app_secret_env": "BENCH_WA_SECRET"}, "is_active": True})
    secret = os.environ["BENCH_WA_SECRET"]
    client = Client()
    run = str(int(time.time()))
    # Warm-up: imports, connections, caches.
    timed(client, "/bench/bare/", [b'{"warm": 1}'] * 50, None, "warm-up bare")
    timed(client, "/webhooks/whatsapp/", [body_for(i, run + "w") for i in range(50)], secret, "warm-up whatsapp")
    # The two are interleaved in chunks so load changes on the machine hit both alike.
    chunk, n = 100, args.requests
    bare_rates, wa_rates = [], []
    for r in range(args.rounds):
        bare_s = wa_s = 0.0
        for start in range(0, n, chunk):
            size = min(chunk, n - start)
            bare_s += timed(client, "/bench/bare/", [body_for(start + i, run) for i in range(size)], None, "bare")
            wa_s += timed(client, "/webhooks/whatsapp/", [body_for(r * n + start + i, run) for i in range(size)],
                          secret, "whatsapp")
            if (start // chunk) % 5 == 4:
                print(f"  round {r + 1}: {start + size}/{n} of each", flush=True)
        bare_rates.append(n / bare_s)
        wa_rates.append(n / wa_s)
        print(f"round {r + 1}/{args.rounds}: bare {bare_rates[-1]:.0f} req/s, whatsapp {wa_rates[-1]:.0f} req/s "
              f"({wa_rates[-1] / bare_rates[-1]:.0%})", flush=True)
    stored = InboundWebhook.objects.filter(channel=channel, payload__entry__0__changes__0__value__messages__0__id__startswith=f"wamid.bench.{run}.").count() \
        if settings.IS_POSTGRES else InboundWebhook.objects.filter(channel=channel).count()
    # Clean up our rows (and the queued processing tasks, which this benchmark does not measure).
    with connection.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_bare_insert")
    InboundWebhook.objects.filter(channel=channel).delete()
    channel.delete()
    if os.environ.get("REDIS_URL"):
        from asisteclick.celery import app

        app.control.purge()
    ratios = sorted(w / b for w, b in zip(wa_rates, bare_rates))
    bare, wa = sum(bare_rates) / len(bare_rates), sum(wa_rates) / len(wa_rates)
    ratio = ratios[len(ratios) // 2]
    print(json.dumps({
        "bench": "ingest", "database": "postgresql" if settings.IS_POSTGRES else "sqlite",
        "broker": "redis" if os.environ.get("REDIS_URL") else "in-process (eager: includes processing)",
        "requests_per_round": args.requests, "rounds": args.rounds, "interleave_chunk": 100,
        "bare_insert_rps": round(bare, 1), "whatsapp_webhook_rps": round(wa, 1),
        "ratio": round(ratio, 3), "ratio_per_round": [round(x, 3) for x in ratios], "target_ratio": 0.4,
        "meets_target": ratio >= 0.4,
        "stored_inbound_rows": stored, "bare_rps_rounds": [round(x, 1) for x in bare_rates],
        "whatsapp_rps_rounds": [round(x, 1) for x in wa_rates],
    }), flush=True)


if __name__ == "__main__":
    main()
