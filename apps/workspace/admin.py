"""Labels and department saved replies, managed by Operators (``apps.roles.access.can_configure``)."""
from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.utils.translation import gettext_lazy as _

from apps.core.admin import AuditedAdminMixin
from apps.roles.admin import ConfigureOnlyAdminMixin

from .models import Label, SavedReply


@admin.register(Label)
class LabelAdmin(ConfigureOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "color", "is_active", "conversations")
    list_filter = ("is_active", "color")
    search_fields = ("name",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n=Count("links"))

    @admin.display(description=_("conversations"), ordering="n")
    def conversations(self, obj) -> int:
        return obj.n


@admin.register(SavedReply)
class SavedReplyAdmin(ConfigureOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("shortcut", "title", "department", "owner")
    list_filter = ("department",)
    search_fields = ("shortcut", "title", "body")
    raw_id_fields = ("owner",)
