"""Copilot switches per department (Operators only) and the read-only suggestion log."""
from django.contrib import admin

from apps.core.admin import AuditedAdminMixin
from apps.roles.access import can_configure, can_view_reports

from .models import CopilotSettings, CopilotSuggestion


@admin.register(CopilotSettings)
class CopilotSettingsAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Switching the copilot on or off is a configuration change: audited like the others."""

    list_display = ("department", "enabled", "updated_at")
    list_editable = ("enabled",)
    list_filter = ("enabled",)

    def has_module_permission(self, request):
        return can_configure(request.user)

    def has_view_permission(self, request, obj=None):
        return can_configure(request.user)

    def has_add_permission(self, request):
        return can_configure(request.user)

    def has_change_permission(self, request, obj=None):
        return can_configure(request.user)

    def has_delete_permission(self, request, obj=None):
        return can_configure(request.user)


@admin.register(CopilotSuggestion)
class CopilotSuggestionAdmin(admin.ModelAdmin):
    """An append-only log: Operators who see reports may read it; nobody edits it."""

    list_display = ("id", "conversation", "user", "kind", "provider", "latency_ms", "outcome", "similarity", "created")
    list_filter = ("kind", "outcome", "provider")
    raw_id_fields = ("conversation", "user", "message")

    def has_module_permission(self, request):
        return can_view_reports(request.user)

    def has_view_permission(self, request, obj=None):
        return can_view_reports(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
