"""The KB admin: Operators upload, re-upload and delete; Collaborators never reach it."""
from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.knowledge import services
from apps.knowledge.models import Document, DocumentStatus
from tests.factories import PASSWORD

MD = b"# Payments\nYou can pay with Mercado Pago, card or bank transfer.\n"


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def op_client(client, cast):
    return login(client, cast.operator)


def test_operator_uploads_and_document_is_ingested(op_client, cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = op_client.post(reverse("admin:knowledge_document_add"), {
            "title": "", "file": SimpleUploadedFile("pagos.md", MD), "language": "es",
            "departments": [cast.dept_b.pk], "tags_text": "billing, payments", "is_active": "on"})
    assert response.status_code == 302, response.content[:2000]
    document = Document.objects.get()
    assert document.status == DocumentStatus.READY and document.chunk_count == 1
    assert document.title == "Pagos" and document.tags == ["billing", "payments"]
    assert document.uploaded_by == cast.operator
    assert list(document.departments.all()) == [cast.dept_b]
    page = op_client.get(reverse("admin:knowledge_document_changelist"))
    assert page.status_code == 200 and b"<progress" in page.content and b"Pagos" in page.content


def test_upload_of_wrong_type_or_too_large_is_refused_by_the_form(op_client, settings):
    response = op_client.post(reverse("admin:knowledge_document_add"), {
        "title": "x", "file": SimpleUploadedFile("tool.exe", b"MZ"), "is_active": "on"})
    assert response.status_code == 200 and "Unsupported file type" in response.content.decode()
    settings.KB_MAX_UPLOAD_MB = 1
    response = op_client.post(reverse("admin:knowledge_document_add"), {
        "title": "x", "file": SimpleUploadedFile("big.txt", b"a" * (1024 * 1024 + 10)), "is_active": "on"})
    assert response.status_code == 200 and "the limit is 1 MB" in response.content.decode()
    assert not Document.objects.exists()


def test_reupload_replaces_and_delete_removes(op_client, cast, django_capture_on_commit_callbacks):
    document = services.document_create(title="Pagos", filename="pagos.md", data=MD)
    services.document_ingest(document_id=document.pk)
    url = reverse("admin:knowledge_document_change", args=[document.pk])
    page = op_client.get(url)
    assert page.status_code == 200 and b'class="kb-chunks"' in page.content and b"Mercado Pago" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        response = op_client.post(url, {
            "title": "Pagos", "file": SimpleUploadedFile("pagos.md", MD + b"\nAlso cash at Rapipago.\n"),
            "language": "", "tags_text": "", "is_active": "on"})
    assert response.status_code == 302, response.content[:3000]
    document.refresh_from_db()
    assert document.status == DocumentStatus.READY and "Rapipago" in document.chunks.get().text
    with django_capture_on_commit_callbacks(execute=True):
        response = op_client.post(reverse("admin:knowledge_document_delete", args=[document.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not Document.objects.exists()


@pytest.mark.parametrize("who", ["collab_a", "collab_ab", "outsider"])
def test_collaborators_have_no_access(client, cast, who):
    user = getattr(cast, who)
    user.is_staff = True  # even a staff flag must not open the KB to a Collaborator
    user.save(update_fields=["is_staff"])
    login(client, user)
    document = services.document_create(title="Pagos", filename="pagos.md", data=MD)
    for url in (reverse("admin:knowledge_document_changelist"), reverse("admin:knowledge_document_add"),
                reverse("admin:knowledge_document_change", args=[document.pk]),
                reverse("admin:knowledge_document_delete", args=[document.pk])):
        assert client.get(url).status_code == 403, url
    index = client.get(reverse("admin:index"))
    assert b"knowledge" not in index.content.lower() or index.status_code != 200
    assert client.post(reverse("admin:knowledge_document_delete", args=[document.pk]),
                       {"post": "yes"}).status_code == 403
    assert Document.objects.filter(pk=document.pk).exists()


def test_chunk_preview_escapes_document_text(op_client):
    hostile = b"# Offer\n<script>alert('x')</script> Pay with <b>card</b>.\n"
    document = services.document_create(title="Hostile", filename="hostile.md", data=hostile)
    services.document_ingest(document_id=document.pk)
    page = op_client.get(reverse("admin:knowledge_document_change", args=[document.pk])).content.decode()
    assert "&lt;script&gt;alert" in page and "<script>alert('x')" not in page
