"""Operators configure integrations, tokens and webhooks here (``roles.configure_platform``)."""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django import forms
from django.utils.translation import gettext_lazy as _


from apps.core.admin import AuditedAdminMixin
from apps.roles.admin import ConfigureOnlyAdminMixin
from apps.core.audit import audit_record

from .models import ApiToken, Integration, WebhookDelivery, WebhookEndpoint
from .netguard import UnsafeTarget, check_url


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(choices=WebhookEndpoint.EVENTS, required=False,
                                       widget=forms.CheckboxSelectMultiple, label=_("events"),
                                       help_text=_("None selected: all events."))

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "events", "is_active", "allow_private_network", "secret"]

    def clean(self):
        data = super().clean()
        url = data.get("url")
        if url:
            try:
                check_url(url, allow_private=bool(data.get("allow_private_network")))
            except UnsafeTarget as exc:
                raise ValidationError({"url": str(exc)}) from None
        return data


class DeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    fields = ("created_at", "event_type", "status", "attempts", "last_status_code", "last_error", "delivered_at")
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(AuditedAdminMixin, ConfigureOnlyAdminMixin, admin.ModelAdmin):
    form = WebhookEndpointForm
    audit_secret_fields = ("secret",)
    list_display = ("url", "is_active", "consecutive_failures", "disabled_reason", "created_at")
    readonly_fields = ("consecutive_failures", "disabled_at", "disabled_reason")
    inlines = [DeliveryInline]
    actions = ["reactivate"]

    @admin.action(description=_("Re-enable the selected endpoints"))
    def reactivate(self, request, queryset):
        for endpoint in queryset:
            audit_record(actor=request.user, action="webhookendpoint.reactivate", target=endpoint)
        queryset.update(is_active=True, consecutive_failures=0, disabled_at=None, disabled_reason="")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ConfigureOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "endpoint", "event_type", "status", "attempts", "last_status_code")
    list_filter = ("status", "event_type", "endpoint")
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]

    def has_add_permission(self, request, *args):
        return False


@admin.register(Integration)
class IntegrationAdmin(AuditedAdminMixin, ConfigureOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "user", "is_active", "created_at")


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedAdminMixin, ConfigureOnlyAdminMixin, admin.ModelAdmin):
    """Issue a token by saving a new row: its key is shown once in the confirmation message."""

    list_display = ("name", "prefix", "user", "integration", "scope", "last_used_at", "revoked_at")
    fields = ("name", "user", "integration", "scope", "prefix", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "last_used_at", "revoked_at")
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        token, raw = ApiToken.issue(user=obj.user, name=obj.name, scope=obj.scope, integration=obj.integration)
        obj.pk = token.pk
        obj.__dict__.update({k: v for k, v in token.__dict__.items() if not k.startswith("_")})
        # The key itself is never logged; the entry names the token by its public prefix.
        audit_record(actor=request.user, action="apitoken.add", target=token, changes=self.audit_changes(form))
        messages.warning(request, _("Token created. Copy the key now, it is not shown again: %(key)s") % {"key": raw})

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request, queryset):
        for token in queryset:
            if token.revoked_at is None:
                token.revoke()
                audit_record(actor=request.user, action="apitoken.revoke", target=token)
