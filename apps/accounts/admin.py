from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from apps.core.audit import audit_record
from apps.departments.admin import _mirror_membership_formset
from apps.departments.models import Membership
from apps.roles.access import can_manage_users
from apps.roles.services import user_set_role

from .lockout import login_unlock
from .models import User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    fk_name = "user"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "display_name", "role", "is_external", "is_active", "last_login")
    list_filter = ("role", "is_external", "is_active", "memberships__department")
    search_fields = ("username", "first_name", "last_name", "display_name", "email")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("first_name", "last_name", "display_name", "email", "language", "time_zone", "is_external")}),
        (_("Role"), {"fields": ("role", "is_active"),
                     "description": _("Operator: full visibility and configuration. Collaborator: only their departments and chats.")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "password1", "password2", "role", "display_name")}),
    )
    inlines = [MembershipInline]
    actions = ["unlock_login"]

    @admin.action(description=_("Unlock login (clear failed login attempts)"))
    def unlock_login(self, request, queryset):
        """After LOGIN_FAILURE_LIMIT wrong passwords an account is locked for a while; this ends it now."""
        for user in queryset:
            removed = login_unlock(username=user.username)
            audit_record(actor=request.user, action="user.unlock_login", target=user, changes={"attempts": removed})
        self.message_user(request, _("Login unlocked for %(n)d account(s).") % {"n": queryset.count()},
                          messages.SUCCESS)

    def has_module_permission(self, request):
        return can_manage_users(request.user)

    def has_view_permission(self, request, obj=None):
        return can_manage_users(request.user)

    def has_change_permission(self, request, obj=None):
        return can_manage_users(request.user)

    def has_add_permission(self, request):
        return can_manage_users(request.user)

    def has_delete_permission(self, request, obj=None):
        return can_manage_users(request.user)

    def save_model(self, request, obj, form, change):
        role = obj.role
        previous = form.initial.get("role") if change else None
        super().save_model(request, obj, form, change)
        user_set_role(user=obj, role=role, actor=request.user, previous=previous)
        changed = [f for f in (form.changed_data or []) if f not in {"password", "password1", "password2", "role"}]
        if changed or not change:
            audit_record(actor=request.user, action="user.change" if change else "user.add", target=obj,
                         changes={f: form.cleaned_data.get(f) for f in changed})

    def save_formset(self, request, form, formset, change):
        _mirror_membership_formset(request, formset)
