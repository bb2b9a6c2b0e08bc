"""Routing reads that other apps call: how long a customer can expect to wait, and their place in line.

``expected_wait(department)`` is the one place the estimate is computed; the customer notices on
every channel (``services.customer_wait_notice``), the web chat widget and the workspace's
greeting all call it, so a customer never reads two different figures.

The estimate is deliberately simple and explainable (a support lead can check it by hand):

* slots: the chats the department's available people can hold at once (online, in shift, their
  capacity), and how many of those are free right now;
* handling time: the mean time from assignment to archive of the department's recently finished
  chats (last ``ROUTING_WAIT_HISTORY`` archived in the past week; ``ROUTING_DEFAULT_HANDLE_MINUTES``
  when there is no history yet);
* a chat at place ``n`` in line starts as soon as a slot is free: immediately if ``n`` <= free
  slots (in a manual department, after the recent median pick-up time), otherwise after
  ``(n - free) * handling / slots``: the queue ahead drains at ``slots / handling`` chats per second.

With nobody available the wait is unknown (``seconds is None``): the honest answer is "nobody is
online", never a made-up number. A department closed by its business hours adds the time until
its next opening.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from django.conf import settings
from django.db.models import F, QuerySet
from django.utils import timezone

from apps.conversations.models import Conversation, Status, line_order
from apps.departments.models import Department

WAITING = (Status.UNASSIGNED, Status.TRANSFER)


@dataclass(frozen=True)
class WaitEstimate:
    """What a waiting customer may be told. ``seconds`` is None when nobody can take the chat now."""

    department_id: int
    waiting: int            # chats waiting in the department's queue ahead of this one (or all, for a newcomer)
    position: int           # place in line (1 = next)
    online_agents: int      # available people: online, in shift (even if full)
    slots: int              # chats they can hold at once
    free_slots: int         # slots free right now
    handle_seconds: float   # recent mean handling time
    is_open: bool           # business hours (always True without a schedule)
    opens_at: datetime | None  # next opening when closed
    seconds: float | None   # expected wait; None = unknown (nobody available)

    @property
    def minutes(self) -> int | None:
        """Whole minutes, rounded up (a customer told "2 minutes" should not wait 2:40); 0 = now."""
        if self.seconds is None:
            return None
        return 0 if self.seconds < 30 else max(1, math.ceil(self.seconds / 60))

    @property
    def nobody_available(self) -> bool:
        return self.online_agents == 0


def _default_handle_seconds() -> float:
    return 60.0 * float(getattr(settings, "ROUTING_DEFAULT_HANDLE_MINUTES", 8))


def handling_seconds(department_id: int, *, now: datetime | None = None) -> float:
    """Mean assignment-to-archive time of the department's recent chats (one indexed read of at most
    ``ROUTING_WAIT_HISTORY`` rows; not cached, so every process and every test sees the same figure)."""
    now = now or timezone.now()
    limit = int(getattr(settings, "ROUTING_WAIT_HISTORY", 50))
    rows = list(Conversation.objects.filter(department_id=department_id, status=Status.ARCHIVED,
                                            archived_at__gte=now - timedelta(days=7), assigned_at__isnull=False,
                                            archived_at__gt=F("assigned_at"))
                .order_by("-archived_at").values_list("assigned_at", "archived_at")[:limit])
    durations = [(done - start).total_seconds() for start, done in rows]
    # Chats left open for hours (an agent who forgot to archive) must not make every estimate absurd.
    durations = [d for d in durations if d <= 4 * 3600]
    return sum(durations) / len(durations) if len(durations) >= 3 else _default_handle_seconds()


def _pickup_seconds(department_id: int, now: datetime) -> float:
    """Median queued-to-assigned time of the last day's chats (how fast people pick up by hand)."""
    rows = list(Conversation.objects.filter(department_id=department_id, assigned_at__gte=now - timedelta(days=1),
                                            queued_at__isnull=False).filter(assigned_at__gte=F("queued_at"))
                .order_by("-assigned_at").values_list("queued_at", "assigned_at")[:50])
    return median([(a - q).total_seconds() for q, a in rows]) if rows else 60.0


#: Counting stops here: a line this long is reported as "at least" this (a customer told "you are
#: number 500" learns nothing more from 3,000), and a count never walks a huge queue.
LINE_CAP = 500


def line(department_id: int) -> QuerySet[Conversation]:
    """A department's queued chats in line order, next first: who has waited longest for a person
    (``line_order``; a chat requeued after nobody picked it up keeps its place), then by id. What
    automatic assignment drains; read in that order from the ``conv_line_dept`` index."""
    return (Conversation.objects.filter(department_id=department_id, status=Status.UNASSIGNED)
            .order_by(line_order(), "pk"))


def _capped_count(qs) -> int:
    return qs.order_by().values("pk")[:LINE_CAP].count()


def _queued_ahead(department_id: int, since: datetime) -> QuerySet[Conversation]:
    """The first ``LINE_CAP`` queued chats of the department's ``line`` before ``since``: PostgreSQL
    walks a range of ``conv_line_dept`` in order and stops at the cap, however long the queue. (One
    read of the queued and in-transfer chats together, ``status IN (...)``, cannot stop early: the
    planner ANDs bitmaps of the department's whole history and of every open chat before the LIMIT.)
    A tie (to the microsecond) is not worth an OR on the id that would defeat the index."""
    return line(department_id).alias(line=line_order()).filter(line__lt=since).values("pk")[:LINE_CAP]


def _in_transfer_ahead(department_id: int, since: datetime) -> QuerySet[Conversation]:
    """The chats in transfer to the department waiting since before ``since`` (few; ``conv_dept_status``)."""
    return (Conversation.objects.filter(department_id=department_id, status=Status.TRANSFER)
            .alias(line=line_order()).filter(line__lt=since))


def queue_position(conversation: Conversation) -> int:
    """Place in line of a waiting chat (1 = next): the chats of its department before it in
    ``line`` (or in transfer there), the order automatic assignment takes them in; at most
    ``LINE_CAP + 1``. A chat requeued after nobody picked it up keeps its place instead of going to
    the back (``queued_at``, which a requeue resets, keys only the pick-up timer)."""
    if conversation.status not in WAITING or conversation.department_id is None:
        return 0
    since = conversation.waiting_since or conversation.queued_at or conversation.created_at
    ahead = _queued_ahead(conversation.department_id, since).count()
    if ahead < LINE_CAP:  # a line already at the cap needs no second read
        ahead = min(LINE_CAP, ahead + _capped_count(_in_transfer_ahead(conversation.department_id, since)))
    return ahead + 1


def expected_wait(department: Department | int, *, conversation: Conversation | None = None,
                  now: datetime | None = None) -> WaitEstimate:
    """The expected wait for ``conversation`` in ``department`` (its place in line), or for a chat
    arriving now when ``conversation`` is None (it would join the end of the line).

    A handful of indexed reads; inside a sweep (``services.sweep_memo``) the department's settings,
    schedule and handling time are read once for all its chats."""
    from .models import Mode
    from .schedules import department_is_open, department_next_open
    from .services import _memoised, config_for  # noqa: PLC2701 - routing's own helpers

    now = now or timezone.now()
    dept = department if isinstance(department, Department) else Department.objects.get(pk=department)
    if conversation is not None and conversation.status in WAITING and conversation.department_id == dept.pk:
        position = queue_position(conversation)
        waiting = None
    else:
        # An index-only range of conv_dept_status under the LIMIT: stops at the cap.
        waiting = _capped_count(Conversation.objects.filter(department_id=dept.pk, status__in=WAITING))
        position = waiting + 1
    online, slots, free = _memoised(("capacity", dept.pk), lambda: _capacity(dept.pk, now))
    cfg = config_for(dept.pk)
    is_open, opens_at = True, None
    if cfg.use_schedule and not department_is_open(dept, now):
        is_open, opens_at = False, _memoised(("opens", dept.pk), lambda: department_next_open(dept, now))
    handle = _memoised(("handle", dept.pk), lambda: handling_seconds(dept.pk, now=now))
    seconds: float | None
    if not is_open:
        # Nobody is expected before the opening; from then on the line drains as usual.
        seconds = None if opens_at is None else (opens_at - now).total_seconds() + (position - 1) * handle / max(
            slots, 1)
    elif online == 0 or slots == 0:
        seconds = None
    elif position <= free:
        seconds = 0.0 if cfg.mode != Mode.MANUAL else _pickup_seconds(dept.pk, now)
    else:
        seconds = (position - free) * handle / slots
    return WaitEstimate(department_id=dept.pk, waiting=position - 1 if waiting is None else waiting,
                        position=position, online_agents=online, slots=slots, free_slots=free, handle_seconds=handle, is_open=is_open, opens_at=opens_at,
                        seconds=seconds)


def _capacity(department_id: int, now: datetime) -> tuple[int, int, int]:
    """(available people, their slots, free slots) of a department: online and in shift."""
    from apps.departments.models import Membership

    from .models import AgentPresence, Presence
    from .schedules import agent_in_shift
    from .services import _load_subquery  # noqa: PLC2701 - routing's own helper

    members = Membership.objects.filter(department_id=department_id, can_handle=True, user__is_active=True)
    rows = (AgentPresence.objects.filter(user_id__in=members.values("user_id"), status=Presence.ONLINE)
            .select_related("user").prefetch_related("shifts").annotate(load=_load_subquery()))
    online = slots = free = 0
    for p in rows:
        if agent_in_shift(p, now, list(p.shifts.all())):
            online, slots, free = online + 1, slots + p.capacity, free + max(0, p.capacity - p.load)
    return online, slots, free


def online_counts(department_ids) -> dict[int, int]:
    """Available people (online, in shift, room for one more chat) per department: what a transfer
    form shows next to each department, and what escalation checks before moving a chat there."""
    from .services import available_agents

    now = timezone.now()
    return {pk: len(available_agents(pk, now)) for pk in department_ids}
