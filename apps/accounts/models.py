from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A human of the operation: an Operator or a Collaborator.

    The role itself is a permission bundle (a Django group); ``role`` mirrors it for display and
    filtering and is kept in sync by ``apps.roles.services.user_set_role``. Access decisions read
    permissions, never this field.
    """

    class Role(models.TextChoices):
        OPERATOR = "operator", _("Operator")
        COLLABORATOR = "collaborator", _("Collaborator")

    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.COLLABORATOR)
    display_name = models.CharField(_("display name"), max_length=120, blank=True,
                                    help_text=_("Name shown to customers, e.g. 'María'."))
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES, blank=True,
                                help_text=_("Empty: follow the browser."))
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True,
                                 help_text=_("Empty: the operation's time zone."))
    is_external = models.BooleanField(_("external (outsourced)"), default=False)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.public_name

    @property
    def public_name(self) -> str:
        return self.display_name or self.first_name or self.username
