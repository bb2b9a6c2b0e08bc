"""Admin building blocks every app uses (no role logic here: ``apps.roles.admin`` adds the capability checks)."""
class ReadOnlyAdminMixin:
    """For append-only logs: visible in the admin, never added, edited or deleted there."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


AUDIT_REDACTED = "(changed)"


class AuditedAdminMixin:
    """Every admin add, change and delete (one by one or the changelist's bulk "delete selected",
    which skips ``delete_model``) becomes an AuditEntry with the actor and the changed fields.
    Fields named in ``audit_secret_fields`` are logged only as changed, never their value;
    passwords are left out altogether."""

    audit_secret_fields: tuple[str, ...] = ()

    def audit_changes(self, form) -> dict:
        return {name: AUDIT_REDACTED if name in self.audit_secret_fields else form.cleaned_data.get(name)
                for name in (form.changed_data or []) if name != "password"}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        from .audit import audit_record

        audit_record(actor=request.user, action=f"{obj._meta.model_name}.{'change' if change else 'add'}",
                     target=obj, changes=self.audit_changes(form))

    def delete_model(self, request, obj):
        from .audit import audit_record

        audit_record(actor=request.user, action=f"{obj._meta.model_name}.delete", target=obj)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        from .audit import audit_record

        for obj in queryset:
            audit_record(actor=request.user, action=f"{obj._meta.model_name}.delete", target=obj)
        super().delete_queryset(request, queryset)
