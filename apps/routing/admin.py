"""Routing configuration in the admin, for Operators (``apps.roles.access.can_configure``)."""
from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import ValidationError
from django import forms
from django.utils.translation import gettext_lazy as _

from apps.core.admin import AuditedAdminMixin
from apps.roles.admin import ConfigureOnlyAdminMixin

from .models import (AgentPresence, AgentShift, BusinessHours, DepartmentRouting, Holiday, Notification,
                     RoutingRule)
from .schedules import zone


class BusinessHoursInline(ConfigureOnlyAdminMixin, admin.TabularInline):
    model = BusinessHours
    extra = 0


class RoutingRuleInline(ConfigureOnlyAdminMixin, admin.TabularInline):
    model = RoutingRule
    extra = 0


class DepartmentRoutingForm(forms.ModelForm):
    class Meta:
        model = DepartmentRouting
        fields = "__all__"

    def clean(self):
        data = super().clean()
        for name in ("pickup_minutes", "reply_minutes"):
            if data.get(name) == 0:
                self.add_error(name, _("Use at least 1 minute, or leave it empty for no timer."))
        return data


@admin.register(DepartmentRouting)
class DepartmentRoutingAdmin(ConfigureOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = DepartmentRoutingForm
    list_display = ("department", "mode", "use_schedule", "pickup_minutes", "reply_minutes", "offline_reclaim")
    list_filter = ("mode", "use_schedule")
    filter_horizontal = ("supervisors",)
    fieldsets = (
        (None, {"fields": ("department", "mode", "use_schedule")}),
        (_("Escalation"), {"fields": ("pickup_minutes", "pickup_auto_assign", "pickup_to_backup", "pickup_notify",
                                      "reply_minutes", "offline_reclaim", "supervisors")}),
    )

    inlines = [BusinessHoursInline, RoutingRuleInline]


class AgentShiftInline(ConfigureOnlyAdminMixin, admin.TabularInline):
    model = AgentShift
    extra = 0


class PresenceForm(forms.ModelForm):
    class Meta:
        model = AgentPresence
        fields = ("user", "status", "capacity", "channel_capacity", "languages", "teams")

    def clean_channel_capacity(self):
        value = self.cleaned_data.get("channel_capacity") or {}
        if not isinstance(value, dict) or not all(isinstance(v, int) and v >= 0 for v in value.values()):
            raise ValidationError(_('Write limits as {"channel kind": number}, e.g. {"whatsapp": 2}.'))
        return value


@admin.register(AgentPresence)
class AgentPresenceAdmin(ConfigureOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    form = PresenceForm
    list_display = ("user", "status", "capacity", "languages", "teams", "last_assigned_at")
    list_filter = ("status",)
    search_fields = ("user__username", "user__display_name")
    autocomplete_fields = ["user"]
    inlines = [AgentShiftInline]

    def save_model(self, request, obj, form, change):
        """A status chosen here goes through ``presence_set`` like the person's own switch: going
        offline reclaims their chats and closes their presence session, and the monitor hears of it."""
        from .services import presence_set

        wanted = obj.status
        stored = form.initial.get("status") if change else "offline"
        obj.status = stored or "offline"
        super().save_model(request, obj, form, change)
        if wanted != obj.status:
            presence_set(user=obj.user, status=wanted, reason="admin")


@admin.register(Holiday)
class HolidayAdmin(ConfigureOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("date", "name", "department")
    list_filter = ("department",)


@admin.register(Notification)
class NotificationAdmin(ConfigureOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "user", "kind", "text", "read_at")
    list_filter = ("kind",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


_ = zone  # schedules validate time zones at run time; an unknown zone falls back to the operation's
