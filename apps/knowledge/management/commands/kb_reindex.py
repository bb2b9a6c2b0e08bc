"""manage.py kb_reindex : re-embed every document (after changing EMBEDDINGS_PROVIDER or the model)."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.knowledge.models import Document, DocumentStatus
from apps.knowledge.services import document_ingest


class Command(BaseCommand):
    help = ("Rebuild the chunks and vectors of every knowledge document from its stored file, in the current "
            "embedding space. Needed after switching EMBEDDINGS_PROVIDER (vectors of different models never mix).")

    def add_arguments(self, parser):
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        from tqdm import tqdm

        ids = list(Document.objects.order_by("pk").values_list("pk", flat=True))
        failed = 0
        for pk in tqdm(ids, unit="doc", disable=opts["no_progress"], file=self.stderr._out):
            document = document_ingest(document_id=pk, force=True)
            if document is not None and document.status == DocumentStatus.ERROR:
                failed += 1
                self.stderr.write(f"#{pk} {document.title}: {document.error}")
        self.stdout.write(f"{len(ids) - failed} document(s) re-indexed, {failed} failed")
