"""Dependencies point down (DESIGN.md invariant 5): the import-linter contract in pyproject.toml.

The contract lists every app in layers, so an upward import (including a function-local one, such
as ``conversations`` reaching for routing) or a cycle between apps fails this test.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = ("import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))")


def _lint(root: Path) -> subprocess.CompletedProcess:
    """Run the contract in a fresh interpreter on the ``apps`` package found in ``root``."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([sys.executable, "-c", LINT, str(ROOT / "pyproject.toml")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


def test_apps_keep_their_layers():
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("offender, target", [
    ("conversations/services.py", "apps.routing.services"),  # the middle layer reaching up
    ("core/errors.py", "apps.conversations.models"),  # the bottom reaching up
])
def test_an_upward_import_breaks_the_contract(tmp_path, offender, target):
    """The check can fail: a copy of apps/ with one function-local upward import is refused."""
    shutil.copytree(ROOT / "apps", tmp_path / "apps", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "apps" / offender
    path.write_text(path.read_text(encoding="utf-8") + f"\n\ndef _reach_up():\n    import {target}  # noqa\n",
                    encoding="utf-8")
    result = _lint(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout and target in result.stdout
