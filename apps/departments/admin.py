from django.contrib import admin
from guardian.admin import GuardedModelAdminMixin

from apps.core.admin import AuditedAdminMixin

from . import services
from .models import Department, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Department)
class DepartmentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "is_default", "backup", "is_active")
    list_filter = ("is_active", "is_default")
    search_fields = ("name",)
    prepopulated_fields = {"slug": ("name",)}
    inlines = [MembershipInline]

    def save_formset(self, request, form, formset, change):
        _mirror_membership_formset(request, formset)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "department", "can_handle", "can_archive", "can_transfer", "is_senior")
    list_filter = ("department", "can_handle", "is_senior")
    search_fields = ("user__username", "user__first_name", "department__name")
    autocomplete_fields = ["user"]

    def save_model(self, request, obj, form, change):
        previous = services.membership_previous(obj)
        super().save_model(request, obj, form, change)
        services.membership_saved(membership=obj, actor=request.user, created=not change, previous=previous)

    def delete_model(self, request, obj):
        services.membership_remove(membership=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            services.membership_remove(membership=obj, actor=request.user)


def _mirror_membership_formset(request, formset):
    """Inline edits of memberships go through the service so permissions and the audit follow."""
    instances = formset.save(commit=False)
    for obj in formset.deleted_objects:
        services.membership_remove(membership=obj, actor=request.user)
    for obj in instances:
        created = obj.pk is None
        previous = services.membership_previous(obj)
        obj.save()
        services.membership_saved(membership=obj, actor=request.user, created=created, previous=previous)
    formset.save_m2m()


_ = GuardedModelAdminMixin  # guardian's object-permission admin is available for Operators if needed
