"""Admin pieces that depend on roles: the audit log screen and the configure-only mixin."""
from django.contrib import admin

from apps.core.admin import ReadOnlyAdminMixin
from apps.core.models import AuditEntry

from .access import can_configure, has_capability


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "actor", "action", "target_type", "target_repr")
    list_filter = ("action", "target_type")
    search_fields = ("target_repr", "actor__username", "action")

    def has_view_permission(self, request, obj=None):
        return has_capability(request.user, "view_audit_log")

    def has_module_permission(self, request):
        return has_capability(request.user, "view_audit_log")


class ConfigureOnlyAdminMixin:
    """Configuration screens: only users with the configure capability (Operators) see or change them."""

    def has_module_permission(self, request):
        return can_configure(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request, *args):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None):
        return self.has_module_permission(request)
