"""Copilot: a per-department switch and a log of every suggestion shown, with what became of it."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CopilotSettings(models.Model):
    """Operators switch the copilot on per department (no row: off)."""

    department = models.OneToOneField("departments.Department", on_delete=models.CASCADE,
                                      related_name="copilot_settings", verbose_name=_("department"))
    enabled = models.BooleanField(_("copilot enabled"), default=True,
                                  help_text=_("Show suggested replies, knowledge search, summaries and rewrites "
                                              "to the people working this department's chats."))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("copilot settings")
        verbose_name_plural = _("copilot settings")

    def __str__(self) -> str:
        return str(self.department)


class CopilotSuggestion(models.Model):
    class Kind(models.TextChoices):
        REPLY = "reply", _("Suggested reply")
        SUMMARY = "summary", _("Conversation summary")
        HISTORY = "history", _("Previous conversations summary")
        REWRITE = "rewrite", _("Rewrite")
        SEARCH = "search", _("Knowledge search")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("Pending")
        USED = "used", _("Used as is")
        EDITED = "edited", _("Edited, then used")
        IGNORED = "ignored", _("Ignored")

    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE,
                                     related_name="copilot_suggestions", verbose_name=_("conversation"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    text = models.TextField(_("text"), blank=True)
    sources = models.JSONField(_("sources"), default=list, blank=True)
    provider = models.CharField(_("provider"), max_length=20, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), default=0)
    created = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    outcome = models.CharField(_("outcome"), max_length=8, choices=Outcome.choices, default=Outcome.PENDING)
    similarity = models.FloatField(_("final text similarity"), null=True, blank=True,
                                   help_text=_("0..1: how close the message sent was to this suggestion."))
    message = models.ForeignKey("conversations.Message", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("message sent"))
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("copilot suggestion")
        verbose_name_plural = _("copilot suggestions")
        indexes = [models.Index(fields=["conversation", "user", "outcome"], name="copilot_sugg_pending")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.outcome})"
