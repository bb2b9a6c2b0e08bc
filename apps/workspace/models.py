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
