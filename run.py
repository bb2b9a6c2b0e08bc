#!/usr/bin/env python3
"""The two commands a newcomer needs (Python 3.11+ and nothing else):

    python3 run.py demo     # install, migrate, seed the FibraSur ISP, serve on http://127.0.0.1:8000
    python3 run.py test     # install, run the whole test suite (extra args go to pytest)

It creates ./.venv on first use and reinstalls only when pyproject.toml changes.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("ASISTE_VENV", ROOT / ".venv"))
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def say(text: str) -> None:
    print(f"[asisteclick] {text}", flush=True)


def ensure_installed() -> None:
    if sys.version_info < (3, 11):
        sys.exit("AsisteClick needs Python 3.11 or newer.")
    if not PY.exists():
        say(f"creating virtual environment in {VENV} ...")
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    stamp = VENV / ".asisteclick-installed"
    if stamp.exists() and stamp.read_text() == digest:
        return
    say("installing dependencies (first run takes a few minutes; progress below) ...")
    subprocess.run([str(PY), "-m", "pip", "install", "--upgrade", "pip"], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--progress-bar", "on", "-e", f"{ROOT}[dev]"], check=True)
    stamp.write_text(digest)


def manage(*args: str) -> int:
    return subprocess.call([str(PY), str(ROOT / "manage.py"), *args], cwd=ROOT)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"demo", "test", "manage", "install"}:
        print(__doc__)
        return 2
    ensure_installed()
    command, rest = argv[0], argv[1:]
    if command == "install":
        return 0
    if command == "demo":
        return manage("demo", *rest)
    if command == "manage":
        return manage(*rest)
    code = subprocess.call([str(PY), "-m", "pytest", *rest], cwd=ROOT)
    return 0 if code == 5 else code  # 5 = no tests collected (e.g. a filter that matched nothing)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
