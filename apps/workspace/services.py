"""Writes of the workspace: labels on conversations and saved replies.

Labels are not part of a conversation's lifecycle (no status, department or assignee change), so
they live here rather than in the conversations core; who may label is still decided by the
visibility module: anyone who may see the chat.
"""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from apps.conversations import access
from apps.conversations.models import Conversation, ConversationEvent, Status
from apps.core.errors import InvalidInput
from apps.core.realtime import signal_users_on_commit

from .models import ConversationLabel, Label, SavedReply


def _signal(conv: Conversation) -> None:
    signal_users_on_commit(access.conversation_audience(conv),
                           {"what": "conversation", "conversation": conv.pk, "department": conv.department_id})


@transaction.atomic
def label_add(*, user, conversation_id: int, label_id: int) -> ConversationLabel:
    conv = access.conversation_get_or_404(user, conversation_id, "view")
    label = Label.objects.filter(pk=label_id, is_active=True).first()
    if label is None:
        raise InvalidInput(_("Choose one of the labels."))
    try:
        with transaction.atomic():
            link = ConversationLabel.objects.create(conversation=conv, label=label, added_by=user,
                                                    is_open=conv.status != Status.ARCHIVED)
    except IntegrityError:  # already there (or a double click): labelling is idempotent
        return ConversationLabel.objects.get(conversation=conv, label=label)
    _signal(conv)
    return link


def labels_follow_status(event, record) -> None:
    """``record.written`` (in the transaction): a conversation was archived or reopened, so its
    labels' ``is_open`` follows, committed or rolled back with the status change itself. The core
    publishes the event row of every transition (``conversations.services._transition``); nothing
    else writes a conversation's status."""
    if not isinstance(record, ConversationEvent):
        return
    was_open, is_open = record.from_status != Status.ARCHIVED, record.to_status != Status.ARCHIVED
    if was_open != is_open:
        ConversationLabel.objects.filter(conversation_id=record.conversation_id).update(is_open=is_open)


@transaction.atomic
def label_remove(*, user, conversation_id: int, label_id: int) -> None:
    conv = access.conversation_get_or_404(user, conversation_id, "view")
    if ConversationLabel.objects.filter(conversation=conv, label_id=label_id).delete()[0]:
        _signal(conv)


# --- saved replies -------------------------------------------------------------------------------

def saved_replies_for(user, conversation: Conversation | None = None) -> QuerySet[SavedReply]:
    """The user's own replies, their departments' and the open conversation's department's."""
    departments = access.departments_for(user).values("pk")
    q = Q(owner_id=user.pk) | Q(department_id__in=departments)
    if conversation is not None and conversation.department_id:
        q |= Q(department_id=conversation.department_id)
    return SavedReply.objects.filter(q).select_related("department").order_by("shortcut", "id")


def saved_reply_render(reply: SavedReply, *, user, conversation: Conversation | None) -> str:
    """The reply's text with its variables filled in (unknown braces are left as typed)."""
    values = {
        "customer_name": (conversation.contact.name if conversation is not None else "") or _("there"),
        "agent_name": getattr(user, "public_name", "") or user.get_username(),
    }
    text = reply.body
    for key, value in values.items():
        text = text.replace("{%s}" % key, value)
    return text


def saved_reply_create(*, user, title: str, shortcut: str, body: str) -> SavedReply:
    """A personal saved reply (department ones are managed by Operators in the admin)."""
    from django.utils.text import slugify

    title, body = (title or "").strip()[:80], (body or "").strip()
    shortcut = slugify(shortcut or title, allow_unicode=True)[:40]
    if not title or not body or not shortcut:
        raise InvalidInput(_("A saved reply needs a title, a shortcut and a text."))
    if len(body) > 4096:
        raise InvalidInput(_("A saved reply can be at most 4096 characters long."))
    return SavedReply.objects.create(owner=user, title=title, shortcut=shortcut, body=body)


def saved_reply_delete(*, user, pk: int) -> bool:
    """Delete one of the user's personal replies (someone else's is simply not found)."""
    return bool(SavedReply.objects.filter(pk=pk, owner_id=user.pk).delete()[0])


# --- the web chat visitor's own details ----------------------------------------------------------

@transaction.atomic
def contact_profile_from_visitor(*, contact_id: int, name: str = "", email: str = "", identified: bool = False) -> None:
    """The name and e-mail a web chat visitor gave (widget.visitor_profile_set validated them).

    An anonymous visitor's Contact takes them as given. A customer identified by the embedding
    site (their CRM record) only fills what is empty: a visitor cannot rewrite a known customer's
    details. An address given here is a note for the team, never an e-mail identity, and the e-mail
    channel threads only its own conversations: it cannot pull anyone's mail into this chat."""
    from apps.conversations.models import Contact

    contact = Contact.objects.select_for_update().filter(pk=contact_id).first()
    if contact is None:
        return
    changed = []
    if name and (not identified or not contact.name) and contact.name != name:
        contact.name, changed = name, [*changed, "name"]
    if email and (not identified or not contact.email) and contact.email != email:
        contact.email, changed = email, [*changed, "email"]
    if changed:
        contact.save(update_fields=changed)
        for conv in Conversation.objects.filter(contact_id=contact_id).exclude(status="archived"):
            _signal(conv)  # the side panel shows the new details
