"""Roles as permission bundles. Every change is written to the audit log."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction

from apps.core.audit import audit_record

from .access import OPERATOR_PERMISSIONS

OPERATOR_GROUP = "Operator"
COLLABORATOR_GROUP = "Collaborator"

# Model permissions Operators need to configure the operation in the Django admin.
ADMIN_MODEL_APPS = ("accounts", "departments", "conversations", "knowledge", "agent", "routing",
                    "integrations", "reports", "django_celery_beat", "authtoken", "core")


def roles_ensure() -> tuple[Group, Group]:
    """Create/refresh the two groups. Idempotent; runs after every migrate."""
    operator, _ = Group.objects.get_or_create(name=OPERATOR_GROUP)
    collaborator, _ = Group.objects.get_or_create(name=COLLABORATOR_GROUP)
    perms = []
    for dotted in OPERATOR_PERMISSIONS:
        app_label, codename = dotted.split(".")
        perms += list(Permission.objects.filter(content_type__app_label=app_label, codename=codename))
    perms += list(Permission.objects.filter(content_type__app_label__in=ADMIN_MODEL_APPS))
    operator.permissions.set(perms)
    collaborator.permissions.clear()  # Collaborators hold only per-department object permissions
    return operator, collaborator


@transaction.atomic
def user_set_role(*, user, role: str, actor=None, previous: str | None = None):
    """Put ``user`` in exactly one role bundle; Operators may use the admin, Collaborators not."""
    User = get_user_model()
    if role not in User.Role.values:
        raise ValueError(f"unknown role {role!r}")
    operator, collaborator = roles_ensure()
    before = previous if previous is not None else user.role
    user.role = role
    user.is_staff = role == User.Role.OPERATOR
    user.save(update_fields=["role", "is_staff"])
    user.groups.remove(operator, collaborator)
    user.groups.add(operator if role == User.Role.OPERATOR else collaborator)
    # Django caches permissions on the instance; drop the cache so the change applies at once.
    for attr in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(attr, None)
    if before != role or actor is not None:
        audit_record(actor=actor, action="role.set", target=user, changes={"role": [before, role]})
    return user
