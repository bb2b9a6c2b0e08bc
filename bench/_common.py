"""Shared helpers for benchmark scripts: a dedicated PostgreSQL database, Django setup, timing."""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def use_bench_database(name: str, *, fresh: bool = False) -> str:
    """Point Django at its own PostgreSQL database (created if missing) before django.setup()."""
    base = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
    if fresh:
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name}"], check=False,
                       capture_output=True)
    subprocess.run(["psql", f"{base}/postgres", "-qc", f"CREATE DATABASE {name}"], check=False, capture_output=True)
    url = f"{base}/{name}"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-secret")
    for key in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE"):
        os.environ[key] = "0"
    os.environ.setdefault("STATIC_MANIFEST", "0")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
    import django

    django.setup()
    return url


def shared_data(*parts: str) -> Path:
    """A dataset under ``../shared/data`` beside the checkout (or beside the folder of worktrees); the
    first of the two that exists, else the first (the benchmark then says it is missing)."""
    candidates = [ROOT.parent.joinpath("shared", "data", *parts), ROOT.parent.parent.joinpath("shared", "data", *parts)]
    return next((p for p in candidates if p.exists()), candidates[0])


def development_businesses() -> list[str]:
    """The demo and the development packs in ``../shared/data/business-packs`` found on this machine (a
    missing pack is said, and skipped)."""
    where = ["demo"]
    for name in ("vitalia", "pampapay"):
        pack = shared_data("business-packs", name)
        if pack.exists():
            where.append(str(pack))
        else:
            print(f"missing: {pack} (the business pack is not on this machine; skipped)", flush=True)
    return where


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(ms: list[float]) -> dict:
    return {"p50_ms": round(statistics.median(ms), 2), "p95_ms": round(percentile(ms, 95), 2),
            "mean_ms": round(statistics.fmean(ms), 2)}
