from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _


class Channel(models.Model):
    """An inbox: one web chat widget, one WhatsApp number, one mailbox..."""

    class Kind(models.TextChoices):
        WEBCHAT = "webchat", _("Web chat")
        WHATSAPP = "whatsapp", _("WhatsApp")
        MESSENGER = "messenger", _("Facebook Messenger")
        INSTAGRAM = "instagram", _("Instagram")
        EMAIL = "email", _("Email")
        API = "api", _("API")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    default_department = models.ForeignKey("departments.Department", null=True, blank=True,
                                           on_delete=models.SET_NULL, related_name="+",
                                           verbose_name=_("default department"))
    config = models.JSONField(_("configuration"), default=dict, blank=True,
                              help_text=_("Channel settings (ids, endpoints). Secrets come from the environment."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class Contact(models.Model):
    """A customer of the operation."""

    name = models.CharField(_("name"), max_length=200, blank=True)
    email = models.EmailField(_("email"), blank=True, db_index=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True, db_index=True)
    external_ref = models.CharField(_("customer number"), max_length=64, blank=True, db_index=True,
                                    help_text=_("Id of the customer in the operation's CRM."))
    is_vip = models.BooleanField(_("VIP"), default=False)
    language = models.CharField(_("language"), max_length=10, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"#{self.pk}"


class ContactIdentity(models.Model):
    """How a contact is known on one channel (wa_id, PSID, email address, widget visitor id)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(_("kind"), max_length=20, choices=Channel.Kind.choices)
    value = models.CharField(_("identifier"), max_length=255)

    class Meta:
        verbose_name = _("contact identity")
        verbose_name_plural = _("contact identities")
        constraints = [models.UniqueConstraint(fields=["kind", "value"], name="unique_identity_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class Status(models.TextChoices):
    BOT = "bot", _("With the AI Agent")
    TRANSFER = "transfer", _("Being transferred")
    UNASSIGNED = "unassigned", _("In queue")
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    ARCHIVED = "archived", _("Archived")


OPEN_STATUSES = (Status.BOT, Status.TRANSFER, Status.UNASSIGNED, Status.ASSIGNED, Status.IN_PROGRESS)
HUMAN_STATUSES = (Status.TRANSFER, Status.UNASSIGNED, Status.ASSIGNED, Status.IN_PROGRESS)
ACTIVE_HUMAN_STATUSES = (Status.ASSIGNED, Status.IN_PROGRESS)


def line_order() -> Coalesce:
    """A waiting chat's place in its department's line: since when the customer has waited for a
    person (``waiting_since``, which a requeue keeps), else since it entered the queue (``queued_at``:
    a queued chat whose wait a public reply of an Operator ended has no ``waiting_since``).

    Automatic assignment drains a queue in this order (then by id), a customer's place in line
    counts the chats before it, and the monitor lists the longest waits by it; the partial
    expression indexes ``conv_line_dept`` and ``conv_line_all`` are built from this same function,
    so the queries and the indexes cannot drift apart. The pick-up timer stays on ``queued_at``.
    """
    return Coalesce("waiting_since", "queued_at")


class Conversation(models.Model):
    """One conversation. ``status``, ``department`` and ``assignee`` are written only by
    ``apps.conversations.services`` (DESIGN.md invariant 2)."""

    Status = Status

    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="conversations",
                                verbose_name=_("contact"))
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="conversations",
                                verbose_name=_("channel"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.BOT)
    department = models.ForeignKey("departments.Department", null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="conversations", verbose_name=_("department"))
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="assigned_conversations", verbose_name=_("assignee"))
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    language = models.CharField(_("customer language"), max_length=10, blank=True)
    handoff_summary = models.TextField(_("handoff summary"), blank=True)
    handoff = models.JSONField(_("handoff context"), default=dict, blank=True,
                               help_text=_("Trigger, intent, scores and data collected before the handoff."))
    resolution = models.CharField(_("resolution"), max_length=30, blank=True)
    csat_score = models.PositiveSmallIntegerField(_("CSAT"), null=True, blank=True)
    csat_comment = models.TextField(_("CSAT comment"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    queued_at = models.DateTimeField(_("entered the queue"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("assigned"), null=True, blank=True)
    first_human_reply_at = models.DateTimeField(_("first human reply"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)
    last_customer_message_at = models.DateTimeField(_("last customer message"), null=True, blank=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)
    # Since when the customer has been waiting for a person: set when the chat reaches a human queue
    # (handoff, transfer, reopen) or when the customer writes again after a human answered; kept when
    # the chat goes back to the queue unanswered (a requeue is not a new wait, unlike ``queued_at``,
    # which keys the pick-up timer); cleared by a public human reply, the bot and the archive.
    waiting_since = models.DateTimeField(_("waiting for a person since"), null=True, blank=True, editable=False)
    # When the AI Agent's turn for the latest customer message was put on the queue: the agent's
    # reconcile leaves a turn that is only waiting in a backlog alone instead of queueing it again.
    bot_turn_enqueued_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Until when the assignee put the chat aside (``conversation_snooze``). Only an assigned or in
    # progress chat is snoozed; a time in the past means awake: the lists compare it with the
    # database's clock, so waking never depends on a timer having run. Cleared by a customer
    # message, by unsnoozing and by every status change (``services._transition``).
    snoozed_until = models.DateTimeField(_("snoozed until"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        indexes = [
            models.Index(fields=["department", "status", "queued_at"], name="conv_dept_status"),
            models.Index(fields=["assignee", "status"], name="conv_assignee_status"),
            models.Index(fields=["contact", "created_at"], name="conv_contact"),
            models.Index(fields=["status", "updated_at"], name="conv_status_updated"),
            # Queues: only waiting chats are indexed, so queue reads stay small at any history size.
            models.Index(fields=["department", "queued_at"], name="conv_queue_dept",
                         condition=models.Q(status="unassigned")),
            # The line (``line_order``): a department's queue in order, and every queue in order for
            # the monitor (``conv_line_all`` replaced ``conv_queue_all`` on ``queued_at``, which no
            # read orders by any more; the same rows, so no extra write cost).
            models.Index(models.F("department"), line_order(), models.F("id"), name="conv_line_dept",
                         condition=models.Q(status="unassigned")),
            models.Index(line_order(), models.F("id"), name="conv_line_all", condition=models.Q(status="unassigned")),
            # The sweep's "snoozes now due" read (``conversation_wake_due``, every beat): only the few
            # snoozed chats are in it, so it never scans the table's history.
            models.Index(fields=["snoozed_until"], name="conv_snoozed", condition=models.Q(snoozed_until__isnull=False)),
            # The archived lists' indexes (in the list's exact order, NULLS LAST on PostgreSQL) are
            # created by workspace migration 0004, per database (SQLite has no NULLS LAST in an index).
        ]
        constraints = [
            # A customer has one open conversation per channel: two first messages arriving at the
            # same instant (one per web process) must land in the same chat (message_receive).
            models.UniqueConstraint(fields=["contact", "channel"], condition=~models.Q(status=Status.ARCHIVED),
                                    name="one_open_conversation_per_contact_channel"),
            models.CheckConstraint(
                condition=~models.Q(status__in=[Status.ASSIGNED, Status.IN_PROGRESS]) | models.Q(assignee__isnull=False),
                name="assigned_has_assignee"),
            models.CheckConstraint(
                condition=~models.Q(status__in=[Status.UNASSIGNED, Status.ASSIGNED, Status.IN_PROGRESS])
                | models.Q(department__isnull=False),
                name="queued_has_department"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.contact} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status != Status.ARCHIVED


class ConversationShare(models.Model):
    """An explicit share of one conversation with one user (e.g. a specialist asked to look)."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_shares")
    shared_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["conversation", "user"], name="unique_share")]


class AuthorKind(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AI_AGENT = "ai_agent", _("AI Agent")
    HUMAN = "human", _("Human")
    SYSTEM = "system", _("System")


class Message(models.Model):
    AuthorKind = AuthorKind

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(_("author kind"), max_length=20, choices=AuthorKind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("human author"))
    body = models.TextField(_("text"))
    is_internal = models.BooleanField(_("internal note"), default=False)
    external_id = models.CharField(_("provider message id"), max_length=255, null=True, blank=True)
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    sources = models.JSONField(_("knowledge sources"), default=list, blank=True)
    meta = models.JSONField(default=dict, blank=True)
    delivery_status = models.CharField(_("delivery status"), max_length=20, blank=True)
    created_at = models.DateTimeField(_("sent"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [models.Index(fields=["conversation", "created_at"], name="msg_conv_created")]
        constraints = [
            # Providers retry and duplicate webhooks: one row per provider message id per channel.
            models.UniqueConstraint(fields=["channel", "external_id"], condition=models.Q(external_id__isnull=False),
                                    name="unique_provider_message"),
        ]

    def __str__(self) -> str:
        return f"{self.author_kind}: {self.body[:40]}"


class ConversationEvent(models.Model):
    """Append-only log of every state change, assignment and decision: the source of metrics."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Created")
        HANDOFF = "handoff", _("Handed off by the AI Agent")
        QUEUED = "queued", _("Entered the queue")
        ASSIGNED = "assigned", _("Assigned")
        PICKED_UP = "picked_up", _("Picked up")
        REASSIGNED = "reassigned", _("Reassigned")
        TRANSFERRED = "transferred", _("Transferred to another department")
        STARTED = "started", _("First human reply")
        REQUEUED = "requeued", _("Returned to the queue")
        ARCHIVED = "archived", _("Archived")
        REOPENED = "reopened", _("Reopened")
        RATED = "rated", _("Rated")
        SHARED = "shared", _("Shared")
        AGENT_DECISION = "agent_decision", _("AI Agent decision")
        ESCALATION = "escalation", _("Escalation rule")
        SNOOZED = "snoozed", _("Snoozed")
        UNSNOOZED = "unsnoozed", _("Unsnoozed")
        WOKE = "woke", _("Woke up from snooze")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(_("kind"), max_length=30, choices=Kind.choices)
    actor_kind = models.CharField(_("actor kind"), max_length=20, choices=AuthorKind.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("actor"))
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    from_department = models.ForeignKey("departments.Department", null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    to_department = models.ForeignKey("departments.Department", null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    from_assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                      related_name="+")
    to_assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("conversation event")
        verbose_name_plural = _("conversation events")
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="event_conv_created"),
            models.Index(fields=["kind", "created_at"], name="event_kind_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.from_status}->{self.to_status}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("conversation events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("conversation events are append-only")


class Attachment(models.Model):
    """A file on a message (a customer's photo or PDF, a file an agent sent).

    The bytes live under ``settings.ATTACHMENTS_ROOT`` (outside the web root and MEDIA_ROOT): they
    are served only by a view that asks the visibility module first. ``conversation`` repeats the
    message's so that check is one indexed lookup.
    """

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size in bytes"))
    path = models.CharField(max_length=255)
    thumbnail_path = models.CharField(max_length=255, blank=True)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
