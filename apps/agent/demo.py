"""Demo: the FibraSur AI Agent configuration (topics for Sales, Technical Support, Collections,
Cancellations and the default Customer Service), loaded from ``fibrasur.yaml`` with the same
importer as ``manage.py agent_config import``. Idempotent."""
from __future__ import annotations

from pathlib import Path

from .config import config_import, config_load_file

DEMO_CONFIG = Path(__file__).resolve().parent / "fibrasur.yaml"


def seed(out=None) -> dict:
    counts = config_import(config_load_file(DEMO_CONFIG))
    if out is not None:
        out.write(f"  ai agent: {counts['topics']} topics, {counts['examples']} examples, "
                  f"{counts['documents_linked']} KB links ({counts['documents_pending']} waiting for ingestion)\n")
    return counts
