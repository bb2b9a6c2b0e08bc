"""Every write to a conversation's lifecycle goes through a function here (DESIGN.md invariant 2).

Each transition validates the move against the lifecycle, locks the row, saves with
``update_fields``, writes a ``ConversationEvent``, signals the live audience after commit and
publishes a domain event (``apps.core.events``) to which the apps above subscribe (the agent
turn, routing, channel delivery, outgoing webhooks); this module imports none of those apps.
Views, the API, the agent task and the timer sweeps all call these same functions.

Lifecycle (owner of each state in brackets)::

    bot [AI Agent] -> transfer [routing] -> unassigned [department queue]
        -> assigned [a human] -> in_progress [that human] -> archived (CSAT)
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core import channel_policy, events
from apps.core.errors import AlreadyTaken, ConversationAlreadyOpen, IllegalTransition, InvalidInput, NotAllowed
from apps.core.realtime import conversation_group, signal_groups_on_commit, signals_deferred, user_group
from apps.roles.access import can_reassign

from . import access, mentions
from .models import (ACTIVE_HUMAN_STATUSES, HUMAN_STATUSES, AuthorKind, Channel, Contact, Conversation,
                     ConversationEvent, ConversationShare, Message, Status)

# The customer waits for a person once the chat is in a human queue; while assigned they still wait
# until a public reply (``Conversation.waiting_since``).
WAITING_FOR_A_PERSON = (Status.TRANSFER, Status.UNASSIGNED)

log = logging.getLogger(__name__)
Kind = ConversationEvent.Kind

ALLOWED: dict[str, set[str]] = {
    Status.BOT: {Status.TRANSFER, Status.ARCHIVED},
    Status.TRANSFER: {Status.UNASSIGNED, Status.ASSIGNED, Status.ARCHIVED},
    Status.UNASSIGNED: {Status.ASSIGNED, Status.TRANSFER, Status.ARCHIVED},
    Status.ASSIGNED: {Status.IN_PROGRESS, Status.UNASSIGNED, Status.ASSIGNED, Status.TRANSFER, Status.ARCHIVED},
    Status.IN_PROGRESS: {Status.UNASSIGNED, Status.ASSIGNED, Status.TRANSFER, Status.ARCHIVED},
    Status.ARCHIVED: {Status.UNASSIGNED, Status.BOT},
}


@dataclass(frozen=True)
class Actor:
    """Who acts: a human user, the AI Agent (a first-class actor, not an account), the system or the customer."""

    kind: str
    user: Any = None

    @classmethod
    def human(cls, user) -> "Actor":
        return cls(AuthorKind.HUMAN, user)


AI_AGENT = Actor(AuthorKind.AI_AGENT)
SYSTEM = Actor(AuthorKind.SYSTEM)
CUSTOMER = Actor(AuthorKind.CUSTOMER)


def _as_actor(actor) -> Actor:
    if isinstance(actor, Actor):
        return actor
    if actor is None:
        return SYSTEM
    return Actor.human(actor)


# --- internals -------------------------------------------------------------------------------

def _lock(conversation: Conversation | int) -> Conversation:
    if isinstance(conversation, Conversation) and _holds_lock(conversation):
        return conversation
    pk = conversation.pk if isinstance(conversation, Conversation) else conversation
    return Conversation.objects.select_for_update().get(pk=pk)


class _LockMark:
    """Registered as a no-op commit hook by ``conversation_lock``: Django keeps a transaction's
    hooks until it commits or rolls back, and drops those of a savepoint rolled back (which, in
    PostgreSQL, also releases the row locks taken after it). So "our mark is still among the
    connection's pending hooks" is exactly "the lock taken with it is still held"."""

    __slots__ = ()

    def __call__(self) -> None:
        pass


def conversation_lock(conversation_id: int, *, related: tuple[str, ...] = ()) -> Conversation | None:
    """Lock a chat's row for the rest of the caller's open transaction and return it (None: gone).

    The services below, given this instance in the same transaction, use it as it is instead of
    locking and reading the row again (a loop of many small transactions, such as the escalation
    sweep, saves a query per call) and join the caller's transaction without a savepoint (``_atomic``:
    an error in them rolls back the caller's whole transaction). Nobody else can change the row
    under the lock, but the caller's own writes can: pass the instance only while nothing has
    written the chat by its id since."""
    qs = Conversation.objects.select_for_update(of=("self",)) if related else Conversation.objects.select_for_update()
    if related:
        qs = qs.select_related(*related)
    rows = list(qs.filter(pk=conversation_id)[:1])  # not .first(): no ORDER BY to build for one row
    conv = rows[0] if rows else None
    if conv is not None and transaction.get_connection().in_atomic_block:
        mark = _LockMark()
        transaction.on_commit(mark)
        conv._lock_mark = mark
    return conv


def _holds_lock(conv: Conversation) -> bool:
    mark = getattr(conv, "_lock_mark", None)
    if mark is None:
        return False
    connection = transaction.get_connection()
    return connection.in_atomic_block and any(func is mark for _sids, func, _robust in connection.run_on_commit)


def _atomic(service):
    """``transaction.atomic`` for a service that takes ``conversation``, except when given an
    instance the caller locked with ``conversation_lock`` in its still open transaction: then the
    service is one more statement of the caller's step, without a savepoint of its own (two round
    trips each, and a sweep step calls two or three services). The caller owns that transaction:
    an error in the service still propagates, and the caller's whole transaction rolls back (it
    cannot roll back to just before the service and carry on)."""

    @functools.wraps(service)
    def run(*args, **kwargs):
        conv = kwargs.get("conversation")
        with transaction.atomic(savepoint=not (isinstance(conv, Conversation) and _holds_lock(conv))):
            return service(*args, **kwargs)

    return run


def _check_move(conv: Conversation, to: str) -> None:
    if to not in ALLOWED[conv.status]:
        raise IllegalTransition(
            _("A conversation that is %(from)s cannot become %(to)s.")
            % {"from": Status(conv.status).label, "to": Status(to).label})


def _event(conv: Conversation, kind: str, actor: Actor, *, from_status: str = "", from_department_id=None,
           from_assignee_id=None, reason: str = "", payload: dict | None = None) -> ConversationEvent:
    event = ConversationEvent.objects.create(
        conversation=conv, kind=kind, actor_kind=actor.kind, actor=actor.user if actor.kind == AuthorKind.HUMAN else None,
        from_status=from_status, to_status=conv.status,
        from_department_id=from_department_id, to_department_id=conv.department_id,
        from_assignee_id=from_assignee_id, to_assignee_id=conv.assignee_id,
        reason=(reason or "")[:255], payload=payload or {},
    )
    _record_written(event)
    return event


def _record_written(record) -> None:
    """In-transaction hooks on every event/message row (integrations' webhook outbox rows)."""
    is_message = isinstance(record, Message)
    events.record_written.publish(conversation_id=record.conversation_id, message_id=record.pk if is_message else None,
                                  record=record, model="message" if is_message else "event")


def _actor_id(actor: Actor) -> int | None:
    return getattr(actor.user, "pk", None) if actor.kind == AuthorKind.HUMAN else None


def _needs_routing(conv: Conversation, reason: str, actor: Actor | None = None) -> None:
    events.conversation_needs_routing.publish(conversation_id=conv.pk, actor_id=_actor_id(actor) if actor else None,
                                              reason=reason)


def _released(conv: Conversation, user_id: int | None) -> None:
    """The previous assignee freed a slot (routing offers them the next chat after commit)."""
    if user_id:
        events.assignee_released.publish(conversation_id=conv.pk, user_id=user_id)


def _outgoing(msg: Message, actor_id: int | None = None) -> None:
    channel = msg.channel if msg.channel_id else None  # set from the locked chat's channel: no query
    events.message_outgoing.publish(conversation_id=msg.conversation_id, message_id=msg.pk, actor_id=actor_id,
                                    channel_kind=channel.kind if channel is not None else "")


_batch = threading.local()


@contextmanager
def signals_batched():
    """Within this block, the live signals of committed changes are sent when the block ends, with
    the audiences of all their conversations computed together (``access.conversation_audiences``:
    a handful of queries instead of one per change). For a loop of many small transactions (the
    escalation sweep's batch): the same signals to the same people, a batch later. A change rolled
    back signals nothing (only commits add to the batch). Nested use joins the outer batch. The
    other signals committed meanwhile (the Operators' "notification") are held too and each sent
    once (``realtime.signals_deferred``)."""
    if getattr(_batch, "pending", None) is not None:
        yield
        return
    with signals_deferred():
        _batch.pending = []
        try:
            yield
        finally:
            pending, _batch.pending = _batch.pending, None
            _send_batch(pending)


def _send_batch(pending: list[tuple]) -> None:
    if not pending:
        return
    from apps.core.realtime import _send_all

    try:
        fresh = Conversation.objects.in_bulk({conv_id for conv_id, *_rest in pending})
        audiences = access.conversation_audiences(fresh.values())
    except Exception:  # like an after-commit hook: the writes are committed, the signals are best effort
        log.exception("live signals of %d changes failed", len(pending))
        return
    signals = []
    for conv_id, dept_id, before, what, at in pending:
        groups = [user_group(u) for u in before | set(audiences.get(conv_id, ()))] + [conversation_group(conv_id)]
        signals.append((sorted(set(groups)), {"what": what, "conversation": conv_id, "department": dept_id, "at": at}))
    _send_all(signals)  # one hop to the event loop for the whole batch


def _signal(conv: Conversation, previous_audience: list[int] | None = None, what: str = "conversation") -> None:
    """After commit, tell everyone who could see the chat before or after this change (inside
    ``signals_batched``: when the batch ends)."""
    before = set(previous_audience or [])
    conv_id, dept_id = conv.pk, conv.department_id

    def send():
        pending = getattr(_batch, "pending", None)
        if pending is not None:
            pending.append((conv_id, dept_id, before, what, time.time() * 1000))  # "at": its commit
            return
        fresh = Conversation.objects.filter(pk=conv_id).first()
        after = set(access.conversation_audience(fresh)) if fresh else set()
        groups = [user_group(u) for u in before | after] + [conversation_group(conv_id)]
        from apps.core.realtime import _send

        # "at" (epoch ms, after the commit): screens drop typing signals said before this change.
        _send(sorted(set(groups)), {"what": what, "conversation": conv_id, "department": dept_id,
                                    "at": time.time() * 1000})

    transaction.on_commit(send)


def _transition(conv: Conversation, to: str, kind: str, actor: Actor, *, reason: str = "", payload=None,
                department=None, assignee=..., extra_fields: dict | None = None) -> ConversationEvent:
    _check_move(conv, to)
    audience_before = access.conversation_audience(conv)
    from_status, from_dept, from_assignee = conv.status, conv.department_id, conv.assignee_id
    fields = {"status", "updated_at"}
    conv.status = to
    if department is not None:
        conv.department = department
        fields.add("department")
    if assignee is not ...:
        conv.assignee = assignee
        fields.add("assignee")
    for name, value in (extra_fields or {}).items():
        setattr(conv, name, value)
        fields.add(name)
    if to in WAITING_FOR_A_PERSON and conv.waiting_since is None:
        conv.waiting_since = timezone.now()
        fields.add("waiting_since")
    elif to in (Status.BOT, Status.ARCHIVED) and conv.waiting_since is not None:
        conv.waiting_since = None
        fields.add("waiting_since")
    if conv.snoozed_until is not None:
        # A snooze belongs to one owner and one state: any move (requeue, transfer, reassign,
        # archive) ends it, so a chat never comes back to someone hidden behind another's snooze.
        conv.snoozed_until = None
        fields.add("snoozed_until")
    conv.save(update_fields=sorted(fields))
    event = _event(conv, kind, actor, from_status=from_status, from_department_id=from_dept,
                   from_assignee_id=from_assignee, reason=reason, payload=payload)
    _signal(conv, audience_before)
    return event


def clean_body(body: str) -> str:
    if not isinstance(body, str):
        raise InvalidInput(_("A message must be text."))
    text = body.replace("\x00", "").strip()
    if not text:
        raise InvalidInput(_("A message cannot be empty."))
    if len(text) > settings.MESSAGE_MAX_CHARS:
        raise InvalidInput(_("A message can be at most %(max)d characters long.") % {"max": settings.MESSAGE_MAX_CHARS})
    return text


# --- creation and messages --------------------------------------------------------------------

@transaction.atomic
def conversation_start(*, contact: Contact, channel: Channel, language: str = "", subject: str = "",
                       department=None) -> Conversation:
    """A new conversation, owned by the AI Agent. Raises ``ConversationAlreadyOpen`` when the
    customer already has one open on this channel (the database allows one)."""
    try:
        with transaction.atomic():
            conv = Conversation.objects.create(contact=contact, channel=channel, status=Status.BOT,
                                               language=language or contact.language, subject=subject[:200],
                                               department=department or channel.default_department)
    except IntegrityError:
        open_id = _open_conversation_id(contact.pk, channel.pk)
        if open_id is None:
            raise
        raise _already_open(open_id) from None
    _event(conv, Kind.CREATED, CUSTOMER, payload={"channel": channel.kind})
    _signal(conv)
    return conv


def _open_conversation_id(contact_id: int, channel_id: int, exclude: int | None = None) -> int | None:
    rows = Conversation.objects.filter(contact_id=contact_id, channel_id=channel_id).exclude(status=Status.ARCHIVED)
    if exclude:
        rows = rows.exclude(pk=exclude)
    return rows.values_list("pk", flat=True).first()


def _already_open(open_id: int) -> ConversationAlreadyOpen:
    return ConversationAlreadyOpen(
        _("This customer already has an open conversation on this channel (#%(id)s).") % {"id": open_id},
        conversation_id=open_id)


def _open_or_start(*, contact: Contact, channel: Channel, language: str) -> Conversation:
    """The customer's open conversation on this channel, or a new one. Two first messages racing
    (one per web process) both try to start it: the unique index lets one win, and the other
    appends to the winner's chat."""
    open_id = _open_conversation_id(contact.pk, channel.pk)
    if open_id is None:
        try:
            return conversation_start(contact=contact, channel=channel, language=language)
        except ConversationAlreadyOpen as exc:
            open_id = exc.conversation_id
    return Conversation.objects.get(pk=open_id)


def message_receive(*, channel: Channel, contact: Contact, body: str, external_id: str | None = None,
                    conversation: Conversation | None = None, meta: dict | None = None,
                    language: str = "") -> tuple[Message, bool]:
    """Store an inbound customer message first, idempotently on the provider's message id.

    Returns ``(message, created)``; a duplicate delivery returns the stored message and ``False``.
    A message after the conversation was archived opens a new conversation with the AI Agent.
    """
    text = clean_body(body)
    if external_id:
        existing = Message.objects.filter(channel=channel, external_id=external_id).first()
        if existing:
            return existing, False
    try:
        with transaction.atomic():
            if conversation is None or conversation.status == Status.ARCHIVED:
                conversation = _open_or_start(contact=contact, channel=channel, language=language)
            conv = _lock(conversation)
            if conv.status == Status.ARCHIVED:  # archived meanwhile
                conv = _lock(_open_or_start(contact=contact, channel=channel, language=language or conv.language))
            now = timezone.now()
            msg = Message.objects.create(conversation=conv, author_kind=AuthorKind.CUSTOMER, body=text,
                                         external_id=external_id or None, channel=channel, meta=meta or {})
            _record_written(msg)
            fields = {"last_message_at": now, "last_customer_message_at": now}
            if conv.status in HUMAN_STATUSES and conv.waiting_since is None:
                fields["waiting_since"] = now  # writing again after a person answered: waiting again
            if language and not conv.language:
                fields["language"] = language
            if conv.status == Status.BOT:
                fields["bot_turn_enqueued_at"] = now
            if conv.snoozed_until is not None:
                fields["snoozed_until"] = None
                _woke(conv, cause="customer" if conv.snoozed_until > now else "time", now=now)
            Conversation.objects.filter(pk=conv.pk).update(**fields)
            _signal(conv, what="message")
            events.message_received.publish(conversation_id=conv.pk, message_id=msg.pk, status=conv.status)
    except IntegrityError:
        # Two deliveries of the same provider message raced; the other one stored it.
        if external_id:
            existing = Message.objects.filter(channel=channel, external_id=external_id).first()
            if existing:
                return existing, False
        raise
    return msg, True


def conversation_mark_bot_turn_enqueued(*, conversation_id: int) -> None:
    """The AI Agent queued a turn for this chat again (its reconcile found one lost): marked, so
    the next reconcile knows it is waiting in the queue. (``message_receive`` marks the first.)"""
    Conversation.objects.filter(pk=conversation_id).update(bot_turn_enqueued_at=timezone.now())


@_atomic
def message_send_human(*, conversation: Conversation | int, user, body: str, is_internal: bool = False) -> Message:
    """A human reply. Collaborators reply only in chats assigned to them; Operators in any open chat.

    The first human reply of an assigned chat moves it to in progress. A reply the channel can
    no longer deliver (WhatsApp's 24-hour window, Meta's messaging windows) is refused up front.
    """
    text = clean_body(body)
    pk = conversation.pk if isinstance(conversation, Conversation) else conversation
    conv = _lock(pk)
    # Checked on the locked row: a concurrent pickup/reassign/transfer cannot slip in between.
    if not access.conversations_visible_to(user, "reply").filter(pk=pk).exists():
        raise NotAllowed(_("You can reply only in conversations assigned to you. Pick it up from the queue first."))
    if not is_internal:
        channel_policy.reply_window_check(conv)
    now = timezone.now()
    named = mentions.mentions_resolve(conversation=conv, text=text, author=user) if is_internal else mentions.Mentions()
    msg = Message.objects.create(conversation=conv, author_kind=AuthorKind.HUMAN, author=user, body=text,
                                 is_internal=is_internal, channel=conv.channel, meta=named.meta())
    _record_written(msg)
    _mentioned(msg, user, named)
    if not is_internal:
        conv.last_message_at = now
        if conv.status == Status.ASSIGNED and conv.assignee_id == user.pk:
            _transition(conv, Status.IN_PROGRESS, Kind.STARTED, Actor.human(user),
                        extra_fields={"first_human_reply_at": conv.first_human_reply_at or now, "last_message_at": now,
                                      "waiting_since": None})
        else:
            if conv.first_human_reply_at is None:
                conv.first_human_reply_at = now
            conv.waiting_since = None  # a person answered: the customer no longer waits
            conv.save(update_fields=["last_message_at", "first_human_reply_at", "waiting_since", "updated_at"])
            _signal(conv, what="message")
        _outgoing(msg, user.pk)
    else:
        _signal(conv, what="message")
    return msg


@_atomic
def message_add_note(*, conversation: Conversation | int, user, body: str) -> Message:
    """A private note: anyone who may see the chat may add one; it is never delivered to the
    customer on any channel (delivery, webhooks and the widget skip ``is_internal``)."""
    text = clean_body(body)
    pk = conversation.pk if isinstance(conversation, Conversation) else conversation
    conv = _lock(pk)
    if not access.conversations_visible_to(user, "view").filter(pk=pk).exists():
        raise NotAllowed(_("You cannot add notes to this conversation."))
    # @mentions parsed from the text itself; only people who may see the chat are told.
    named = mentions.mentions_resolve(conversation=conv, text=text, author=user)
    msg = Message.objects.create(conversation=conv, author_kind=AuthorKind.HUMAN, author=user, body=text,
                                 is_internal=True, channel=conv.channel, meta=named.meta())
    _record_written(msg)
    _mentioned(msg, user, named)
    _signal(conv, what="message")
    return msg


def _mentioned(msg: Message, user, named: mentions.Mentions) -> None:
    """The colleagues a note mentioned (and may see it) hear of it: their notices commit with it."""
    if named.notify:
        events.note_mentioned.publish(conversation_id=msg.conversation_id, message_id=msg.pk, actor_id=user.pk,
                                      record=msg, user_ids=[u.pk for u in named.notify])


@_atomic
def message_post_agent(*, conversation: Conversation | int, body: str, sources: list | None = None,
                       meta: dict | None = None) -> Message:
    """A reply of the AI Agent (always marked as AI to the customer)."""
    conv = _lock(conversation)
    msg = Message.objects.create(conversation=conv, author_kind=AuthorKind.AI_AGENT, body=clean_body(body),
                                 sources=sources or [], meta=meta or {}, channel=conv.channel)
    _record_written(msg)
    Conversation.objects.filter(pk=conv.pk).update(last_message_at=msg.created_at)
    _signal(conv, what="message")
    _outgoing(msg)
    return msg


@_atomic
def message_post_system(*, conversation: Conversation | int, body: str, meta: dict | None = None,
                        internal: bool = False) -> Message:
    conv = _lock(conversation)
    msg = Message.objects.create(conversation=conv, author_kind=AuthorKind.SYSTEM, body=clean_body(body),
                                 meta=meta or {}, is_internal=internal, channel=conv.channel)
    _record_written(msg)
    _signal(conv, what="message")
    if not internal:
        _outgoing(msg)
    return msg


# --- lifecycle ---------------------------------------------------------------------------------

@_atomic
def conversation_escalate(*, conversation: Conversation | int, department, actor=AI_AGENT, reason: str = "",
                          trigger: str = "", summary: str = "", context: dict | None = None) -> Conversation:
    """The AI Agent hands off: bot -> transfer, to a department, with the context a human needs."""
    if department is None:
        raise InvalidInput(_("A handoff needs a department."))
    conv = _lock(conversation)
    if conv.status != Status.BOT:
        raise IllegalTransition(_("Only a conversation with the AI Agent can be handed off."))
    handoff = {**(context or {}), "trigger": trigger}
    _transition(conv, Status.TRANSFER, Kind.HANDOFF, _as_actor(actor), reason=reason or trigger,
                payload={"trigger": trigger, **(context or {})}, department=department,
                extra_fields={"handoff_summary": summary, "handoff": handoff})
    _needs_routing(conv, Kind.HANDOFF, _as_actor(actor))
    return conv


@_atomic
def conversation_enqueue(*, conversation: Conversation | int, actor=SYSTEM, reason: str = "") -> Conversation:
    """transfer -> unassigned: the chat waits in its department's queue. Idempotent for queued chats."""
    conv = _lock(conversation)
    if conv.status == Status.UNASSIGNED:
        return conv
    if conv.department_id is None:
        raise InvalidInput(_("A conversation needs a department before it can be queued."))
    _transition(conv, Status.UNASSIGNED, Kind.QUEUED, _as_actor(actor), reason=reason,
                assignee=None, extra_fields={"queued_at": timezone.now()})
    return conv


@_atomic
def conversation_assign(*, conversation: Conversation | int, assignee, actor=SYSTEM, reason: str = "",
                        payload: dict | None = None) -> Conversation:
    """Routing assigns a waiting chat to a human. Raises AlreadyTaken if someone got it first.

    A human actor (an Operator assigning by hand) may choose only someone who handles the
    department's chats, or an Operator: assigning an outsider would show them the chat."""
    conv = _lock(conversation)
    if conv.status not in (Status.UNASSIGNED, Status.TRANSFER):
        raise AlreadyTaken(_("This conversation was already taken."))
    if _as_actor(actor).kind == AuthorKind.HUMAN:
        from apps.departments.models import Membership
        from apps.roles.access import is_operator

        if not (is_operator(assignee) or Membership.objects.filter(
                user_id=getattr(assignee, "pk", None), department_id=conv.department_id, can_handle=True).exists()):
            raise InvalidInput(_("%(name)s does not handle chats of this department.")
                               % {"name": getattr(assignee, "public_name", assignee)})
    _transition(conv, Status.ASSIGNED, Kind.ASSIGNED, _as_actor(actor), reason=reason, payload=payload,
                assignee=assignee, extra_fields={"assigned_at": timezone.now()})
    return conv


def conversation_pickup(*, conversation: Conversation | int, user) -> Conversation:
    """A human takes a chat from a queue they may handle. Exactly one of two racing humans wins."""
    pk = conversation.pk if isinstance(conversation, Conversation) else conversation
    with transaction.atomic():
        conv = Conversation.objects.select_for_update().filter(pk=pk).first()
        if conv is None or not access.conversations_visible_to(user, "view").filter(pk=pk).exists():
            raise NotAllowed(_("No such conversation."))
        if conv.status != Status.UNASSIGNED:
            if conv.assignee_id == user.pk:
                return conv
            raise AlreadyTaken(_("This conversation was already taken."))
        if not access.conversations_visible_to(user, "pickup").filter(pk=pk).exists():
            raise NotAllowed(_("You cannot pick up conversations of this department."))
        _transition(conv, Status.ASSIGNED, Kind.PICKED_UP, Actor.human(user), assignee=user,
                    extra_fields={"assigned_at": timezone.now()})
        return conv


@_atomic
def conversation_reassign(*, conversation: Conversation | int, assignee, actor, reason: str) -> Conversation:
    """An Operator moves a chat to another human (same department, or the assignee's)."""
    actor = _as_actor(actor)
    if actor.kind == AuthorKind.HUMAN and not can_reassign(actor.user):
        raise NotAllowed(_("Only Operators can reassign conversations."))
    if not (reason or "").strip():
        raise InvalidInput(_("Say why the conversation is reassigned."))
    conv = _lock(conversation)
    if conv.assignee_id == getattr(assignee, "pk", None):
        return conv
    if conv.status == Status.ARCHIVED:
        raise IllegalTransition(_("An archived conversation cannot be reassigned."))
    from apps.departments.models import Membership
    from apps.roles.access import is_operator

    # Only someone who handles this department's chats (or an Operator, who sees them all anyway):
    # the assignee sees the chat, so an outsider would be shown a conversation of another department.
    if not (is_operator(assignee) or Membership.objects.filter(
            user_id=getattr(assignee, "pk", None), department_id=conv.department_id, can_handle=True).exists()):
        raise InvalidInput(_("%(name)s does not handle chats of this department.")
                           % {"name": getattr(assignee, "public_name", assignee)})
    previous = conv.assignee_id
    _transition(conv, Status.ASSIGNED, Kind.REASSIGNED, actor, reason=reason, assignee=assignee,
                extra_fields={"assigned_at": timezone.now()})
    _released(conv, previous)
    return conv


@_atomic
def conversation_transfer(*, conversation: Conversation | int, department, actor, reason: str = "") -> Conversation:
    """Move a chat to another department's queue (humans with the transfer permission, or Operators)."""
    actor = _as_actor(actor)
    conv = _lock(conversation)
    if actor.kind == AuthorKind.HUMAN:
        if not (can_reassign(actor.user) or access.conversation_can(actor.user, conv, "transfer")):
            raise NotAllowed(_("You cannot transfer this conversation."))
    if department is None or department.pk == conv.department_id and conv.status != Status.BOT:
        raise InvalidInput(_("Choose another department."))
    if actor.kind == AuthorKind.HUMAN and can_reassign(actor.user) and not (reason or "").strip():
        raise InvalidInput(_("Say why the conversation is transferred."))
    previous = conv.assignee_id
    _transition(conv, Status.TRANSFER, Kind.TRANSFERRED, actor, reason=reason, department=department, assignee=None)
    _needs_routing(conv, Kind.TRANSFERRED, actor)
    _released(conv, previous)
    return conv


@_atomic
def conversation_requeue(*, conversation: Conversation | int, actor=SYSTEM, reason: str = "",
                         payload: dict | None = None) -> Conversation:
    """assigned/in progress -> unassigned (nobody replied in time, the agent went offline...)."""
    conv = _lock(conversation)
    if conv.status not in ACTIVE_HUMAN_STATUSES:
        raise IllegalTransition(_("Only an assigned conversation can go back to the queue."))
    previous = conv.assignee_id
    _transition(conv, Status.UNASSIGNED, Kind.REQUEUED, _as_actor(actor), reason=reason, payload=payload,
                assignee=None, extra_fields={"queued_at": timezone.now()})
    _needs_routing(conv, Kind.REQUEUED, _as_actor(actor))
    _released(conv, previous)
    return conv


@_atomic
def conversation_archive(*, conversation: Conversation | int, actor, resolution: str = "resolved",
                         reason: str = "") -> Conversation:
    """Resolve and archive. Humans need the department's archive permission (or to be an Operator)."""
    actor = _as_actor(actor)
    conv = _lock(conversation)
    _check_move(conv, Status.ARCHIVED)
    if actor.kind == AuthorKind.HUMAN and not access.conversation_can(actor.user, conv, "archive"):
        raise NotAllowed(_("You cannot archive this conversation."))
    previous = conv.assignee_id if conv.status in ACTIVE_HUMAN_STATUSES else None
    _transition(conv, Status.ARCHIVED, Kind.ARCHIVED, actor, reason=reason, payload={"resolution": resolution},
                extra_fields={"archived_at": timezone.now(), "resolution": resolution})
    _released(conv, previous)
    return conv


@_atomic
def conversation_reopen(*, conversation: Conversation | int, actor=CUSTOMER, reason: str = "") -> Conversation:
    """archived -> back to its department's queue (or to the bot if it never left it)."""
    conv = _lock(conversation)
    open_id = _open_conversation_id(conv.contact_id, conv.channel_id, exclude=conv.pk)
    if open_id is not None:
        raise _already_open(open_id)
    to = Status.UNASSIGNED if conv.department_id and conv.handoff else Status.BOT
    _transition(conv, to, Kind.REOPENED, _as_actor(actor), reason=reason, assignee=None,
                extra_fields={"archived_at": None, "resolution": "",
                              **({"queued_at": timezone.now()} if to == Status.UNASSIGNED else {})})
    if to == Status.UNASSIGNED:
        _needs_routing(conv, Kind.REOPENED, _as_actor(actor))
    return conv


@_atomic
def conversation_rate(*, conversation: Conversation | int, score: int, comment: str = "") -> Conversation:
    """The customer's CSAT (1-5), once, on an archived conversation."""
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        raise InvalidInput(_("The rating must be a whole number from 1 to 5."))
    conv = _lock(conversation)
    if conv.status != Status.ARCHIVED:
        raise IllegalTransition(_("Only a finished conversation can be rated."))
    if conv.csat_score is not None:
        raise AlreadyTaken(_("This conversation was already rated."))
    conv.csat_score, conv.csat_comment = score, (comment or "")[:2000]
    conv.save(update_fields=["csat_score", "csat_comment", "updated_at"])
    _event(conv, Kind.RATED, CUSTOMER, from_status=conv.status, payload={"score": score})
    _signal(conv)
    return conv


@_atomic
def conversation_share(*, conversation: Conversation | int, user, actor) -> ConversationShare:
    actor = _as_actor(actor)
    conv = _lock(conversation)
    if actor.kind == AuthorKind.HUMAN and not (can_reassign(actor.user) or access.conversation_can(actor.user, conv, "reply")):
        raise NotAllowed(_("You cannot share this conversation."))
    share, created = ConversationShare.objects.get_or_create(conversation=conv, user=user,
                                                             defaults={"shared_by": actor.user})
    if created:
        _event(conv, Kind.SHARED, actor, from_status=conv.status, payload={"user": user.pk})
        _signal(conv)
    return share


@_atomic
def conversation_record_decision(*, conversation: Conversation | int, payload: dict, reason: str = "") -> ConversationEvent:
    """The AI Agent's per-turn decision and scores, logged without a state change."""
    conv = conversation if isinstance(conversation, Conversation) else Conversation.objects.get(pk=conversation)
    return _event(conv, Kind.AGENT_DECISION, AI_AGENT, from_status=conv.status, reason=reason, payload=payload)


@_atomic
def conversation_set_language(*, conversation: Conversation | int, language: str) -> Conversation:
    """The customer's language as detected by the AI Agent (e.g. "en"/"es"); no state change, no event."""
    language = (language or "")[:10]
    conv = _lock(conversation)
    if conv.language != language:
        conv.language = language
        conv.save(update_fields=["language", "updated_at"])
    return conv


@_atomic
def conversation_record_escalation(*, conversation: Conversation | int, reason: str, payload: dict | None = None,
                                   actor=SYSTEM) -> ConversationEvent:
    """An escalation step of routing (timer fired, Operators notified, chat reclaimed), logged as an
    event whether or not it changed the state (the state change, if any, has its own event)."""
    conv = _lock(conversation)
    return _event(conv, Kind.ESCALATION, _as_actor(actor), from_status=conv.status, reason=reason, payload=payload)


# --- snooze ----------------------------------------------------------------------------------------

SNOOZE_MAX_DAYS = 30
SNOOZE_WAKE_BATCH = 200


def _woke(conv: Conversation, *, cause: str, now) -> ConversationEvent:
    """The WOKE event of a snooze that ended by itself: ``cause`` "customer" (they wrote while it
    slept) or "time" (its time passed). The caller clears the column under its row lock or claim."""
    until = conv.snoozed_until
    conv.snoozed_until = None
    return _event(conv, Kind.WOKE, CUSTOMER if cause == "customer" else SYSTEM, from_status=conv.status,
                  reason=cause, payload={"cause": cause, "until": until.isoformat() if until else None})


@_atomic
def conversation_snooze(*, conversation: Conversation | int, user, until) -> Conversation:
    """Put an assigned (or in progress) chat aside until ``until`` (aware datetime): it leaves the
    open lists for the "Snoozed" one and comes back when the time passes or the customer writes.

    Anyone who may see the chat may snooze it. A chat in a queue or with the AI Agent cannot be
    snoozed: a customer there waits for *someone*, and hiding the chat would hide the wait from the
    whole department (and from the pick-up timers' Operators)."""
    conv = _lock(conversation)
    if not access.conversation_can(user, conv, "view"):
        raise NotAllowed(_("No such conversation."))
    if conv.status == Status.ARCHIVED:
        raise IllegalTransition(_("An archived conversation cannot be snoozed."))
    if conv.status not in ACTIVE_HUMAN_STATUSES:
        raise IllegalTransition(_("Only a conversation a person is handling can be snoozed; "
                                  "pick it up first."))
    if until is None or timezone.is_naive(until):
        raise InvalidInput(_("Choose when the conversation should come back."))
    now = timezone.now()
    if until <= now:
        raise InvalidInput(_("Choose a time in the future."))
    if until > now + timedelta(days=SNOOZE_MAX_DAYS):
        raise InvalidInput(_("A conversation can be snoozed for at most %(days)d days.") % {"days": SNOOZE_MAX_DAYS})
    conv.snoozed_until = until
    conv.save(update_fields=["snoozed_until", "updated_at"])
    _event(conv, Kind.SNOOZED, Actor.human(user), from_status=conv.status,
           payload={"until": until.isoformat()})
    _signal(conv)
    return conv


@_atomic
def conversation_unsnooze(*, conversation: Conversation | int, user) -> Conversation:
    """Bring a snoozed chat back now. Idempotent: a chat that is awake (never snoozed, or its time
    already passed) is left as it is, without an event."""
    conv = _lock(conversation)
    if not access.conversation_can(user, conv, "view"):
        raise NotAllowed(_("No such conversation."))
    if conv.snoozed_until is None:
        return conv
    if conv.snoozed_until <= timezone.now():
        _woke(conv, cause="time", now=timezone.now())  # overdue and not recorded yet: record it
    else:
        until = conv.snoozed_until
        conv.snoozed_until = None
        _event(conv, Kind.UNSNOOZED, Actor.human(user), from_status=conv.status,
               payload={"until": until.isoformat()})
    conv.save(update_fields=["snoozed_until", "updated_at"])
    _signal(conv)
    return conv


def snoozes_due(now):
    """(pk, snoozed_until) of the snoozes whose time passed, the earliest first: a range of the partial
    index ``conv_snoozed`` (only snoozed chats), never a scan of the conversations' history."""
    return (Conversation.objects.filter(snoozed_until__lte=now).order_by("snoozed_until")
            .values_list("pk", "snoozed_until"))


def conversation_wake_due(*, now=None, limit: int = SNOOZE_WAKE_BATCH) -> int:
    """Record the wake-up of snoozes whose time passed (the periodic sweep): a WOKE event and a live
    signal, so open inboxes refresh. The lists already show those chats as awake without it.

    Each row is claimed with a conditional UPDATE on its own stored time, so two sweeps running at
    once, a restart mid-batch or a customer message racing the sweep record one wake-up, never two."""
    now = now or timezone.now()
    due = list(snoozes_due(now)[:limit])
    woken = 0
    if not due:
        return 0  # the usual case: no batch opened, nothing sent
    with signals_batched():  # the batch's live signals together, their audiences computed at once
        for pk, until in due:
            with transaction.atomic():
                if not Conversation.objects.filter(pk=pk, snoozed_until=until).update(snoozed_until=None):
                    continue  # woken meanwhile (a message, an unsnooze, another sweep)
                conv = Conversation.objects.get(pk=pk)
                conv.snoozed_until = until
                _woke(conv, cause="time", now=now)
                _signal(conv)
                woken += 1
    return woken
