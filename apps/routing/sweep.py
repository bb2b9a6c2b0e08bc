"""The periodic sweep: deadlines in the database, claimed with a conditional UPDATE.

No countdown/ETA task exists per chat. Every run:

1. presence (``sweep_presence``): a closed last tab turns an online person away after a grace
   period and offline after a long absence; a dead server's sockets count as closed since their
   last heartbeat; a finished shift with no tab open means offline. Only offline reclaims chats
   (in the same transaction), and the monitor is signalled;
2. deadlines: due rows are claimed in batches (``SELECT ... FOR UPDATE SKIP LOCKED`` then
   ``UPDATE ... SET due_at = now + lease, claim_token = T WHERE pk IN (...) AND due_at <= now``), so
   two sweeps running at once split the rows instead of both taking them. Each claimed row is then
   handled in its own transaction that locks the chat, re-checks the token (only the claimant acts)
   and the chat's real state, acts through the services, and re-arms or clears the timer. A worker
   killed after claiming leaves rows whose lease expires: the next sweep takes them over, so nothing
   is lost and nothing is done twice;
3. reconcile: timers missing for chats that reached a state through a path that did not tell
   routing (a human pick-up, an Operator's reassignment, a lost route task) are armed;
4. assignment: anything still waiting in an automatic department gets another chance.
"""
from __future__ import annotations

import logging
import uuid
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations import services as conv_services
from apps.conversations.models import AuthorKind, Conversation, Message, Status
from apps.core import events
from apps.core.errors import DomainError

from . import services
from .models import AgentPresence, ConversationDeadline, DeadlineKind, DepartmentRouting, Presence
from .schedules import department_is_open

log = logging.getLogger(__name__)


def notify_every() -> timedelta:
    """The shortest gap between two "not picked up" notices about the same chat."""
    return timedelta(minutes=int(getattr(settings, "ROUTING_NOTIFY_REPEAT_MINUTES", 30)))


def lease_seconds() -> int:
    return int(getattr(settings, "ROUTING_CLAIM_LEASE_SECONDS", 120))


def claim_due(*, now: datetime, batch: int = 500, token: uuid.UUID | None = None) -> tuple[uuid.UUID, list[int]]:
    """Claim up to ``batch`` due deadlines for this worker; returns (token, conversation ids)."""
    token = token or uuid.uuid4()
    with transaction.atomic():
        ids = list(ConversationDeadline.objects.select_for_update(skip_locked=True)
                   .filter(due_at__lte=now).order_by("due_at").values_list("pk", flat=True)[:batch])
        if not ids:
            return token, []
        claimed = ConversationDeadline.objects.filter(pk__in=ids, due_at__lte=now).update(
            due_at=now + timedelta(seconds=lease_seconds()), claim_token=token, claimed_at=now)
        if claimed != len(ids):  # cannot happen under the row locks; on SQLite writers are serialised
            ids = list(ConversationDeadline.objects.filter(pk__in=ids, claim_token=token).values_list("pk", flat=True))
    return token, ids


def process_deadline(*, conversation_id: int, token: uuid.UUID, now: datetime) -> str:
    """Act on one claimed deadline. Returns what happened (for stats and tests)."""
    with transaction.atomic():
        services.relaxed_commit()  # safe: a lost step leaves its deadline due, and the next sweep redoes it
        # Same lock order as every service: the chat first, then the timer row. The core services
        # given this instance below reuse its lock instead of locking and reading the chat again.
        conv = conv_services.conversation_lock(conversation_id)
        deadline = ConversationDeadline.objects.select_for_update().filter(pk=conversation_id,
                                                                           claim_token=token).first()
        if deadline is None:
            return "lost_claim"
        if conv is None:
            deadline.delete()
            return "gone"
        services.attach_memoised(conv)
        if deadline.kind == DeadlineKind.PICKUP:
            valid = conv.status in services.WAITING and (conv.queued_at or deadline.armed_for) == deadline.armed_for
            return _pickup_step(conv, deadline, now) if valid else _rearm(conv, now)
        valid = conv.status == Status.ASSIGNED and conv.assigned_at == deadline.armed_for
        return _reply_step(conv, deadline, now) if valid else _rearm(conv, now)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _late(deadline: ConversationDeadline, now: datetime) -> float | None:
    """How late this step runs: ``scheduled_at`` keeps the due time the claim's lease overwrote."""
    return round((now - deadline.scheduled_at).total_seconds(), 3) if deadline.scheduled_at else None


def _rearm(conv: Conversation, now: datetime) -> str:
    services.arm_from_state(conv, now=now)
    return "stale"


def _pickup_step(conv: Conversation, deadline: ConversationDeadline, now: datetime) -> str:
    cfg = services.config_for(conv.department_id)
    stage = deadline.stage + 1
    actions: list[str] = []
    assignee = None
    closed = cfg.use_schedule and not department_is_open(conv.department, now)
    if cfg.pickup_auto_assign and not closed:
        assignee = services.routing_try_assign(conversation_id=conv.pk, now=now, any_member=True,
                                               reason="escalation:auto_assign")
        if assignee is not None:
            actions.append("auto_assigned")
    backup = conv.department.backup if conv.department.backup_id else None
    moved = False
    wants_backup = (assignee is None and cfg.pickup_to_backup and backup is not None
                    and backup.pk != conv.department_id)
    # Never to an empty place: the backup must be open and have someone online with room.
    backup_ok = wants_backup and services.can_take(backup, now, channel_kind=conv.channel.kind)
    if wants_backup and not backup_ok:
        actions.append("backup_unavailable")
    if backup_ok:
        try:
            if Conversation.objects.filter(pk=conv.pk, status=Status.TRANSFER).exists():
                conv_services.conversation_enqueue(conversation=conv.pk, reason="escalation")
            conv_services.conversation_transfer(
                conversation=conv.pk, department=backup, actor=services.SYSTEM,
                reason=_("Not picked up within %(minutes)s minutes: moved to the backup department.")
                % {"minutes": cfg.pickup_minutes})
            moved = True
            actions.append("moved_to_backup")
        except DomainError as exc:
            log.warning("escalation to backup failed for %s: %s", conv.pk, exc)
    notified = False
    stranded = wants_backup and not backup_ok
    # Nothing wrote the chat yet unless it was assigned or moved: the locked instance is current.
    current = conv if assignee is None and not moved else conv.pk
    if assignee is None and (cfg.pickup_notify or stranded):
        if closed:
            actions.append("closed")  # nobody to page at night: the timer waits for the next opening
        elif deadline.notified_at and now - deadline.notified_at < notify_every():
            actions.append("notice_recent")
        else:
            services.notify_operators(conversation=conv, kind="backup_unavailable" if stranded else "pickup_overdue",
                                      minutes=cfg.pickup_minutes)
            actions.append("notified")
            notified = True
    conv_services.conversation_record_escalation(
        conversation=current, reason="pickup_overdue",
        payload={"step": "pickup", "stage": stage, "minutes": cfg.pickup_minutes, "actions": actions,
                 "assignee": getattr(assignee, "pk", None), "scheduled_at": _iso(deadline.scheduled_at),
                 "late_seconds": _late(deadline, now)})
    if assignee is None and not moved and not closed and stage == 1:
        # The first time the pick-up timer runs out: the customer hears they keep their place.
        services.customer_wait_notice(conv, kind="waiting", now=now)
    fresh = conv if assignee is None and not moved else Conversation.objects.get(pk=conv.pk)
    if assignee is None and not moved and fresh.status in services.WAITING and cfg.pickup_minutes:
        # Still waiting here: the ladder repeats after another X minutes (or at the next opening),
        # notifying again at most every ROUTING_NOTIFY_REPEAT_MINUTES.
        again = services.pickup_due_when_open(conv, now + timedelta(minutes=cfg.pickup_minutes))
        ConversationDeadline.objects.filter(pk=conv.pk).update(
            due_at=again, scheduled_at=again, stage=stage, claim_token=None, claimed_at=None,
            **({"notified_at": now} if notified else {}))
    elif moved:
        # The backup department's arrival (route task) arms its own timer; until then none here.
        ConversationDeadline.objects.filter(pk=conv.pk).delete()
    else:
        services.arm_from_state(fresh, now=now)
    return "pickup:" + ("+".join(actions) or "none")


def _reply_step(conv: Conversation, deadline: ConversationDeadline, now: datetime) -> str:
    cfg = services.config_for(conv.department_id)
    agent = conv.assignee_id
    if Message.objects.filter(conversation_id=conv.pk, author_kind=AuthorKind.HUMAN, is_internal=False,
                              created_at__gte=deadline.armed_for).exists():
        # A human (an Operator, a colleague) already answered the customer since this assignment:
        # nobody is left waiting. The timer is spent; keeping the row (not due) stops reconcile re-arming it.
        ConversationDeadline.objects.filter(pk=conv.pk).update(due_at=None, claim_token=None, claimed_at=None)
        return "reply:answered"
    conv_services.conversation_record_escalation(
        conversation=conv, reason="no_human_reply",
        payload={"step": "reply", "minutes": cfg.reply_minutes, "agent": agent,
                 "scheduled_at": _iso(deadline.scheduled_at),
                 "late_seconds": _late(deadline, now)})
    conv_services.conversation_requeue(
        conversation=conv, reason=_("No human reply within %(minutes)s minutes.") % {"minutes": cfg.reply_minutes},
        payload={"escalation": "no_human_reply", "agent": agent})
    fresh = Conversation.objects.get(pk=conv.pk)
    services.arm_from_state(fresh, now=now)
    return "reply:requeued"


def sweep_deadlines(*, now: datetime | None, batch: int = 500, max_batches: int = 1000) -> Counter:
    """Claim and process due rows batch after batch. With ``now=None`` (production) each batch uses
    the current time, so rows falling due during a long sweep are taken by the same run."""
    stats: Counter = Counter()
    for _i in range(max_batches):
        token, ids = claim_due(now=now or timezone.now(), batch=batch)
        stats["claimed"] += len(ids)
        # The batch's live signals go out when it is done, their audiences computed together, and
        # the Operators' "notification" once per batch, not once per escalated chat; so do the
        # batched reactions to its commits (the notices' delivery: one task, not one per chat).
        with conv_services.signals_batched(), events.batched():
            for pk in ids:
                try:
                    stats[process_deadline(conversation_id=pk, token=token, now=now or timezone.now())] += 1
                except Exception:  # one bad chat must not stop the others; its lease expires and it is retried
                    log.exception("escalation of conversation %s failed", pk)
                    stats["failed"] += 1
        if len(ids) < batch:
            break
    return stats


def sweep_presence(*, now: datetime) -> Counter:
    """Presence follows people, not sockets:

    * sockets of a dead server (no heartbeat for ``services.stale_after()``) count as closed since
      their last heartbeat, which starts the clock below;
    * an online person whose last tab closed ``away_grace()`` ago turns away (their chats stay);
    * an away person with no tab open for ``absence_offline()`` goes offline, and so does someone
      whose shift ended ``away_grace()`` ago without a tab open: only then are chats reclaimed.

    Each step is claimed with a conditional UPDATE (two sweeps at once: one winner per person) in
    the same transaction as its side effects."""
    stats: Counter = Counter()
    cutoff = now - services.stale_after()
    stale = Q(connections__gt=0) & (Q(last_seen__lt=cutoff) | Q(last_seen__isnull=True))
    for user_id in list(AgentPresence.objects.filter(stale).values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            row = AgentPresence.objects.select_for_update().filter(pk=user_id).values("status", "last_seen").first()
            since = min(row["last_seen"] or now, now) if row else now
            if row and AgentPresence.objects.filter(Q(pk=user_id) & stale).update(
                    connections=0, offline_due_at=services.presence_next_step(row["status"], since)):
                stats["stale_reset"] += 1
    due = Q(offline_due_at__lte=now, connections=0)
    for user_id in list(AgentPresence.objects.filter(due).values_list("pk", flat=True)[:500]):
        with transaction.atomic():
            stats[_presence_step(user_id, due, now)] += 1
    for user_id in _shift_ended(now):
        with transaction.atomic():
            stats[_presence_step(user_id, Q(connections=0), now, reason="end_of_shift")] += 1
    stats.pop("", None)
    return stats


def _presence_step(user_id: int, claim: Q, now: datetime, reason: str = "") -> str:
    """One presence step for one person (the caller's transaction): online -> away, away -> offline
    (or straight to offline for ``end_of_shift``)."""
    # Same lock order as presence_set: the presence row, then (reclaiming) the chats.
    p = AgentPresence.objects.select_for_update().filter(pk=user_id).first()
    if p is None or p.status == Presence.OFFLINE:
        AgentPresence.objects.filter(Q(pk=user_id) & claim).update(offline_due_at=None)
        return ""
    before, left = p.status, min(p.last_seen or now, now)
    if before == Presence.ONLINE and not reason:
        status, next_due, auto = Presence.AWAY, left + services.away_grace() + services.absence_offline(), True
    else:
        status, next_due, auto = Presence.OFFLINE, None, False
    # The conditional UPDATE is the claim: still due, still in the state we read.
    if not AgentPresence.objects.filter(Q(pk=user_id, status=before) & claim).update(
            status=status, offline_due_at=next_due, auto_away=auto, changed_at=now):
        return ""
    p.status = status
    services._presence_changed(p, before, now, reason or "disconnected", session_end=left)
    return "went_away" if status == Presence.AWAY else "went_offline"


def _shift_ended(now: datetime) -> list[int]:
    """People still online/away with no tab open whose shift ended over ``away_grace()`` ago and who
    did not set their presence after it ended (someone staying on after their shift chose to)."""
    from .models import AgentShift
    from .schedules import agent_in_shift, last_end

    grace = services.away_grace()
    out = []
    rows = (AgentPresence.objects.filter(status__in=[Presence.ONLINE, Presence.AWAY], connections=0)
            .filter(Exists(AgentShift.objects.filter(presence_id=OuterRef("pk"))))
            .select_related("user").prefetch_related("shifts")[:500])
    for p in rows:
        shifts = list(p.shifts.all())
        if agent_in_shift(p, now, shifts):
            continue
        ended = last_end(shifts, now, p.user.time_zone)
        if ended is not None and ended + grace <= now and (p.changed_at is None or p.changed_at < ended):
            out.append(p.pk)
    return out


def reconcile(*, now: datetime, limit: int = 500) -> Counter:
    """Arm timers that nobody armed, and route chats whose route task was lost."""
    stats: Counter = Counter()
    stuck = (Conversation.objects.filter(status=Status.TRANSFER, updated_at__lte=now - timedelta(seconds=60))
             .values_list("pk", flat=True)[:limit])
    for pk in list(stuck):
        services.routing_conversation_arrived(conversation_id=pk, now=now)
        stats["rerouted"] += 1
    timed = DepartmentRouting.objects.filter(pk=OuterRef("department_id"))
    waiting = (Conversation.objects.filter(status=Status.UNASSIGNED)
               .filter(Exists(timed.filter(pickup_minutes__isnull=False)))
               .exclude(Exists(ConversationDeadline.objects.filter(pk=OuterRef("pk"), kind=DeadlineKind.PICKUP))))
    assigned = (Conversation.objects.filter(status=Status.ASSIGNED)
                .filter(Exists(timed.filter(reply_minutes__isnull=False)))
                .exclude(Exists(ConversationDeadline.objects.filter(pk=OuterRef("pk"), kind=DeadlineKind.REPLY,
                                                                    armed_for=OuterRef("assigned_at")))))
    for qs in (waiting, assigned):
        for conv in qs.select_related("department")[:limit]:
            with transaction.atomic():
                locked = Conversation.objects.select_for_update().filter(pk=conv.pk).first()
                if locked is not None:
                    services.arm_from_state(locked, now=now)
                    stats["armed"] += 1
    return stats


def sweep(*, now: datetime | None = None, batch: int = 500, assign: bool = True, reconcile_limit: int = 500) -> dict:
    fixed = now
    now = now or timezone.now()
    stats: Counter = Counter()
    with services.sweep_memo():
        stats.update(sweep_presence(now=now))
        stats.update(sweep_deadlines(now=fixed, batch=batch))
        stats.update(reconcile(now=now, limit=reconcile_limit))
        # Snoozes whose time passed: the lists show them awake already; this records the wake-up
        # (event, live signal) so open inboxes refresh without a reload.
        stats["snooze_woken"] += conv_services.conversation_wake_due(now=now)
        if assign:
            stats["assigned"] += services.routing_assign_waiting(now=now)
    return dict(stats)
