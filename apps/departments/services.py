"""Memberships: the only writer of per-department object permissions."""
from __future__ import annotations

from django.db import transaction
from guardian.shortcuts import assign_perm, remove_perm

from apps.core.audit import audit_record

from .models import Department, Membership

PERM_FLAGS = {
    "can_handle": "departments.handle_department",
    "can_archive": "departments.archive_department",
    "can_transfer": "departments.transfer_department",
}


def _sync_permissions(membership: Membership) -> None:
    for flag, perm in PERM_FLAGS.items():
        if getattr(membership, flag):
            assign_perm(perm, membership.user, membership.department)
        else:
            remove_perm(perm, membership.user, membership.department)


@transaction.atomic
def membership_set(*, user, department: Department, actor=None, can_handle: bool = True, can_archive: bool = True,
                   can_transfer: bool = True, is_senior: bool = False) -> Membership:
    membership, created = Membership.objects.get_or_create(user=user, department=department)
    before = {f: getattr(membership, f) for f in (*PERM_FLAGS, "is_senior")}
    membership.can_handle, membership.can_archive = can_handle, can_archive
    membership.can_transfer, membership.is_senior = can_transfer, is_senior
    membership.save()
    _sync_permissions(membership)
    after = {f: getattr(membership, f) for f in (*PERM_FLAGS, "is_senior")}
    if created or before != after:
        audit_record(actor=actor, action="membership.add" if created else "membership.change", target=membership,
                     changes={k: [None if created else before[k], after[k]] for k in after if created or before[k] != after[k]})
    return membership


def membership_previous(membership: Membership) -> tuple[int, int] | None:
    """The stored (user_id, department_id) of a membership about to be saved (None when new)."""
    if membership.pk is None:
        return None
    return Membership.objects.filter(pk=membership.pk).values_list("user_id", "department_id").first()


def membership_saved(*, membership: Membership, actor=None, created: bool,
                     previous: tuple[int, int] | None = None) -> None:
    """For the admin, which saves the row itself: mirror flags into permissions and audit.

    ``previous`` is what ``membership_previous`` read before the save: when the admin moved the row to
    another user or department, the old pair loses its permissions here, or the old department's
    chats would stay visible to that person.
    """
    changes = {f: getattr(membership, f) for f in (*PERM_FLAGS, "is_senior")}
    if previous and previous != (membership.user_id, membership.department_id):
        old_user = type(membership.user).objects.get(pk=previous[0])
        old_department = Department.objects.get(pk=previous[1])
        if not Membership.objects.filter(user=old_user, department=old_department).exists():
            for perm in PERM_FLAGS.values():
                remove_perm(perm, old_user, old_department)
        changes["moved_from"] = {"user": previous[0], "department": previous[1]}
    _sync_permissions(membership)
    audit_record(actor=actor, action="membership.add" if created else "membership.change", target=membership,
                 changes=changes)


@transaction.atomic
def membership_remove(*, membership: Membership, actor=None) -> None:
    for perm in PERM_FLAGS.values():
        remove_perm(perm, membership.user, membership.department)
    audit_record(actor=actor, action="membership.remove", target=membership)
    membership.delete()


def department_default() -> Department | None:
    return Department.objects.filter(is_default=True, is_active=True).first()
