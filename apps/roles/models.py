from django.db import models
from django.utils.translation import gettext_lazy as _


class Capability(models.Model):
    """Holds the global (not per-object) permissions that make up the Operator role.

    No rows are ever stored; the model exists so the permissions have a content type and can be
    bundled into the Operator group like any Django permission.
    """

    class Meta:
        managed = True
        default_permissions = ()
        verbose_name = _("capability")
        permissions = [
            ("view_all_conversations", _("See every conversation of every department, archived too")),
            ("view_monitor", _("See the real-time monitor of all departments")),
            ("reassign_conversation", _("Reassign chats between agents and departments")),
            ("view_reports", _("Read reports and dashboards")),
            ("configure_platform", _("Configure bots, departments, rules, schedules and integrations")),
            ("manage_users", _("Manage users, roles and memberships")),
            ("view_audit_log", _("Read the configuration audit log")),
        ]
