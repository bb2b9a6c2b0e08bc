"""Domain events: what happened to a conversation, published by the core, reacted to by the apps above.

The conversation services (``apps.conversations.services``) make every state change explicitly and
write its ``ConversationEvent``; then they *publish* one of the events below. Apps above the core
(the AI Agent, routing, integrations, workspace, reports) register their reactions in their
``AppConfig.ready`` instead of being imported by the core (DESIGN.md invariant 5: dependencies
point down). This is not flow hidden in signals: the transition stays in the service; only other
apps' reactions hang off the event.

Three kinds of receivers:

* ``event.connect(fn)``: called **after the transaction commits** with the ``DomainEvent``
  (ids only, JSON-safe). Use it to enqueue a thin Celery task (``transaction.on_commit``
  semantics: nothing runs if the transaction rolls back).
* ``event.connect_batched(fn)``: the same, but ``fn`` takes a list of events. After each commit
  it gets that commit's events, except inside ``batched()``: a loop of many small transactions
  (the escalation sweep's batch) hands it the events of every commit of the block together when
  the block ends, so it can enqueue one task for all of them instead of one per commit.
* ``event.connect_in_transaction(fn)``: called **inside** the service's transaction with the
  ``DomainEvent`` and the row just written (``record``). Only for work that must commit or roll
  back with the change, such as an outbox row. An exception rolls the change back.

Every event is defined in this module with a docstring naming its arguments, the way pretix
documents ``order_placed``/``order_paid`` in ``pretix/base/signals.py``.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable

from django.db import transaction

from apps.core.memo import outermost_block

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainEvent:
    """One published fact. ``kind`` names the event; ids are plain ints (safe to pass to a task)."""

    kind: str
    conversation_id: int | None = None
    message_id: int | None = None
    actor_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class EventType:
    """A named, documented event with its after-commit and in-transaction receivers."""

    def __init__(self, kind: str, doc: str) -> None:
        self.kind = kind
        self.__doc__ = doc
        self._after_commit: list[Callable[[DomainEvent], Any]] = []
        self._batched: list[Callable[[list[DomainEvent]], Any]] = []
        self._in_transaction: list[Callable[..., Any]] = []

    def __repr__(self) -> str:
        return f"<EventType {self.kind}>"

    def connect(self, receiver: Callable[[DomainEvent], Any]) -> Callable[[DomainEvent], Any]:
        """Register ``receiver(event)`` to run after commit (idempotent; usable as a decorator)."""
        if receiver not in self._after_commit:
            self._after_commit.append(receiver)
        return receiver

    def connect_batched(self, receiver: Callable[[list[DomainEvent]], Any]) -> Callable[[list[DomainEvent]], Any]:
        """Register ``receiver(events)`` to run after commit with a list of events (inside
        ``batched()``: all the block's committed events, once, when it ends)."""
        if receiver not in self._batched:
            self._batched.append(receiver)
        return receiver

    def connect_in_transaction(self, receiver: Callable[..., Any]) -> Callable[..., Any]:
        """Register ``receiver(event, record)`` to run inside the publishing transaction."""
        if receiver not in self._in_transaction:
            self._in_transaction.append(receiver)
        return receiver

    def disconnect(self, receiver) -> None:
        for receivers in (self._after_commit, self._batched, self._in_transaction):
            if receiver in receivers:
                receivers.remove(receiver)

    @property
    def receivers(self) -> tuple:
        return tuple(self._after_commit) + tuple(self._batched) + tuple(self._in_transaction)

    def publish(self, *, conversation_id: int | None = None, message_id: int | None = None,
                actor_id: int | None = None, record: Any = None, **extra: Any) -> DomainEvent:
        """Run the in-transaction receivers now and schedule the others for after commit."""
        event = DomainEvent(self.kind, conversation_id, message_id, actor_id, extra)
        for receiver in self._in_transaction:
            receiver(event, record)
        for receiver in self._after_commit:
            transaction.on_commit(partial(receiver, event))
        for receiver in self._batched:
            transaction.on_commit(partial(_hold_or_run, receiver, event))
        return event


_held = threading.local()


def _hold_or_run(receiver: Callable[[list[DomainEvent]], Any], event: DomainEvent) -> None:
    pending = getattr(_held, "pending", None)
    if pending is None:
        receiver([event])
    else:
        pending.setdefault(receiver, []).append(event)


@contextmanager
def batched() -> Iterator[None]:
    """Within this block, ``connect_batched`` receivers get the events of every commit made in it
    together, once, when it ends (in commit order). A rolled-back transaction contributes nothing
    (its hooks never run). What the receivers do is deferred by at most the block; a crash inside
    it loses their calls exactly as a crash between a commit and its hook would, so the same
    recovery applies (integrations' outbox rows are swept). Nested use joins the outer block."""
    with outermost_block(_held, "pending", _deliver_held):
        yield


def _deliver_held(pending: dict) -> None:
    for receiver, held in pending.items():
        try:
            receiver(held)
        except Exception:  # like a failed after-commit hook: the writes are committed; one must not stop the others
            log.exception("%s failed for %d held events", getattr(receiver, "__name__", receiver), len(held))


REGISTRY: dict[str, EventType] = {}


def _define(kind: str, doc: str) -> EventType:
    REGISTRY[kind] = event = EventType(kind, doc)
    return event


record_written = _define("record.written", """\
A ``ConversationEvent`` or a ``Message`` row was written (every lifecycle change and every message).

In-transaction receivers get ``record`` (the row itself) and use it for outbox rows that must
commit with it (integrations' outgoing webhooks). Arguments: ``conversation_id``, ``message_id``
(for a message), ``extra={"model": "event" | "message"}``.""")

message_received = _define("message.received", """\
A customer's message was stored (first delivery only; duplicates publish nothing).

Arguments: ``conversation_id``, ``message_id``, ``extra={"status": <conversation status>}``. The
AI Agent takes a turn when the status is ``bot``.""")

message_outgoing = _define("message.outgoing", """\
A message for the customer was stored (a human's non-internal reply, the AI Agent's answer, a
non-internal system note) and has to be delivered through its channel.

Arguments: ``conversation_id``, ``message_id``, ``actor_id`` (the human author, if any),
``extra={"channel_kind": <Channel.Kind of the message's channel, "" if it has none>}``.""")

conversation_needs_routing = _define("conversation.needs_routing", """\
A conversation arrived at a department and waits for a human: handed off by the AI Agent,
transferred, put back in the queue, or reopened into the queue.

Arguments: ``conversation_id``, ``actor_id`` (the human who caused it, if any),
``extra={"reason": <ConversationEvent kind>}``. Routing assigns it.""")

assignee_released = _define("assignee.released", """\
A human's chat left them (reassigned, transferred, requeued or archived): they have a free slot.

Arguments: ``conversation_id``, ``extra={"user_id": <the previous assignee>}``. Routing offers
them the next waiting chat.""")

note_mentioned = _define("note.mentioned", """\
A private note mentioned (``@username``) people who may see its conversation; the writer is
never among them and each person appears once (``apps.conversations.mentions``). People who
cannot see the conversation are not in the event (they must not learn of it).

In-transaction receivers get ``record`` (the note) so a notice commits with it (routing's
in-app notifications). Arguments: ``conversation_id``, ``message_id``, ``actor_id`` (the
writer), ``extra={"user_ids": [<mentioned user ids>]}``.""")
