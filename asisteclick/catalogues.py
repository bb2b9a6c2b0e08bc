"""Compile the gettext catalogues (.po -> .mo) with pure Python before Django loads any of them.

The .po files are the source of truth in the repo; the .mo files are build output (not committed).
This runs from settings, i.e. before any translation is activated: Django caches a language's
catalogue on first use, so compiling later (e.g. in an AppConfig.ready) can be too late on a
fresh checkout. No GNU gettext is needed.
"""
from __future__ import annotations

from pathlib import Path


def catalogue_paths(base_dir: Path) -> list[Path]:
    roots = [base_dir / "locale", base_dir / "apps"]
    found: list[Path] = []
    for root in roots:
        if root.exists():
            found += list(root.rglob("LC_MESSAGES/*.po"))
    return sorted(set(found))


def compile_catalogues(base_dir: Path, force: bool = False) -> int:
    """Compile stale catalogues; returns how many were written."""
    try:
        import polib
    except ImportError:  # not installed yet (e.g. while pip runs): English until the next start
        return 0
    written = 0
    for po_path in catalogue_paths(base_dir):
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime_ns > po_path.stat().st_mtime_ns:
            continue
        try:
            polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
            written += 1
        except OSError:
            continue  # a read-only checkout: translations fall back to English text
    return written
