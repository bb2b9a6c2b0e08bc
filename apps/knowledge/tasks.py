"""Thin, restart-safe ingestion task: a document id in, the service call out (DESIGN.md invariant 3)."""
from __future__ import annotations

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def document_ingest(document_id: int, force: bool = False) -> None:
    """Idempotent by checksum: a duplicate delivery of the same file does no work."""
    from .services import document_ingest as ingest

    ingest(document_id=document_id, force=force)
