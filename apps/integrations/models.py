"""Integration state: API tokens, idempotency records, outgoing webhooks, inbound webhook inbox."""
from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def _new_key() -> str:
    return uuid.uuid4().hex


def _hash_key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class Integration(models.Model):
    """A system that talks to us (a CRM, a bot, a form). It acts as its own service user, so the
    visibility module decides what it may see exactly as for a human."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="integration",
                                verbose_name=_("service user"),
                                help_text=_("The account the integration acts as (its role and departments apply)."))
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")

    def __str__(self) -> str:
        return self.name


class ApiToken(models.Model):
    """A revocable bearer token of a user or of an integration. Only a hash is stored."""

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        WRITE = "write", _("Read and write")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens",
                             verbose_name=_("user"))
    integration = models.ForeignKey(Integration, null=True, blank=True, on_delete=models.CASCADE,
                                    related_name="tokens", verbose_name=_("integration"))
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=12, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scope = models.CharField(_("scope"), max_length=10, choices=Scope.choices, default=Scope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @classmethod
    def issue(cls, *, user, name: str, scope: str = Scope.READ, integration: Integration | None = None
              ) -> tuple["ApiToken", str]:
        """Create a token; the raw key is returned once and never stored."""
        raw = "ac_" + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, integration=integration, name=name[:100], scope=scope,
                                   prefix=raw[:10], key_hash=_hash_key(raw))
        return token, raw

    @classmethod
    def lookup(cls, raw: str) -> "ApiToken | None":
        return (cls.objects.select_related("user", "integration")
                .filter(key_hash=_hash_key(raw), revoked_at__isnull=True).first())

    def revoke(self) -> None:
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.integration is None or self.integration.is_active)


class IdempotencyRecord(models.Model):
    """The stored answer to a POST sent with an Idempotency-Key: a replay gets the same response."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="unique_idempotency_key")]


class WebhookEndpoint(models.Model):
    """An Operator-configured receiver of our events, signed per Standard Webhooks."""

    EVENTS = (
        ("conversation.created", _("Conversation created")),
        ("conversation.handed_off", _("Conversation handed off")),
        ("conversation.assigned", _("Conversation assigned")),
        ("conversation.resolved", _("Conversation resolved and archived")),
        ("conversation.reopened", _("Conversation reopened")),
        ("message.created", _("Message created")),
        ("csat.submitted", _("CSAT submitted")),
    )

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(_("signing secret"), max_length=100, blank=True,
                              help_text=_("whsec_… (generated when empty). Share it with the receiver."))
    events = models.JSONField(_("events"), default=list, blank=True,
                              help_text=_("Event types to send; empty means all."))
    is_active = models.BooleanField(_("active"), default=True)
    allow_private_network = models.BooleanField(
        _("allow private network targets"), default=False,
        help_text=_("Only for receivers inside your own network: loopback and private addresses are refused otherwise."))
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True, editable=False)
    disabled_reason = models.CharField(_("why it was disabled"), max_length=255, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url

    def save(self, *args, **kwargs):
        if not self.secret:
            import base64

            self.secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
        super().save(*args, **kwargs)

    def wants(self, event_type: str) -> bool:
        return not self.events or event_type in self.events


class WebhookDelivery(models.Model):
    """One event for one endpoint: the outbox row and its delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENDING = "sending", _("Sending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Failed")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40, db_index=True)
    event_type = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="whdelivery_due")]


class InboundWebhook(models.Model):
    """A verified provider webhook body, stored before any processing (restart-safe inbox).

    The body hash is unique per channel: Meta redelivers identical bodies, which stop here."""

    channel = models.ForeignKey("conversations.Channel", on_delete=models.CASCADE, related_name="+")
    body_sha256 = models.CharField(max_length=64)
    payload = models.JSONField()
    processed_at = models.DateTimeField(null=True, blank=True)
    # Lease of the worker processing the row (a conditional UPDATE claims it; a crashed worker's
    # claim simply expires and ``inbound_sweep`` picks the row up again).
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["channel", "body_sha256"], name="unique_inbound_body")]
        indexes = [models.Index(fields=["created_at"], condition=models.Q(processed_at__isnull=True),
                                name="inbound_unprocessed")]


class OutboundClaim(models.Model):
    """The delivery of one outgoing message to its provider (one row per message): an outbox row.

    Written in the transaction that stores the message (so a send cannot be lost between the
    commit and the enqueue), then claimed with a conditional UPDATE before the provider is called,
    so a duplicate task run never sends the same message twice. ``claimed_until`` is the lease of
    the worker sending it, and after a transient failure the time of the next attempt: the beat
    sweep (``outbound_sweep``) re-sends every unfinished row whose lease is over or that nobody
    claimed. ``provider_called_at`` is set (and committed) just before the provider is called, so
    a redelivery after a crash knows that an earlier call may have reached the provider."""

    message = models.OneToOneField("conversations.Message", on_delete=models.CASCADE, related_name="+")
    idempotency_key = models.CharField(max_length=64, unique=True, default=_new_key, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    provider_called_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    # When a task for this row was last put on the queue (with the message, a retry's due time, a
    # sweep), cleared when a worker claims the row (that task reached a worker). While it is set and
    # younger than OUTBOUND_QUEUED_MAX_SECONDS the sweep leaves the row alone: its task is waiting in
    # a backlog, and queueing it again would only deepen that backlog.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    enqueues = models.PositiveIntegerField(default=0)  # tasks queued for this row (the first one included)

    class Meta:
        indexes = [models.Index(fields=["claimed_until"], condition=models.Q(finished_at__isnull=True),
                                name="outbound_unfinished")]
