from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CopilotConfig(AppConfig):
    name = "apps.copilot"
    label = "copilot"
    verbose_name = _("Copilot")
    default_auto_field = "django.db.models.BigAutoField"
