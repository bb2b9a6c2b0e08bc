"""Knowledge base admin: Operators upload, re-upload and delete documents and watch ingestion.

Only users who may configure the platform (Operators) see it; every write goes through
``apps.knowledge.services`` so chunks and vectors stay consistent with the rows.
"""
from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from apps.core.admin import AuditedAdminMixin
from apps.roles.admin import ConfigureOnlyAdminMixin

from . import services
from .models import Document, DocumentStatus
from .parsers import ACCEPTED, EXTENSIONS, max_upload_bytes


PREVIEW_CHUNKS = 10


class DocumentForm(forms.ModelForm):
    tags_text = forms.CharField(label=_("Tags"), required=False,
                                help_text=_("Comma separated, for example: plans, billing."))

    class Meta:
        model = Document
        fields = ["title", "file", "language", "departments", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        self.fields["title"].help_text = _("Empty: taken from the file name.")
        self.fields["file"].help_text = _("Accepted: %(accepted)s, up to %(mb)d MB.") % {
            "accepted": ACCEPTED, "mb": max_upload_bytes() // (1024 * 1024)}
        self.fields["file"].widget.attrs["accept"] = ",".join(sorted(EXTENSIONS))
        if self.instance.pk:
            self.fields["tags_text"].initial = ", ".join(self.instance.tags or [])

    def clean_file(self):
        upload = self.cleaned_data.get("file")
        if upload and "file" in self.changed_data:
            from .parsers import IngestError, check_size, kind_for_name

            try:
                kind_for_name(upload.name)
                check_size(upload.size)
            except IngestError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return upload

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("title") and cleaned.get("file"):
            cleaned["title"] = services.title_for(cleaned["file"].name, b"")
        cleaned["tags"] = [t.strip() for t in (cleaned.get("tags_text") or "").split(",") if t.strip()]
        return cleaned


@admin.register(Document)
class DocumentAdmin(ConfigureOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    """Operators only (the configure capability)."""

    form = DocumentForm
    list_display = ("title", "kind", "language", "scope", "status_badge", "progress_bar", "chunk_count", "updated_at")
    list_filter = ("status", "kind", "language", "is_active", "departments")
    search_fields = ("title", "source")
    readonly_fields = ("status_badge", "progress_bar", "error", "kind", "chunk_count", "size_display", "checksum",
                       "source", "uploaded_by", "created_at", "updated_at", "ingested_at", "chunk_preview")
    fieldsets = (
        (None, {"fields": ("title", "file", "language", "departments", "tags_text", "is_active")}),
        (_("Processing"), {"fields": ("status_badge", "progress_bar", "error", "kind", "chunk_count", "size_display",
                                      "checksum", "source", "uploaded_by", "created_at", "updated_at",
                                      "ingested_at")}),
        (_("Chunks"), {"fields": ("chunk_preview",), "classes": ("collapse",)}),
    )
    filter_horizontal = ("departments",)
    actions = ["reingest"]

    # --- display ---------------------------------------------------------------------------------
    @admin.display(description=_("departments"))
    def scope(self, obj):
        names = [d.name for d in obj.departments.all()]
        return ", ".join(names) if names else _("All departments")

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj):
        colours = {DocumentStatus.READY: "#1b7f3b", DocumentStatus.ERROR: "#b00020",
                   DocumentStatus.PROCESSING: "#8a5a00", DocumentStatus.PENDING: "#555"}
        return format_html('<strong style="color:{}">{}</strong>{}', colours.get(obj.status, "#555"),
                           obj.get_status_display(),
                           format_html(": {}", obj.error[:160]) if obj.status == DocumentStatus.ERROR else "")

    @admin.display(description=_("progress"))
    def progress_bar(self, obj):
        return format_html('<progress value="{}" max="100" aria-label="{}">{}%</progress> {}%', obj.progress,
                           _("Ingestion progress of %(title)s") % {"title": obj.title}, obj.progress, obj.progress)

    @admin.display(description=_("first chunks"))
    def chunk_preview(self, obj):
        """The first chunks as the agent will see them (text is escaped: documents are untrusted)."""
        chunks = list(obj.chunks.order_by("ordinal")[:PREVIEW_CHUNKS]) if obj.pk else []
        if not chunks:
            return "—"
        items = format_html_join("", "<li><strong>{}</strong><br>{}</li>",
                                 ((c.heading or "—", c.text[:400]) for c in chunks))
        more = obj.chunk_count - len(chunks)
        tail = format_html("<p>{}</p>", _("…and %(n)d more.") % {"n": more}) if more > 0 else ""
        return format_html('<ol class="kb-chunks">{}</ol>{}', items, tail)

    @admin.display(description=_("size"))
    def size_display(self, obj):
        return filesizeformat(obj.size)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("departments")

    def changelist_view(self, request, extra_context=None):
        extra_context = extra_context or {}
        extra_context["kb_busy"] = Document.objects.filter(
            status__in=[DocumentStatus.PENDING, DocumentStatus.PROCESSING]).exists()
        return super().changelist_view(request, extra_context=extra_context)

    # --- writes through the services ---------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        obj.tags = form.cleaned_data.get("tags", [])
        if not obj.title:
            obj.title = form.cleaned_data.get("title") or services.title_for(obj.file.name, b"")
        file_changed = not change or "file" in form.changed_data
        if not change:
            obj.uploaded_by = request.user
        if file_changed:
            obj.status = DocumentStatus.PENDING
            obj.error = ""
            obj.progress = 0
            obj.size = obj.file.size if obj.file else 0
        super().save_model(request, obj, form, change)
        if file_changed:
            services.document_enqueue_ingest(document=obj)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        services.knowledge_changed()  # departments may have changed: search scope is read fresh anyway

    def delete_model(self, request, obj):
        from apps.core.audit import audit_record

        audit_record(actor=request.user, action="document.delete", target=obj)
        services.document_delete(document=obj)

    def delete_queryset(self, request, queryset):
        from apps.core.audit import audit_record

        for document in queryset:
            audit_record(actor=request.user, action="document.delete", target=document)
            services.document_delete(document=document)

    @admin.action(description=_("Process the selected documents again"))
    def reingest(self, request, queryset):
        count = 0
        with transaction.atomic():
            for document in queryset:
                services.document_enqueue_ingest(document=document, force=True)
                count += 1
        self.message_user(request, ngettext("%(n)d document queued for processing.",
                                            "%(n)d documents queued for processing.", count) % {"n": count},
                          messages.SUCCESS)
