"""Global (role-level) capability checks: the role half of the role matrix.

Per-conversation visibility lives in ``apps.conversations.access``; this module answers only
"may this user use this function at all", from permissions (never from the ``role`` field).
"""
from __future__ import annotations

from django.contrib.auth.models import AnonymousUser

OPERATOR_PERMISSIONS = (
    "roles.view_all_conversations",
    "roles.view_monitor",
    "roles.reassign_conversation",
    "roles.view_reports",
    "roles.configure_platform",
    "roles.manage_users",
    "roles.view_audit_log",
)


def _active(user) -> bool:
    return bool(user) and not isinstance(user, AnonymousUser) and user.is_authenticated and user.is_active


def _permissions_load(user) -> None:
    """The user's global permissions (their own and their groups') in ONE query, stored where
    Django's ``ModelBackend`` keeps them (``_perm_cache``), so ``has_perm`` answers the same as it
    would after its own two queries (user permissions, then group permissions). A superuser needs
    none (``has_perm`` is always true for them)."""
    if user.is_superuser or hasattr(user, "_perm_cache"):
        return
    from apps.core import sqlcache

    # Compiled once per process, the user's id a parameter (``apps.core.sqlcache``).
    user._perm_cache = {f"{app}.{codename}" for app, codename in sqlcache.rows(("permissions",), _permissions_query, user.pk)}


def _permissions_query(user_pk: int):
    from django.contrib.auth.models import Permission

    fields = ("content_type__app_label", "codename")
    direct = Permission.objects.filter(user=user_pk).order_by().values_list(*fields)
    via_groups = Permission.objects.filter(group__user=user_pk).order_by().values_list(*fields)
    return direct.union(via_groups)


def has_capability(user, codename: str) -> bool:
    if not _active(user):
        return False
    _permissions_load(user)
    return user.has_perm(f"roles.{codename}")


def is_operator(user) -> bool:
    """Full visibility: the Operator bundle (or a superuser). ``operators()`` is the same rule as a queryset."""
    return has_capability(user, "view_all_conversations")


def operators():
    """Every active Operator (the queryset form of ``is_operator``: the permission through a group
    or directly, or a superuser), for reports, routing's notifications and digests."""
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    perm = dict(codename="view_all_conversations", content_type__app_label="roles")
    q = (Q(is_superuser=True) | Q(**{f"groups__permissions__{k}": v for k, v in perm.items()})
         | Q(**{f"user_permissions__{k}": v for k, v in perm.items()}))
    return get_user_model().objects.filter(q, is_active=True).distinct()


def can_view_monitor(user) -> bool:
    return has_capability(user, "view_monitor")


def can_reassign(user) -> bool:
    return has_capability(user, "reassign_conversation")


def can_view_reports(user) -> bool:
    return has_capability(user, "view_reports")


def can_configure(user) -> bool:
    return has_capability(user, "configure_platform")


def can_manage_users(user) -> bool:
    return has_capability(user, "manage_users")
