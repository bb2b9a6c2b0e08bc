"""AI Agent configuration in the admin: Operators only (the configure capability), every change
written to the audit log like the other configuration screens."""
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from apps.core.admin import AuditedAdminMixin
from apps.roles.admin import ConfigureOnlyAdminMixin

from .models import AgentSettings, Topic, TopicExample, TopicField, TransferRule


class ExampleInline(ConfigureOnlyAdminMixin, admin.TabularInline):
    model = TopicExample
    extra = 3


class FieldInline(ConfigureOnlyAdminMixin, admin.TabularInline):
    model = TopicField
    extra = 0


@admin.register(Topic)
class TopicAdmin(ConfigureOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "department", "bot_may_answer", "action", "is_active")
    list_filter = ("bot_may_answer", "is_active", "department")
    search_fields = ("name", "slug", "examples__text")
    prepopulated_fields = {"slug": ("name",)}
    filter_horizontal = ("documents",)
    inlines = [ExampleInline, FieldInline]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        from .engine import engine_invalidate

        engine_invalidate()


@admin.register(TransferRule)
class TransferRuleAdmin(ConfigureOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("order", "topic", "trigger", "language", "department", "is_active")
    list_editable = ("is_active",)


@admin.register(AgentSettings)
class AgentSettingsAdmin(ConfigureOnlyAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    fieldsets = (
        (_("Handoff triggers"), {"fields": ("confidence_threshold", "out_of_scope_threshold",
                                            "explicit_request_threshold", "sentiment_threshold",
                                            "sentiment_window", "sentiment_min_negative")}),
        (_("Handoff"), {"fields": ("default_department", "collect_max_attempts", "messages")}),
    )

    def has_add_permission(self, request, *args):
        return super().has_add_permission(request) and not AgentSettings.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False
