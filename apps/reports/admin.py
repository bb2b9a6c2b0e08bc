"""Report configuration in the admin, for Operators (``apps.roles.access.can_configure``).

Every save and delete writes an ``AuditEntry`` (actor, action, changed fields), like the other
configuration admins: cost inputs change what the reports say. Business hours and holidays are
routing's (one place), in the routing admin.
"""
from django.contrib import admin

from apps.core.admin import AuditedAdminMixin
from apps.roles.admin import ConfigureOnlyAdminMixin

from .models import CostSettings


@admin.register(CostSettings)
class CostSettingsAdmin(ConfigureOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("__str__", "currency", "operator_seats", "operator_seat_monthly_cost", "collaborator_hourly_cost",
                    "platform_monthly_cost", "ai_cost_per_1k_tokens", "ai_cost_per_conversation", "updated_at")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not CostSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
