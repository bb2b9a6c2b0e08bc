"""Report configuration (cost, business hours) and the derived rollup tables.

Rollup tables hold numbers derived from the ConversationEvent log and messages only: they can be
dropped and rebuilt at any time with ``manage.py reports_rebuild``. Dimension columns are plain
integers (0 = none / the AI Agent) rather than foreign keys, so a rebuild never fights PROTECT
rules and a bucket key is total (no NULLs in the unique constraint).
"""
from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from .definitions import COUNTERS


class CostSettings(models.Model):
    """One row, edited by Operators in the admin: the inputs of cost per resolved conversation."""

    currency = models.CharField(_("currency"), max_length=8, default="USD")
    operator_seats = models.PositiveIntegerField(
        _("Operator seats"), null=True, blank=True,
        help_text=_("Empty: count the active users with the Operator role."))
    operator_seat_monthly_cost = models.DecimalField(_("monthly cost per Operator seat"), max_digits=12,
                                                     decimal_places=2, default=Decimal("0"))
    collaborator_hourly_cost = models.DecimalField(_("Collaborator hourly cost"), max_digits=12, decimal_places=2,
                                                   default=Decimal("0"))
    platform_monthly_cost = models.DecimalField(_("monthly platform cost"), max_digits=12, decimal_places=2,
                                                default=Decimal("0"))
    ai_cost_per_1k_tokens = models.DecimalField(
        _("AI cost per 1,000 tokens"), max_digits=12, decimal_places=6, default=Decimal("0"),
        help_text=_("Applied to the token usage the AI Agent records in its decision events."))
    ai_cost_per_conversation = models.DecimalField(
        _("AI cost per conversation"), max_digits=12, decimal_places=6, default=Decimal("0"),
        help_text=_("Applied to conversations the AI Agent took part in without recorded token usage."))
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("cost settings")
        verbose_name_plural = _("cost settings")

    def __str__(self) -> str:
        return str(_("Cost settings"))

    def save(self, *args, **kwargs):
        self.pk = 1  # a single row
        super().save(*args, **kwargs)

    @classmethod
    def current(cls) -> "CostSettings":
        return cls.objects.filter(pk=1).first() or cls(pk=1)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RollupState(models.Model):
    """High-water marks of the incremental refresh (one row). Locked while a refresh runs."""

    event_hwm = models.BigIntegerField(default=0)
    message_hwm = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)


class ConversationFact(models.Model):
    """What one conversation contributes to the buckets, as last computed from its full log.

    Keeping the contribution lets a refresh apply exact deltas (new minus old) when a chat
    changes, e.g. a reopen months later moves it out of 'deflected' into 'reopened'.
    """

    conversation_id = models.BigIntegerField(primary_key=True)
    last_event_id = models.BigIntegerField(default=0)
    last_message_id = models.BigIntegerField(default=0)
    contrib = models.JSONField(default=list)  # [[day_ordinal, dept, channel, agent, {counter: n}], ...]


def _counter_fields():
    return {name: models.BigIntegerField(default=0) for name in COUNTERS}


class DailyRollupBase(models.Model):
    day = models.DateField()
    department_id = models.BigIntegerField(default=0)
    channel_id = models.BigIntegerField(default=0)
    agent_id = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


DailyRollup = type("DailyRollup", (DailyRollupBase,), {
    "__module__": __name__,
    "__doc__": "Counters per local day x department x channel x agent (0 = the AI Agent / no human).",
    **_counter_fields(),
    "Meta": type("Meta", (), {
        "constraints": [models.UniqueConstraint(fields=["day", "department_id", "channel_id", "agent_id"],
                                                name="rollup_bucket")],
        "indexes": [models.Index(fields=["day", "department_id"], name="rollup_day_dept")],
    }),
})


class OperatorActivity(models.Model):
    """Which 15-minute slots of a local day a human acted in (events they caused, messages they sent).

    Bits are OR-ed, so applying the same event twice changes nothing (restart-safe).
    """

    day = models.DateField()
    user_id = models.BigIntegerField()
    slots_lo = models.BigIntegerField(default=0)  # slots 0..47
    slots_hi = models.BigIntegerField(default=0)  # slots 48..95

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "user_id"], name="activity_day_user")]
