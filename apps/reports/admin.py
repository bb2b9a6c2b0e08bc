from django.contrib import admin

from .models import CostSettings, DepartmentHours


@admin.register(CostSettings)
class CostSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "currency", "operator_seats", "operator_seat_monthly_cost", "collaborator_hourly_cost",
                    "platform_monthly_cost", "ai_cost_per_1k_tokens", "ai_cost_per_conversation", "updated_at")

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not CostSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DepartmentHours)
class DepartmentHoursAdmin(admin.ModelAdmin):
    list_display = ("department", "time_zone")
