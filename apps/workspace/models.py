from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ReadMarker(models.Model):
    """How far a staff user has read a conversation: the source of unread counts.

    Only the last read message id is kept (message ids grow monotonically), so an unread count is
    one indexed comparison and marking read is one upsert.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE, related_name="+")
    last_read_message_id = models.BigIntegerField(_("last read message"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("read marker")
        verbose_name_plural = _("read markers")
        constraints = [models.UniqueConstraint(fields=["user", "conversation"], name="unique_read_marker")]


class Label(models.Model):
    """A tag any member who sees a chat may put on it ("billing", "router-down"); Operators curate the list."""

    name = models.CharField(_("name"), max_length=50, unique=True)
    class Color(models.TextChoices):  # a fixed palette: contrast checked once, no inline styles
        BLUE = "blue", _("Blue")
        GREEN = "green", _("Green")
        AMBER = "amber", _("Amber")
        RED = "red", _("Red")
        PURPLE = "purple", _("Purple")
        GREY = "grey", _("Grey")

    color = models.CharField(_("colour"), max_length=10, choices=Color.choices, default=Color.BLUE)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("label")
        verbose_name_plural = _("labels")

    def __str__(self) -> str:
        return self.name


class ConversationLabel(models.Model):
    """One label on one conversation (who put it and when, for the timeline and reports).

    ``is_open`` copies "the conversation is not archived" onto the link (denormalised), so the
    label filter of the open lists reads only the label's open chats from a partial index instead
    of every chat that ever had the label (at 1,000,000 conversations a label's history is
    thousands of rows, its open chats a few dozen). ``services.label_add`` sets it; archiving and
    reopening update it in the same transaction as the status change (``services.labels_follow_status``,
    a reaction to the core's ``record.written`` event). True by default: a stale True only makes the
    filter read a few more rows (the list still filters on the status); a False on an open chat
    would hide it, and nothing sets False but an archive.
    """

    conversation = models.ForeignKey("conversations.Conversation", on_delete=models.CASCADE,
                                     related_name="label_links")
    label = models.ForeignKey(Label, on_delete=models.CASCADE, related_name="links")
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # db_default too: a process still running the code before 0006 (a rolling deploy) inserts
    # links without the column.
    is_open = models.BooleanField(_("conversation open"), default=True, db_default=True, editable=False)

    class Meta:
        verbose_name = _("conversation label")
        verbose_name_plural = _("conversation labels")
        constraints = [models.UniqueConstraint(fields=["conversation", "label"], name="unique_conversation_label")]
        # The list filter walks label -> conversations; the open lists only the label's open chats.
        indexes = [models.Index(fields=["label", "conversation"], name="convlabel_label_conv"),
                   models.Index(fields=["label", "conversation"], condition=models.Q(is_open=True),
                                name="convlabel_open_label_conv")]


class SavedReply(models.Model):
    """A canned answer inserted with "/" in the reply box.

    A department's replies are shared by its members (Operators manage them in the admin);
    a personal one (``owner`` set, no department) is its owner's only. ``{customer_name}`` and
    ``{agent_name}`` are filled in when the reply is inserted.
    """

    title = models.CharField(_("title"), max_length=80)
    shortcut = models.SlugField(_("shortcut"), max_length=40, allow_unicode=True,
                                help_text=_('Typed after "/" in the reply box, e.g. "restart".'))
    body = models.TextField(_("text"), max_length=4096,
                            help_text=_("You may use {customer_name} and {agent_name}."))
    department = models.ForeignKey("departments.Department", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="saved_replies", verbose_name=_("department"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="saved_replies", verbose_name=_("personal, of"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["shortcut"]
        verbose_name = _("saved reply")
        verbose_name_plural = _("saved replies")
        constraints = [
            models.CheckConstraint(condition=models.Q(department__isnull=True) | models.Q(owner__isnull=True),
                                   name="saved_reply_department_or_personal"),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}"
