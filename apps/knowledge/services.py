"""Knowledge-base writes: ingest, re-ingest, delete. Views, admin, tasks and commands call these.

Ingestion is all-or-nothing: the file is read, parsed, chunked and embedded in memory first;
only then are the new chunk rows written and their vectors upserted, inside one database
transaction, and the old chunks removed in the same transaction (their vectors right after
commit). Any failure before the swap leaves the previous chunks and vectors exactly as they were
and stores a clear error on the document. Readers never see a mix: search joins vectors to chunk
rows, so vectors of uncommitted or deleted rows are ignored.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable
from pathlib import Path

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from .chunking import ChunkDraft, chunk_sections, detect_language
from .models import Chunk, Document, DocumentStatus, KnowledgeState
from .parsers import IngestError, check_size, kind_for_name, parse

log = logging.getLogger(__name__)

Progress = Callable[[int], None]
EMBED_BATCH = 32


def knowledge_changed() -> None:
    """Tell every process's search cache that vectors or document scope changed."""
    token = uuid.uuid4().hex
    updated = KnowledgeState.objects.filter(pk=1).update(generation=token, changed_at=timezone.now())
    if not updated:
        KnowledgeState.objects.get_or_create(pk=1, defaults={"generation": token})


def file_checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _set_progress(document_id: int, percent: int, on_progress: Progress | None) -> None:
    Document.objects.filter(pk=document_id).update(progress=max(0, min(100, percent)))
    if on_progress is not None:
        on_progress(percent)


def _fail(document: Document, message: str) -> Document | None:
    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.ERROR, error=message[:2000], progress=0,
                                                   updated_at=timezone.now())
    log.info("knowledge: document %s not ingested: %s", document.pk, message)
    return Document.objects.filter(pk=document.pk).first()  # None if deleted meanwhile


def _read_file(document: Document) -> bytes:
    try:
        size = document.file.size
    except (OSError, ValueError) as exc:
        raise IngestError(_("The uploaded file is missing from storage; upload it again.")) from exc
    check_size(size)  # before reading a huge file into memory
    document.file.open("rb")
    try:
        return document.file.read()
    finally:
        document.file.close()


def document_create(*, title: str, filename: str, data: bytes, language: str = "", departments=(),
                    tags: list[str] | None = None, source: str = "", uploaded_by=None) -> Document:
    """A new pending document with its file stored (validation of content happens at ingest)."""
    document = Document(title=title[:200], language=language, tags=list(tags or []), source=source[:300],
                        uploaded_by=uploaded_by if getattr(uploaded_by, "pk", None) else None, size=len(data))
    try:
        document.kind = kind_for_name(filename)
    except IngestError:
        document.kind = ""
    document.file.save(Path(filename).name, ContentFile(data), save=False)
    document.save()
    if departments:
        document.departments.set(departments)
    return document


def document_replace_file(*, document: Document, filename: str, data: bytes) -> Document:
    """A re-upload: new file, back to pending (old chunks stay until the new ones are built)."""
    try:
        document.kind = kind_for_name(filename)
    except IngestError:
        document.kind = ""
    document.file.save(Path(filename).name, ContentFile(data), save=False)
    document.size = len(data)
    document.status = DocumentStatus.PENDING
    document.error = ""
    document.progress = 0
    document.save(update_fields=["file", "kind", "size", "status", "error", "progress", "updated_at"])
    return document


def document_ingest(*, document_id: int, force: bool = False, on_progress: Progress | None = None) -> Document:
    """Parse, chunk, embed and swap in the chunks of one document. Returns the document.

    Idempotent: a file whose checksum equals the one the current chunks came from is skipped
    (unless ``force``), so a duplicated or restarted task does no work twice. Error messages are
    written in the uploader's language (else the active one), since they are stored.
    """
    document = Document.objects.filter(pk=document_id).select_related("uploaded_by").first()
    if document is None:
        return None
    language = getattr(document.uploaded_by, "language", "") or translation.get_language()
    with translation.override(language):
        return _ingest(document, force=force, on_progress=on_progress)


def _ingest(document: Document, *, force: bool, on_progress: Progress | None) -> Document:
    from .embeddings import EmbeddingError, embed_texts
    file_name = document.file.name
    try:
        kind = kind_for_name(file_name)
        data = _read_file(document)
    except IngestError as exc:
        return _fail(document, str(exc))
    checksum = file_checksum(data)
    if not force and document.status == DocumentStatus.READY and checksum == document.checksum:
        if on_progress:
            on_progress(100)
        return document

    Document.objects.filter(pk=document.pk).update(status=DocumentStatus.PROCESSING, error="", progress=5,
                                                   kind=kind, size=len(data), updated_at=timezone.now())
    if on_progress:
        on_progress(5)
    try:
        sections = parse(kind=kind, data=data)
        _set_progress(document.pk, 15, on_progress)
        drafts = chunk_sections(sections)
        if not drafts:
            raise IngestError(_("No text found in this file."))
        doc_language = document.language or detect_language(" ".join(d.text for d in drafts[:20]))
        for draft in drafts:
            draft.language = document.language or detect_language(draft.text) or doc_language
        _set_progress(document.pk, 20, on_progress)
        vectors = []
        for start in range(0, len(drafts), EMBED_BATCH):
            batch = drafts[start:start + EMBED_BATCH]
            vectors.append(embed_texts([d.embed_text for d in batch]))
            done = min(len(drafts), start + EMBED_BATCH)
            _set_progress(document.pk, 20 + int(70 * done / len(drafts)), on_progress)
        import numpy as np

        matrix = np.vstack(vectors)
        _swap_chunks(document=document, file_name=file_name, drafts=drafts, matrix=matrix, checksum=checksum,
                     size=len(data), kind=kind, force=force)
    except IngestError as exc:
        return _fail(document, str(exc))
    except EmbeddingError as exc:
        return _fail(document, _("The embeddings service failed: %(error)s. Try again later.") % {"error": exc})
    except _Superseded:
        log.info("knowledge: document %s changed during ingest; nothing swapped", document.pk)
        return Document.objects.filter(pk=document.pk).first()
    except Exception as exc:  # noqa: BLE001 (a parser bug must still end in a visible error state)
        log.exception("knowledge: unexpected ingest failure for document %s", document.pk)
        return _fail(document, _("Unexpected error while processing the file (%(error)s).")
                     % {"error": exc.__class__.__name__})
    if on_progress:
        on_progress(100)
    return Document.objects.get(pk=document.pk)


class _Superseded(Exception):
    """The document's file changed (a newer upload) while this ingest was running."""


def _swap_chunks(*, document: Document, file_name: str, drafts: list[ChunkDraft], matrix, checksum: str,
                 size: int, kind: str, force: bool) -> None:
    from . import vectorstore

    new_chunks = [Chunk(document_id=document.pk, ordinal=d.ordinal, heading=d.heading, text=d.text,
                        language=d.language, char_count=len(d.text), token_count=max(1, len(d.text) // 4),
                        vector_id=uuid.uuid4()) for d in drafts]
    new_ids = [str(c.vector_id) for c in new_chunks]
    metadatas = [{"document_id": int(document.pk), "language": c.language or "", "ordinal": c.ordinal}
                 for c in new_chunks]
    old_ids: list[str] = []
    try:
        with transaction.atomic():
            locked = Document.objects.select_for_update().filter(pk=document.pk).first()
            if locked is None or locked.file.name != file_name:
                raise _Superseded()  # deleted, or a newer upload whose own task will do the work
            if locked.status == DocumentStatus.READY and locked.checksum == checksum and not force:
                raise _Superseded()  # a duplicate task already swapped in this very file
            old_ids = [str(v) for v in locked.chunks.values_list("vector_id", flat=True)]
            # Vectors first: if the store refuses them, the transaction rolls back and nothing changed.
            vectorstore.vectors_upsert(ids=new_ids, vectors=matrix, metadatas=metadatas)
            locked.chunks.all().delete()
            Chunk.objects.bulk_create(new_chunks, batch_size=500)
            Document.objects.filter(pk=document.pk).update(
                status=DocumentStatus.READY, error="", progress=100, checksum=checksum, size=size, kind=kind,
                chunk_count=len(new_chunks), ingested_at=timezone.now(),
                updated_at=timezone.now())
            knowledge_changed()
    except BaseException:
        _delete_vectors_quietly(new_ids)
        raise
    transaction.on_commit(lambda: _delete_vectors_quietly(old_ids))


def _delete_vectors_quietly(ids: list[str]) -> None:
    if not ids:
        return
    from . import vectorstore

    try:
        vectorstore.vectors_delete(ids=ids)
    except Exception:  # noqa: BLE001 (orphan vectors are ignored by search; never fail the caller)
        log.warning("knowledge: could not delete %d vectors; search ignores them", len(ids), exc_info=True)


def document_delete(*, document: Document) -> None:
    """Remove a document, its chunks, its vectors and its stored file."""
    from . import vectorstore

    document_id = document.pk
    vector_ids = [str(v) for v in document.chunks.values_list("vector_id", flat=True)]
    storage, name = document.file.storage, document.file.name
    with transaction.atomic():
        document.delete()
        knowledge_changed()

    def cleanup():
        _delete_vectors_quietly(vector_ids)
        try:
            vectorstore.vectors_delete(document_id=document_id)
        except Exception:  # noqa: BLE001
            log.warning("knowledge: vector cleanup for document %s failed", document_id, exc_info=True)
        if name:
            try:
                storage.delete(name)
            except OSError:
                log.warning("knowledge: could not delete file %s", name)

    transaction.on_commit(cleanup)


def document_enqueue_ingest(*, document: Document, force: bool = False) -> None:
    """Queue ingestion after the surrounding transaction commits (tasks take ids, not objects)."""
    from .tasks import document_ingest as task

    document_id = document.pk
    transaction.on_commit(lambda: task.delay(document_id, force))


# --- files from disk (kb_ingest, demo seed) -----------------------------------------------------------

def title_for(filename: str, data: bytes) -> str:
    """The first Markdown/HTML heading, else the file name made readable."""
    import re

    suffix = Path(filename).suffix.lower()
    if suffix in {".md", ".markdown"}:
        match = re.search(rb"^#\s+(.+)$", data[:4096], flags=re.M)
        if match:
            return match.group(1).decode("utf-8", "replace").strip()[:200]
    if suffix in {".html", ".htm"}:
        match = re.search(rb"<title[^>]*>(.*?)</title>", data[:8192], flags=re.I | re.S)
        if match and match.group(1).strip():
            return match.group(1).decode("utf-8", "replace").strip()[:200]
    stem = Path(filename).stem.replace("-", " ").replace("_", " ").strip()
    if stem.lower() in {"faq", "faqs"}:
        return "FAQ"
    return stem.capitalize()[:200] or filename[:200]


def document_upsert_file(*, path: Path, source: str, language: str = "", departments=None,
                         tags: list[str] | None = None, uploaded_by=None, force: bool = False,
                         on_progress: Progress | None = None, title: str = "") -> tuple[Document, str]:
    """Create or update the document for ``source`` from a file on disk and ingest it now.

    Returns ``(document, action)`` with action one of ``created``, ``updated``, ``unchanged``,
    ``duplicate`` or ``error``. Idempotent by checksum: running it twice does nothing the second
    time. ``departments``/``tags`` None keep what an existing document has.
    """
    data = Path(path).read_bytes()
    checksum = file_checksum(data)
    document = Document.objects.filter(source=source).order_by("pk").first()
    if document is None:
        twin = Document.objects.filter(checksum=checksum, status=DocumentStatus.READY).first()
        if twin is not None and not force:
            return twin, "duplicate"
        document = document_create(title=title or title_for(path.name, data), filename=path.name, data=data,
                                   language=language, departments=departments or (), tags=tags,
                                   source=source, uploaded_by=uploaded_by)
        action = "created"
    else:
        changed_fields = []
        if language and document.language != language:
            document.language = language
            changed_fields.append("language")
        if tags is not None and document.tags != list(tags):
            document.tags = list(tags)
            changed_fields.append("tags")
        if changed_fields:
            document.save(update_fields=changed_fields + ["updated_at"])
        if departments is not None:
            document.departments.set(departments)
            knowledge_changed()
        if document.checksum == checksum and document.status == DocumentStatus.READY and not force:
            return document, "unchanged"
        if document.checksum != checksum:
            document_replace_file(document=document, filename=path.name, data=data)
        action = "updated"
    document = document_ingest(document_id=document.pk, force=force, on_progress=on_progress)
    if document.status == DocumentStatus.ERROR:
        return document, "error"
    return document, action
