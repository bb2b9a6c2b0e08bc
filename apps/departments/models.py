from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase


class Department(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    # What customers and staff read, per language (``names.localized_name``); empty: the name above.
    name_es = models.CharField(_("name in Spanish"), max_length=100, blank=True)
    name_en = models.CharField(_("name in English"), max_length=100, blank=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    is_default = models.BooleanField(
        _("default department"), default=False,
        help_text=_("Receives out-of-scope and negative-sentiment handoffs, and anything with no better place."))
    backup = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="backs_up",
                               verbose_name=_("backup department"),
                               help_text=_("Takes this department's chats out of hours or when escalation says so."))
    is_active = models.BooleanField(_("active"), default=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True,
                                 help_text=_("Empty: the operation's time zone."))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        default_permissions = ("add", "change", "delete", "view")
        permissions = [
            ("handle_department", _("Handle chats of this department (see its queue, pick up, reply)")),
            ("archive_department", _("Resolve and archive chats of this department")),
            ("transfer_department", _("Transfer chats of this department to another department")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["is_default"], condition=models.Q(is_default=True),
                                    name="one_default_department"),
        ]

    def __str__(self) -> str:
        # In the reader's language (the request's, or the one a customer message is written in).
        from .names import localized_name

        return localized_name(self)


class Membership(models.Model):
    """A human's membership of a department, with what they may do there.

    Saved through ``apps.departments.services`` which mirrors the flags into django-guardian
    object permissions on the Department (the source visibility reads).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships",
                             verbose_name=_("user"))
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="memberships",
                                   verbose_name=_("department"))
    can_handle = models.BooleanField(_("may handle chats"), default=True)
    can_archive = models.BooleanField(_("may resolve and archive"), default=True)
    can_transfer = models.BooleanField(_("may transfer to other departments"), default=True)
    is_senior = models.BooleanField(_("senior"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [models.UniqueConstraint(fields=["user", "department"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.department}"


# Direct-FK object permission tables (guardian picks them up automatically). Integer foreign keys
# let visibility use a plain indexed subquery instead of casting guardian's generic object_pk.
class DepartmentUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        indexes = [models.Index(fields=["user", "permission", "content_object"], name="dept_uop_lookup")]


class DepartmentGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Department, on_delete=models.CASCADE)
