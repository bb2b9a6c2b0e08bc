"""Ingestion of every file type, bad files, re-upload and delete (rows and vectors)."""
from __future__ import annotations

import pytest

from apps.knowledge import services, vectorstore
from apps.knowledge.models import Chunk, Document, DocumentStatus
from apps.knowledge.search import knowledge_search

from .builders import docx_bytes, pdf_bytes, xlsx_bytes

ROUTER_MD = b"""# Router guide

## Restart
Unplug the router for 30 seconds and plug it back in. Wait until the internet light is on.

## Wi-Fi password
The Wi-Fi password is printed on the label underneath the router.
"""


def ingest(filename: str, data: bytes, **kwargs) -> Document:
    document = services.document_create(title=filename, filename=filename, data=data, **kwargs)
    return services.document_ingest(document_id=document.pk)


def vector_ids(document: Document) -> set[str]:
    return {str(v) for v in document.chunks.values_list("vector_id", flat=True)}


def stored_vector_ids() -> set[str]:
    return set(vectorstore.vectors_all()[0])


CASES = [
    ("guide.md", ROUTER_MD, "Wi-Fi password", "Router guide › Wi-Fi password"),
    ("notes.txt", b"Opening hours\n\nThe sales office opens Monday to Friday from 9 am to 5 pm.\n",
     "sales office opening hours", ""),
    ("page.html", b"<html><head><title>Pay</title><script>alert('steal')</script></head><body>"
                  b"<h1>Payments</h1><p>You can pay with Mercado Pago or bank transfer.</p>"
                  b"<script>document.write('hidden')</script></body></html>",
     "how can I pay", "Payments"),
    ("faq.csv", "pregunta,respuesta\n¿Cuándo vence la factura?,El día 10 de cada mes.\n"
                "¿Tienen permanencia?,No hay permanencia mínima.\n".encode(),
     "vencimiento de la factura", "¿Cuándo vence la factura?"),
]


@pytest.mark.parametrize("filename,data,query,heading", CASES, ids=[c[0] for c in CASES])
def test_text_formats_are_ingested_and_searchable(filename, data, query, heading):
    document = ingest(filename, data)
    assert document.status == DocumentStatus.READY, document.error
    assert document.progress == 100 and document.chunk_count == document.chunks.count() > 0
    assert document.checksum and document.size == len(data)
    assert vector_ids(document) <= stored_vector_ids()
    hits = knowledge_search(query, k=1)
    assert hits and hits[0].document_id == document.pk
    if heading:
        assert hits[0].heading == heading


def test_html_scripts_are_stripped():
    document = ingest("page.html", CASES[2][1])
    text = " ".join(document.chunks.values_list("text", flat=True))
    assert "Mercado Pago" in text and "alert" not in text and "hidden" not in text


def test_faq_rows_become_one_chunk_each():
    document = ingest("faq.csv", CASES[3][1])
    texts = list(document.chunks.order_by("ordinal").values_list("text", flat=True))
    assert texts == ["Q: ¿Cuándo vence la factura?\nA: El día 10 de cada mes.",
                     "Q: ¿Tienen permanencia?\nA: No hay permanencia mínima."]
    assert set(document.chunks.values_list("language", flat=True)) == {"es"}


def test_pdf_is_ingested():
    data = pdf_bytes(["Light check", "A red LOS light means no optical signal reaches the ONT.",
                      "Check that the fibre cable is not bent."])
    document = ingest("ont.pdf", data)
    assert document.status == DocumentStatus.READY, document.error
    assert document.kind == "pdf"
    assert "red LOS light" in document.chunks.first().text
    assert knowledge_search("red LOS light on the ONT", k=1)[0].document_id == document.pk


def test_docx_is_ingested_with_headings():
    data = docx_bytes("Cancellation", ["The cancellation takes effect at the end of the billing period.",
                                       "Return the router within 30 days."])
    document = ingest("baja.docx", data)
    assert document.status == DocumentStatus.READY, document.error
    chunk = document.chunks.get()
    assert chunk.heading == "Cancellation" and "Return the router" in chunk.text


def test_xlsx_faq_is_ingested():
    data = xlsx_bytes([("Do you have TV?", "Yes, FibraSur TV has 90 channels."),
                       ("Is there a data cap?", "No, every plan is unlimited.")])
    document = ingest("faq.xlsx", data)
    assert document.status == DocumentStatus.READY, document.error
    assert document.chunk_count == 2
    assert knowledge_search("television channels", k=1)[0].text.startswith("Q: Do you have TV?")


# --- bad files ---------------------------------------------------------------------------------------

BAD = [
    ("secret.pdf", lambda: pdf_bytes(["Top secret"], password="s3cret"), "encrypted"),
    ("empty.md", lambda: b"", "empty"),
    ("blank.txt", lambda: b"   \n\n  \n", "No text"),
    ("virus.exe", lambda: b"MZ\x90\x00binary", "Unsupported file type"),
    ("fake.pdf", lambda: b"this is not a pdf at all", "not a valid PDF"),
    ("fake.docx", lambda: b"plain text pretending", "not a valid DOCX"),
    ("broken.xlsx", lambda: b"PK\x03\x04garbage", "could not be read"),
    ("nocols.csv", lambda: b"name,phone\nAna,123\n", "question"),
]


@pytest.mark.parametrize("filename,make,message", BAD, ids=[b[0] for b in BAD])
def test_bad_file_gets_clear_error_and_no_chunks(filename, make, message):
    before = stored_vector_ids()
    document = ingest(filename, make())
    assert document.status == DocumentStatus.ERROR
    assert message.lower() in document.error.lower()
    assert document.chunks.count() == 0 and document.chunk_count == 0
    assert stored_vector_ids() == before


def test_too_large_file_is_refused(settings):
    settings.KB_MAX_UPLOAD_MB = 1
    document = ingest("big.txt", b"word " * 300_000)
    assert document.status == DocumentStatus.ERROR
    assert "limit is 1 MB" in document.error
    assert not Chunk.objects.filter(document=document).exists()


def test_bad_reupload_keeps_previous_chunks_and_vectors():
    document = ingest("guide.md", ROUTER_MD)
    old_chunks = list(document.chunks.values_list("id", "text"))
    old_vectors = vector_ids(document)
    services.document_replace_file(document=document, filename="guide.pdf", data=pdf_bytes(["x"], password="pw"))
    document = services.document_ingest(document_id=document.pk)
    assert document.status == DocumentStatus.ERROR and "encrypted" in document.error
    assert list(document.chunks.values_list("id", "text")) == old_chunks
    assert old_vectors <= stored_vector_ids()
    # the previous content is still served while the Operator fixes the file
    assert knowledge_search("wifi password", k=1)[0].document_id == document.pk


def test_embedding_failure_leaves_old_chunks(monkeypatch):
    from apps.knowledge import embeddings

    document = ingest("guide.md", ROUTER_MD)
    old = list(document.chunks.values_list("id", flat=True))

    def boom(texts):
        raise embeddings.EmbeddingError("server down")

    monkeypatch.setattr("apps.knowledge.embeddings.embed_texts", boom)
    services.document_replace_file(document=document, filename="guide.md", data=ROUTER_MD + b"\nNew line.\n")
    document = services.document_ingest(document_id=document.pk)
    assert document.status == DocumentStatus.ERROR and "server down" in document.error
    assert list(document.chunks.values_list("id", flat=True)) == old


def test_vector_store_failure_rolls_back(monkeypatch):
    document = ingest("guide.md", ROUTER_MD)
    old = list(document.chunks.values_list("id", flat=True))
    before = stored_vector_ids()

    def refuse(**kwargs):
        raise RuntimeError("chroma unavailable")

    monkeypatch.setattr(vectorstore, "vectors_upsert", refuse)
    services.document_replace_file(document=document, filename="guide.md", data=ROUTER_MD + b"\nMore.\n")
    document = services.document_ingest(document_id=document.pk)
    assert document.status == DocumentStatus.ERROR and "RuntimeError" in document.error
    assert list(document.chunks.values_list("id", flat=True)) == old
    assert stored_vector_ids() == before


# --- re-upload and delete -----------------------------------------------------------------------------

def test_reupload_of_changed_file_replaces_chunks_and_vectors(django_capture_on_commit_callbacks):
    document = ingest("guide.md", ROUTER_MD)
    old_vectors = vector_ids(document)
    changed = ROUTER_MD.replace(b"30 seconds", b"one full minute")
    services.document_replace_file(document=document, filename="guide.md", data=changed)
    with django_capture_on_commit_callbacks(execute=True):
        document = services.document_ingest(document_id=document.pk)
    assert document.status == DocumentStatus.READY
    text = " ".join(document.chunks.values_list("text", flat=True))
    assert "one full minute" in text and "30 seconds" not in text
    stored = stored_vector_ids()
    assert vector_ids(document) <= stored and not (old_vectors & stored)


def test_same_file_again_is_skipped():
    document = ingest("guide.md", ROUTER_MD)
    chunk_ids = list(document.chunks.values_list("id", flat=True))
    again = services.document_ingest(document_id=document.pk)
    assert again.status == DocumentStatus.READY
    assert list(again.chunks.values_list("id", flat=True)) == chunk_ids


def test_delete_removes_chunks_vectors_and_file(django_capture_on_commit_callbacks):
    document = ingest("guide.md", ROUTER_MD)
    vectors = vector_ids(document)
    storage, name = document.file.storage, document.file.name
    with django_capture_on_commit_callbacks(execute=True):
        services.document_delete(document=document)
    assert not Document.objects.filter(pk=document.pk).exists()
    assert not Chunk.objects.filter(document_id=document.pk).exists()
    assert not (vectors & stored_vector_ids())
    assert not storage.exists(name)
    assert knowledge_search("wifi password") == []


def test_celery_task_ingests_by_id():
    from apps.knowledge.tasks import document_ingest

    document = services.document_create(title="g", filename="guide.md", data=ROUTER_MD)
    document_ingest.delay(document.pk)
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY and document.chunk_count > 0
    document_ingest.delay(999_999)  # a deleted document: nothing to do, no crash


def test_error_is_stored_in_the_uploaders_language(cast):
    cast.operator.language = "es"
    cast.operator.save(update_fields=["language"])
    document = services.document_create(title="v", filename="vacio.md", data=b"", uploaded_by=cast.operator)
    document = services.document_ingest(document_id=document.pk)
    assert document.error == "El archivo está vacío."


def test_progress_is_reported_and_stored():
    seen: list[int] = []
    stored: list[int] = []
    document = services.document_create(title="g", filename="guide.md", data=ROUTER_MD * 3)

    def on_progress(percent):
        seen.append(percent)
        stored.append(Document.objects.get(pk=document.pk).progress)

    document = services.document_ingest(document_id=document.pk, on_progress=on_progress)
    assert seen == sorted(seen) and seen[0] == 5 and seen[-1] == 100 and len(seen) >= 4
    assert stored[1:-1] == seen[1:-1]  # the admin's progress bar reads the same numbers
    assert document.progress == 100


def test_long_text_is_chunked_with_overlap():
    from apps.knowledge.chunking import MAX_CHARS

    sentences = [f"Sentence number {i} explains one detail of the fibre installation process." for i in range(60)]
    document = ingest("long.txt", " ".join(sentences).encode())
    chunks = list(document.chunks.order_by("ordinal").values_list("text", flat=True))
    assert len(chunks) >= 4 and all(len(c) <= MAX_CHARS for c in chunks)
    for previous, current in zip(chunks, chunks[1:]):
        assert current.split(".")[0] in previous  # each chunk starts with the tail of the one before
    assert "Sentence number 59" in chunks[-1]


def test_document_deleted_during_ingest_swaps_nothing(monkeypatch, django_capture_on_commit_callbacks):
    from apps.knowledge import embeddings

    document = services.document_create(title="g", filename="guide.md", data=ROUTER_MD)
    real = embeddings.embed_texts

    def delete_midway(texts):
        vectors = real(texts)
        with django_capture_on_commit_callbacks(execute=True):
            services.document_delete(document=Document.objects.get(pk=document.pk))
        return vectors

    before = stored_vector_ids()
    monkeypatch.setattr("apps.knowledge.embeddings.embed_texts", delete_midway)
    assert services.document_ingest(document_id=document.pk) is None
    assert not Chunk.objects.exists() and stored_vector_ids() == before


def test_duplicate_task_racing_a_finished_one_swaps_nothing(monkeypatch):
    """Two deliveries of the same task: the one that finishes second finds the file already in."""
    from apps.knowledge import embeddings

    document = services.document_create(title="g", filename="guide.md", data=ROUTER_MD)
    real = embeddings.embed_texts
    state = {"raced": False}

    def race(texts):
        if not state["raced"]:
            state["raced"] = True
            services.document_ingest(document_id=document.pk)  # the other delivery completes first
            state["ids"] = sorted(Chunk.objects.filter(document_id=document.pk).values_list("id", flat=True))
        return real(texts)

    monkeypatch.setattr("apps.knowledge.embeddings.embed_texts", race)
    result = services.document_ingest(document_id=document.pk)
    assert result.status == DocumentStatus.READY
    assert sorted(result.chunks.values_list("id", flat=True)) == state["ids"]  # kept, not rebuilt
    assert len(stored_vector_ids() & vector_ids(result)) == result.chunk_count
