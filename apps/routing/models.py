"""Routing data: presence and capacity, schedules, per-department modes, rules, escalation timers,
the deadline rows the sweep claims, and Operator notifications.

Deadlines live in ``ConversationDeadline``, a one-to-one table keyed by conversation and owned by
routing, rather than columns on ``Conversation``: the sweep's hot index stays narrow (only open
chats with a timer have a row), the core table and its migrations stay untouched, and the claim
lease/token columns are routing's business alone.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Presence(models.TextChoices):
    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class AgentPresence(models.Model):
    """A human's availability and chat capacity (max concurrent active chats)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE,
                                related_name="presence", verbose_name=_("user"))
    status = models.CharField(_("presence"), max_length=10, choices=Presence.choices, default=Presence.OFFLINE)
    capacity = models.PositiveSmallIntegerField(_("chat capacity"), default=3,
                                                help_text=_("Maximum concurrent active chats, all channels."))
    channel_capacity = models.JSONField(
        _("capacity per channel"), default=dict, blank=True,
        help_text=_('Optional limits per channel kind, e.g. {"whatsapp": 2, "email": 5}.'))
    languages = models.CharField(_("languages"), max_length=100, blank=True,
                                 help_text=_("Comma-separated language codes the agent speaks, e.g. 'es,en'."))
    teams = models.CharField(_("teams"), max_length=200, blank=True,
                             help_text=_("Comma-separated team names used by routing rules, e.g. 'whatsapp'."))
    last_assigned_at = models.DateTimeField(_("last automatic assignment"), null=True, blank=True)
    changed_at = models.DateTimeField(_("presence changed"), null=True, blank=True)
    connections = models.PositiveIntegerField(_("open connections"), default=0)
    offline_due_at = models.DateTimeField(
        _("next presence step at"), null=True, blank=True,
        help_text=_("Set when the last connection closed: the sweep marks an online agent away after the grace "
                    "period, and an away agent offline after a long absence."))
    auto_away = models.BooleanField(
        _("away because disconnected"), default=False,
        help_text=_("Away was set by the sweep (the last tab closed), not by the person: reconnecting brings them "
                    "back online."))
    online_at_login = models.BooleanField(
        _("go online at login"), default=True,
        help_text=_("Remembered from the sign-in page: whether signing in also sets this person online."))
    last_seen = models.DateTimeField(
        _("last seen"), null=True, blank=True,
        help_text=_("Last sign of life of an open connection (connect, heartbeat, disconnect). Open connections "
                    "without a recent heartbeat (a crashed or restarted server) count as closed."))

    class Meta:
        verbose_name = _("agent presence and capacity")
        verbose_name_plural = _("agent presence and capacity")
        indexes = [models.Index(fields=["offline_due_at"], name="presence_offline_due",
                                condition=models.Q(offline_due_at__isnull=False))]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_status_display()})"

    def language_set(self) -> set[str]:
        return {x.strip().lower() for x in self.languages.split(",") if x.strip()}

    def team_set(self) -> set[str]:
        return {x.strip().lower() for x in self.teams.split(",") if x.strip()}


class PresenceSession(models.Model):
    """One stretch of time a human was logged in (online or away), for reports' logged-in hours.

    Opened when presence leaves "offline", closed when it returns there (set by the person, or by the
    sweep after the grace period / a stale heartbeat). At most one open row per user.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presence_sessions",
                             verbose_name=_("user"))
    started_at = models.DateTimeField(_("from"))
    ended_at = models.DateTimeField(_("until"), null=True, blank=True)
    end_reason = models.CharField(_("ended because"), max_length=30, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("presence session")
        verbose_name_plural = _("presence sessions")
        indexes = [models.Index(fields=["user", "started_at"], name="presence_session_user")]
        constraints = [models.UniqueConstraint(fields=["user"], condition=models.Q(ended_at__isnull=True),
                                               name="one_open_presence_session")]

    def __str__(self) -> str:
        return f"{self.user} {self.started_at:%Y-%m-%d %H:%M}"


class Mode(models.TextChoices):
    LOAD = "load", _("By load (fewest active chats)")
    ROUND_ROBIN = "round_robin", _("Round robin")
    RULES = "rules", _("By rules, then by load")
    MANUAL = "manual", _("Manual only (members pick up)")


class Reclaim(models.TextChoices):
    REQUEUE = "requeue", _("Back to the queue (and routed again)")
    KEEP = "keep", _("Keep them with the agent")


class DepartmentRouting(models.Model):
    """How one department routes and escalates its chats."""

    department = models.OneToOneField("departments.Department", primary_key=True, on_delete=models.CASCADE,
                                      related_name="routing", verbose_name=_("department"))
    mode = models.CharField(_("assignment mode"), max_length=20, choices=Mode.choices, default=Mode.MANUAL)
    use_schedule = models.BooleanField(
        _("follow business hours"), default=False,
        help_text=_("Out of hours, chats go to the backup department (if any) and nobody is auto-assigned."))
    pickup_minutes = models.PositiveIntegerField(
        _("escalate unpicked chats after (minutes)"), null=True, blank=True,
        help_text=_("Empty: no escalation for chats waiting in the queue."))
    pickup_auto_assign = models.BooleanField(_("then auto-assign to anyone available"), default=True)
    pickup_to_backup = models.BooleanField(_("then move to the backup department"), default=False)
    pickup_notify = models.BooleanField(_("then notify the supervising Operators"), default=True)
    reply_minutes = models.PositiveIntegerField(
        _("back to the queue without a human reply after (minutes)"), null=True, blank=True,
        help_text=_("Empty: an assigned chat stays with its agent however long it waits."))
    offline_reclaim = models.CharField(_("when an agent goes offline"), max_length=20, choices=Reclaim.choices,
                                       default=Reclaim.REQUEUE)
    supervisors = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+",
                                         verbose_name=_("supervising Operators"),
                                         help_text=_("Empty: every Operator is notified."))

    class Meta:
        verbose_name = _("department routing")
        verbose_name_plural = _("department routing")

    def __str__(self) -> str:
        return str(self.department)


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class Interval(models.Model):
    """An opening interval starting on ``weekday``; ``end <= start`` means it runs past midnight
    (22:00-06:00 belongs to the evening it starts)."""

    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("from"))
    end = models.TimeField(_("until"))

    class Meta:
        abstract = True
        ordering = ["weekday", "start"]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class BusinessHours(Interval):
    routing = models.ForeignKey("DepartmentRouting", on_delete=models.CASCADE, related_name="hours",
                                verbose_name=_("department"))

    class Meta(Interval.Meta):
        verbose_name = _("business hours interval")
        verbose_name_plural = _("business hours")


class AgentShift(Interval):
    """When an agent may be assigned. An agent with no shift rows is in shift whenever online."""

    presence = models.ForeignKey(AgentPresence, on_delete=models.CASCADE, related_name="shifts",
                                 verbose_name=_("agent"))

    class Meta(Interval.Meta):
        verbose_name = _("agent shift")
        verbose_name_plural = _("agent shifts")


class Holiday(models.Model):
    """A closed day (local calendar date). No department: closed for every department."""

    department = models.ForeignKey("departments.Department", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="holidays", verbose_name=_("department"))
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class RuleAttribute(models.TextChoices):
    VIP = "contact.is_vip", _("Contact is VIP")
    LANGUAGE = "conversation.language", _("Conversation language")
    CHANNEL = "channel.kind", _("Channel kind")
    CONTACT_ATTRIBUTE = "contact.attribute", _("Contact attribute (key=value)")


class RuleTarget(models.TextChoices):
    SENIOR = "senior", _("Senior members")
    LANGUAGE = "language", _("Agents speaking the language")
    TEAM = "team", _("Agents of a team")


class RoutingRule(models.Model):
    """Ordered condition -> target group. The first matching rule with an available agent wins;
    otherwise assignment falls back to load."""

    routing = models.ForeignKey("DepartmentRouting", on_delete=models.CASCADE, related_name="rules",
                                verbose_name=_("department"))
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    attribute = models.CharField(_("when"), max_length=30, choices=RuleAttribute.choices)
    value = models.CharField(_("equals"), max_length=100, blank=True,
                             help_text=_("'true' for VIP; a language code; a channel kind; key=value for attributes."))
    target = models.CharField(_("assign to"), max_length=20, choices=RuleTarget.choices)
    target_value = models.CharField(_("team or language"), max_length=100, blank=True,
                                    help_text=_("Team name, or language code (empty: the conversation's language)."))

    class Meta:
        ordering = ["routing", "position", "id"]
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")

    def __str__(self) -> str:
        return f"{self.get_attribute_display()} = {self.value} -> {self.get_target_display()} {self.target_value}"


class DeadlineKind(models.TextChoices):
    PICKUP = "pickup", _("Waiting to be picked up")
    REPLY = "reply", _("Waiting for the first human reply")


class ConversationDeadline(models.Model):
    """The next escalation deadline of one open conversation (see the module docstring).

    ``armed_for`` is the ``queued_at``/``assigned_at`` of the conversation the timer belongs to: if
    the chat moved on (picked up, reassigned, requeued), the stale timer is recognised and re-armed.
    ``claim_token`` is written by the conditional UPDATE that claims a due row; only the holder of
    the token may act on it, and an expired lease (worker killed) lets the next sweep take it over.
    """

    conversation = models.OneToOneField("conversations.Conversation", primary_key=True, on_delete=models.CASCADE,
                                        related_name="deadline")
    kind = models.CharField(max_length=10, choices=DeadlineKind.choices)
    due_at = models.DateTimeField(null=True, blank=True)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    armed_for = models.DateTimeField(null=True, blank=True)
    stage = models.PositiveSmallIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When the supervising Operators were last told about this chat (kept across re-arms, so a
    # short pick-up timer does not notify every few minutes).
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("escalation deadline")
        verbose_name_plural = _("escalation deadlines")
        indexes = [models.Index(fields=["due_at"], name="deadline_due", condition=models.Q(due_at__isnull=False))]


class Notification(models.Model):
    """An in-app notice to an Operator (escalations); pushed live as a signal, read on the list page."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="routing_notifications")
    conversation = models.ForeignKey("conversations.Conversation", null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="+")
    kind = models.CharField(max_length=30)
    text = models.CharField(_("text"), max_length=300)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [models.Index(fields=["user", "read_at"], name="notif_user_unread")]

    def __str__(self) -> str:
        return self.text
