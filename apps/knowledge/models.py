"""Knowledge base: uploaded documents and the chunks the AI Agent retrieves.

Vectors live in chromadb (``apps.knowledge.vectorstore``), keyed by ``Chunk.vector_id`` (a UUID,
never the autoincrement pk: a rolled-back ingest must not leave a vector that a later chunk with a
reused pk would inherit). A vector whose chunk row does not exist is ignored by search, so the
database is the source of truth for what the bot may cite.
"""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class DocumentKind(models.TextChoices):
    PDF = "pdf", "PDF"
    DOCX = "docx", "DOCX"
    HTML = "html", "HTML"
    MARKDOWN = "md", "Markdown"
    TEXT = "txt", _("Plain text")
    CSV = "csv", _("FAQ spreadsheet (CSV)")
    XLSX = "xlsx", _("FAQ spreadsheet (XLSX)")


class DocumentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    READY = "ready", _("Ready")
    ERROR = "error", _("Error")


class DocumentLanguage(models.TextChoices):
    AUTO = "", _("Detect automatically")
    SPANISH = "es", _("Spanish")
    ENGLISH = "en", _("English")


def _upload_to(instance: "Document", filename: str) -> str:
    return f"knowledge/{uuid.uuid4().hex[:12]}/{filename}"


class Document(models.Model):
    title = models.CharField(_("title"), max_length=200)
    file = models.FileField(_("file"), upload_to=_upload_to, max_length=300)
    kind = models.CharField(_("type"), max_length=8, choices=DocumentKind.choices, blank=True,
                            help_text=_("Empty: taken from the file name."))
    language = models.CharField(_("language"), max_length=8, choices=DocumentLanguage.choices, blank=True)
    departments = models.ManyToManyField(
        "departments.Department", blank=True, related_name="knowledge_documents", verbose_name=_("departments"),
        help_text=_("Limit this document to these departments. Empty: available to every department."))
    tags = models.JSONField(_("tags"), default=list, blank=True,
                            help_text=_("Free labels (for example plans, billing) that topics can refer to."))
    source = models.CharField(_("source"), max_length=300, blank=True, db_index=True,
                              help_text=_("Where the file came from (kb_ingest path), used to recognise re-uploads."))
    is_active = models.BooleanField(_("active"), default=True,
                                    help_text=_("Inactive documents are kept but never used by the agent."))

    status = models.CharField(_("status"), max_length=12, choices=DocumentStatus.choices,
                              default=DocumentStatus.PENDING, db_index=True)
    error = models.TextField(_("error"), blank=True)
    progress = models.PositiveSmallIntegerField(_("progress %"), default=0)
    checksum = models.CharField(_("checksum"), max_length=64, blank=True, db_index=True,
                                help_text=_("SHA-256 of the file the current chunks were built from."))
    size = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    chunk_count = models.PositiveIntegerField(_("chunks"), default=0)

    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("uploaded by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    ingested_at = models.DateTimeField(_("ingested"), null=True, blank=True)

    class Meta:
        ordering = ["title", "id"]
        verbose_name = _("knowledge document")
        verbose_name_plural = _("knowledge documents")

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks",
                                 verbose_name=_("document"))
    ordinal = models.PositiveIntegerField(_("position"))
    heading = models.CharField(_("heading"), max_length=300, blank=True)
    text = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=8, blank=True)
    char_count = models.PositiveIntegerField(_("characters"), default=0)
    token_count = models.PositiveIntegerField(_("tokens (approx.)"), default=0)
    vector_id = models.UUIDField(_("vector id"), default=uuid.uuid4, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["document_id", "ordinal"]
        verbose_name = _("chunk")
        verbose_name_plural = _("chunks")
        indexes = [models.Index(fields=["document", "ordinal"], name="kb_chunk_doc_ord")]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal} {self.heading[:60]}"


class KnowledgeState(models.Model):
    """One row whose ``generation`` changes (to a fresh random value) on every vector change.

    Search processes compare it with the generation of their in-memory vector matrix; a random
    token instead of a counter means a rolled-back change can never collide with a later one.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    generation = models.CharField(max_length=32, default="")
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("knowledge base state")
