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


def membership_saved(*, membership: Membership, actor=None, created: bool) -> None:
    """For the admin, which saves the row itself: mirror flags into permissions and audit."""
    _sync_permissions(membership)
    audit_record(actor=actor, action="membership.add" if created else "membership.change", target=membership,
                 changes={f: getattr(membership, f) for f in (*PERM_FLAGS, "is_senior")})


@transaction.atomic
def membership_remove(*, membership: Membership, actor=None) -> None:
    for perm in PERM_FLAGS.values():
        remove_perm(perm, membership.user, membership.department)
    audit_record(actor=actor, action="membership.remove", target=membership)
    membership.delete()


def department_default() -> Department | None:
    return Department.objects.filter(is_default=True, is_active=True).first()
