"""Compile the gettext catalogues (.po -> .mo) with pure Python, so a fresh machine needs no
GNU gettext: the .po files are the source of truth in the repo, the .mo files are build output."""
from __future__ import annotations

from pathlib import Path

from django.conf import settings


def catalogue_paths() -> list[Path]:
    roots = [Path(p) for p in settings.LOCALE_PATHS] + [Path(settings.BASE_DIR) / "apps"]
    found: list[Path] = []
    for root in roots:
        if root.exists():
            found += [p for p in root.rglob("LC_MESSAGES/*.po")]
    return sorted(set(found))


def compile_catalogues(force: bool = False) -> int:
    """Compile stale catalogues; returns how many were written."""
    import polib

    written = 0
    for po_path in catalogue_paths():
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        try:
            polib.pofile(str(po_path)).save_as_mofile(str(mo_path))
            written += 1
        except OSError:
            continue  # read-only checkout: leave it; translations fall back to English text
    return written
