"""Routing: what happens when a conversation reaches a department, and what happens when nobody acts.

Entry points (all take ``now`` so tests freeze time by passing it):

* ``routing_conversation_arrived`` - called on commit by ``routing.tasks.conversation_route`` (``conversation.needs_routing``)
  whenever a chat enters transfer/requeue/reopen: out of hours -> backup department; else queue it,
  arm the pick-up timer and try an automatic assignment.
* ``routing_try_assign`` - one assignment attempt for one chat, concurrency-safe: the chat row is
  locked (two workers, one chat: one assignment) and so is the chosen agent's presence row while
  their load is recounted (two chats, one agent: never over capacity).
* ``routing_agent_available`` - an agent came online or freed capacity: drain their queues.
* ``presence_set`` / ``presence_connected`` / ``presence_disconnected`` - presence; going offline
  reclaims open chats per the department's rule (after a grace period for closed websockets).
* ``routing_sweep`` - the periodic task (Celery beat, or a thread in the embedded demo). See
  ``apps.routing.sweep``.

Every state change goes through ``apps.conversations.services``; each escalation step is also logged
as a ``ConversationEvent`` of kind "escalation".
"""
from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from apps.conversations import services as conv_services
from apps.conversations.models import (ACTIVE_HUMAN_STATUSES, Conversation, ConversationEvent, Status)
from apps.core import memo
from apps.core.errors import DomainError
from apps.core.realtime import signal_users_on_commit
from apps.departments.models import Department, Membership
from apps.roles.access import operators

from .models import (AgentPresence, ConversationDeadline, DeadlineKind, DepartmentRouting, Mode, Notification,
                     Presence, Reclaim, RoutingRule, RuleAttribute, RuleTarget)
from .schedules import agent_in_shift, department_is_open
from .selectors import line

log = logging.getLogger(__name__)
WAITING = (Status.UNASSIGNED, Status.TRANSFER)
SYSTEM = conv_services.SYSTEM


def _now(now: datetime | None) -> datetime:
    return now or timezone.now()


# --- configuration ---------------------------------------------------------------------------

def sweep_memo():
    """Within one sweep (or one routing step), department settings and their Operators (and what
    other apps memoise, such as the active webhook endpoints) are read once, not once per chat (a
    change made by an Operator applies from the next sweep). Nested use keeps the outer cache."""
    return memo.scope()


def _memoised(key, compute):
    return memo.memoised(("routing", *key), compute)


def config_for(department: Department | int | None) -> DepartmentRouting:
    """The department's routing settings; an unsaved default (manual, no timers) if none were set."""
    dept_id = department.pk if isinstance(department, Department) else department

    def load():
        cfg = DepartmentRouting.objects.filter(pk=dept_id).first() if dept_id else None
        return cfg or DepartmentRouting(department_id=dept_id, mode=Mode.MANUAL)

    return _memoised(("cfg", dept_id), load)


def attach_memoised(conv: Conversation) -> None:
    """Give ``conv`` its department and channel as read once per sweep (``sweep_memo``), instead of
    joining them into every chat's lock query: a sweep handles hundreds of chats of a few
    departments. Read-only here (like ``config_for``, a change applies from the next sweep); a
    service that moves the chat sets the new department on it."""
    from apps.conversations.models import Channel

    dept_id, channel_id = conv.department_id, conv.channel_id
    department = _memoised(("department", dept_id), lambda: Department.objects.filter(pk=dept_id).first())
    if department is not None:
        conv.department = department
    channel = _memoised(("channel", channel_id), lambda: Channel.objects.filter(pk=channel_id).first())
    if channel is not None:
        conv.channel = channel


def presence_for(user) -> AgentPresence:
    presence, _created = AgentPresence.objects.get_or_create(user_id=getattr(user, "pk", user))
    return presence


def relaxed_commit() -> None:
    """PostgreSQL: commit this transaction without waiting for the WAL flush.

    Used only for routing steps that the periodic sweep redoes if they are lost: a crash can drop
    the last few hundred milliseconds of such commits, each one whole (state, event and timer
    together), never half of one. Commits dominate these steps' cost on a busy disk.
    """
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit TO OFF")


# --- candidates --------------------------------------------------------------------------------

@dataclass
class Candidate:
    presence: AgentPresence
    load: int
    is_senior: bool


def _load_subquery():
    return Coalesce(Subquery(
        Conversation.objects.filter(assignee_id=OuterRef("user_id"), status__in=ACTIVE_HUMAN_STATUSES)
        .order_by().values("assignee_id").annotate(c=Count("pk")).values("c")[:1],
        output_field=IntegerField()), Value(0))


def _channel_ok(presence: AgentPresence, channel_kind: str) -> bool:
    limit = (presence.channel_capacity or {}).get(channel_kind)
    if limit in (None, ""):
        return True
    try:
        limit = int(limit)
    except (TypeError, ValueError):
        return True
    used = Conversation.objects.filter(assignee_id=presence.user_id, status__in=ACTIVE_HUMAN_STATUSES,
                                       channel__kind=channel_kind).count()
    return used < limit


def available_agents(department_id: int, now: datetime, *, channel_kind: str = "",
                     exclude: set[int] | frozenset = frozenset()) -> list[Candidate]:
    """Members who may handle the department's chats, online, in shift and under capacity."""
    members = {m.user_id: m.is_senior for m in Membership.objects.filter(
        department_id=department_id, can_handle=True, user__is_active=True)}
    if not members:
        return []
    rows = (AgentPresence.objects.filter(user_id__in=list(members), status=Presence.ONLINE)
            .exclude(user_id__in=list(exclude)).select_related("user").prefetch_related("shifts")
            .annotate(load=_load_subquery()))
    out = []
    for p in rows:
        if p.load >= p.capacity or not agent_in_shift(p, now, list(p.shifts.all())):
            continue
        if channel_kind and not _channel_ok(p, channel_kind):
            continue
        out.append(Candidate(p, p.load, members[p.user_id]))
    return out


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.get_fixed_timezone(0))


def _by_load(c: Candidate):
    return (c.load, c.presence.last_assigned_at or _EPOCH, c.presence.user_id)


def _by_turn(c: Candidate):
    return (c.presence.last_assigned_at or _EPOCH, c.presence.user_id)


def _rule_matches(rule: RoutingRule, conv: Conversation) -> bool:
    value = (rule.value or "").strip().lower()
    if rule.attribute == RuleAttribute.VIP:
        return bool(conv.contact.is_vip) == (value in ("", "true", "1", "yes", "si", "sí"))
    if rule.attribute == RuleAttribute.LANGUAGE:
        lang = (conv.language or conv.contact.language or "").lower().split("-")[0]
        return bool(lang) and lang == value.split("-")[0]
    if rule.attribute == RuleAttribute.CHANNEL:
        return conv.channel.kind.lower() == value
    if rule.attribute == RuleAttribute.CONTACT_ATTRIBUTE:
        key, _sep, expected = (rule.value or "").partition("=")
        actual = (conv.contact.attributes or {}).get(key.strip())
        return actual is not None and str(actual).strip().lower() == expected.strip().lower()
    return False


def _rule_group(rule: RoutingRule, conv: Conversation, candidates: list[Candidate]) -> list[Candidate]:
    if rule.target == RuleTarget.SENIOR:
        return [c for c in candidates if c.is_senior]
    if rule.target == RuleTarget.LANGUAGE:
        lang = (rule.target_value or conv.language or conv.contact.language or "").lower().split("-")[0]
        return [c for c in candidates if lang in c.presence.language_set()]
    if rule.target == RuleTarget.TEAM:
        team = (rule.target_value or "").strip().lower()
        return [c for c in candidates if team in c.presence.team_set()]
    return []


def rank_candidates(conv: Conversation, mode: str, candidates: list[Candidate]) -> tuple[list[Candidate], dict]:
    """Candidates in order of preference for ``mode``, and how the choice was made (for the event)."""
    if mode == Mode.ROUND_ROBIN:
        return sorted(candidates, key=_by_turn), {"mode": mode}
    if mode == Mode.RULES:
        for rule in RoutingRule.objects.filter(routing_id=conv.department_id):
            if _rule_matches(rule, conv):
                group = _rule_group(rule, conv, candidates)
                if group:
                    # The rule's group first (by load), then everyone else as the fallback.
                    rest = [c for c in candidates if c not in group]
                    return sorted(group, key=_by_load) + sorted(rest, key=_by_load), {"mode": mode, "rule": rule.pk}
        return sorted(candidates, key=_by_load), {"mode": mode, "rule": None, "fallback": "load"}
    return sorted(candidates, key=_by_load), {"mode": Mode.LOAD if mode != Mode.LOAD else mode}


def _previous_assignee(conv: Conversation) -> set[int]:
    """Do not bounce a chat straight back to the agent it was just taken from."""
    last = (ConversationEvent.objects.filter(conversation_id=conv.pk).order_by("-created_at", "-id")
            .values("kind", "from_assignee_id").first())
    if last and last["kind"] == ConversationEvent.Kind.REQUEUED and last["from_assignee_id"]:
        return {last["from_assignee_id"]}
    return set()


# --- assignment --------------------------------------------------------------------------------

def routing_try_assign(*, conversation_id: int, now: datetime | None = None, any_member: bool = False,
                       reason: str = "") -> object | None:
    """Assign one waiting chat automatically, if its department's mode and an available agent allow.

    Returns the assignee, or None. ``any_member`` (escalation) assigns by load even in manual mode.
    Safe to call concurrently from any number of workers.
    """
    now = _now(now)
    for attempt in range(4):
        user, contended = _try_assign_once(conversation_id, now, any_member, reason)
        if user is not None or not contended:
            return user
        # Every fitting agent was being assigned another chat by another worker right now: retry in a
        # fresh transaction (their locks are gone by then) rather than leave the chat for the sweep.
        time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
    return None


def _try_assign_once(conversation_id: int, now: datetime, any_member: bool, reason: str) -> tuple[object | None, bool]:
    contended = False
    with transaction.atomic():
        # Lock the chat itself (no joins: FOR UPDATE must not touch outer-joined rows).
        conv = (Conversation.objects.select_for_update(of=("self",))
                .select_related("contact", "channel", "department").filter(pk=conversation_id).first())
        if conv is None or conv.status not in WAITING or conv.department_id is None:
            return None, False
        cfg = config_for(conv.department_id)
        if cfg.mode == Mode.MANUAL and not any_member:
            return None, False
        if cfg.use_schedule and not department_is_open(conv.department, now):
            return None, False
        candidates = available_agents(conv.department_id, now, channel_kind=conv.channel.kind,
                                      exclude=_previous_assignee(conv))
        if not candidates:
            return None, False
        ranked, how = rank_candidates(conv, Mode.LOAD if any_member else cfg.mode, candidates)
        for cand in ranked:
            # Lock the agent's presence row, then recount under the lock: two workers assigning two
            # chats to the same agent serialise here, and the second sees the first one's chat.
            locked = (AgentPresence.objects.select_for_update(skip_locked=True)
                      .filter(pk=cand.presence.pk, status=Presence.ONLINE).first())
            if locked is None:
                contended = True
                continue
            load = Conversation.objects.filter(assignee_id=locked.user_id, status__in=ACTIVE_HUMAN_STATUSES).count()
            if load >= locked.capacity or not _channel_ok(locked, conv.channel.kind):
                continue
            user = cand.presence.user
            if conv.status == Status.TRANSFER:
                conv_services.conversation_enqueue(conversation=conv.pk, reason="routed")
            assigned = conv_services.conversation_assign(
                conversation=conv.pk, assignee=user, actor=SYSTEM, reason=reason or "auto:" + how["mode"],
                payload={**how, "load": load, "capacity": locked.capacity})
            AgentPresence.objects.filter(pk=locked.pk).update(last_assigned_at=now)
            arm_from_state(assigned, now=now)
            _announce(assigned, user, conv.department)
            return user, False
    return None, contended


def _announce(conv: Conversation, user, department: Department) -> None:
    """Tell the customer, in their language, who takes over. Right after an AI handoff the AI Agent
    says it in its own voice ("I'll pass you to María, from Support"), once per assignee; otherwise
    (requeue, reassignment after a human spoke) routing says it as a system message."""
    try:
        from apps.agent.services import agent_announce_assignee
    except ImportError:  # the agent app is optional for routing
        agent_announce_assignee = None
    if agent_announce_assignee is not None and agent_announce_assignee(conv.pk):
        return
    if conv.messages.filter(author_kind="ai_agent", meta__kind="handoff_assignee", meta__assignee=user.pk).exists():
        return
    lang = (conv.language or "").split("-")[0] or settings.LANGUAGE_CODE
    with translation.override(lang):
        body = _("%(name)s, from %(department)s, is taking over your conversation.") % {
            "name": user.public_name, "department": str(department)}
    conv_services.message_post_system(conversation=conv.pk, body=body,
                                      meta={"routing": "assigned", "assignee": user.pk})


def customer_wait_notice(conv: Conversation, *, kind: str, now: datetime, estimate=None) -> bool:
    """Tell a waiting customer the truth, in their language, on their channel: the department is
    closed (``closed``: when it opens; their message is kept), or they wait (``waiting``: their place
    in line and the expected wait from ``selectors.expected_wait``; when nobody is available at all
    it says so instead of inventing a figure). Once per kind while the chat waits in this queue
    (since ``queued_at``)."""
    from django.utils.translation import ngettext

    from .selectors import expected_wait

    department = conv.department
    if kind == "waiting":
        est = estimate or expected_wait(department, conversation=conv, now=now)
        if est.nobody_available:
            kind = "unavailable"
    since = conv.queued_at or conv.created_at
    if conv.messages.filter(author_kind="system", meta__routing=kind, created_at__gte=since).exists():
        return False
    meta = {"routing": kind}
    lang = (conv.language or "").split("-")[0] or settings.LANGUAGE_CODE
    with translation.override(lang):
        if kind == "closed":
            from django.utils.formats import date_format

            from .schedules import department_next_open

            opens = department_next_open(department, now)
            if opens is not None:
                local = timezone.localtime(opens, _zone(department))
                body = _("Our %(department)s team is not available right now. Your message is saved and a person "
                         "will answer you when we open (%(when)s).") % {
                    "department": str(department), "when": date_format(local, "l H:i")}
                meta["opens_at"] = opens.isoformat()
            else:
                body = _("Our %(department)s team is not available right now. Your message is saved and a person "
                         "will answer you as soon as possible.") % {"department": str(department)}
        elif kind == "unavailable":
            body = _("Nobody from %(department)s is available right now. We have told the team; you keep your "
                     "place in line (number %(position)s) and a person will answer you here as soon as "
                     "possible.") % {"department": str(department), "position": est.position}
            meta["position"] = est.position
        elif est.minutes:
            body = ngettext(
                "You are number %(position)s in line for %(department)s. Expected wait: about %(minutes)s minute.",
                "You are number %(position)s in line for %(department)s. Expected wait: about %(minutes)s minutes.",
                est.minutes) % {"position": est.position, "department": str(department), "minutes": est.minutes}
            meta.update(position=est.position, wait_minutes=est.minutes)
        else:
            body = _("You are number %(position)s in line for %(department)s: a person will be with you in a "
                     "moment.") % {"position": est.position, "department": str(department)}
            meta.update(position=est.position, wait_minutes=0)
    # ``conv`` itself: when the caller locked it with ``conversation_lock`` its lock is reused.
    conv_services.message_post_system(conversation=conv, body=body, meta=meta)
    return True


def can_take(department: Department, now: datetime, *, channel_kind: str = "") -> bool:
    """May routing move a chat to ``department``? Only if it is active, open, and someone there is
    online, in shift and has room: escalation never moves a chat to an empty place."""
    if not department.is_active:
        return False
    if config_for(department.pk).use_schedule and not department_is_open(department, now):
        return False
    return bool(available_agents(department.pk, now, channel_kind=channel_kind))


def nobody_took_it(conv: Conversation, now: datetime) -> None:
    """A chat arrived and could not be assigned at once (the caller's transaction): the customer
    hears their place in line and the expected wait (or that nobody is available), and when nobody
    is available at all the Operators are told (at most every ``ROUTING_NOTIFY_REPEAT_MINUTES``; by
    the pick-up ladder instead when the department has one that notifies)."""
    from .selectors import expected_wait

    est = expected_wait(conv.department, conversation=conv, now=now)
    cfg = config_for(conv.department_id)
    # A department whose pick-up timer notifies the Operators hears about it from its ladder (the
    # configured delay); otherwise nobody would ever know, so they are told now.
    ladder_notifies = bool(cfg.pickup_minutes and (cfg.pickup_notify or cfg.pickup_to_backup))
    if est.nobody_available and not ladder_notifies:
        repeat = timedelta(minutes=int(getattr(settings, "ROUTING_NOTIFY_REPEAT_MINUTES", 30)))
        if not Notification.objects.filter(conversation_id=conv.pk, kind="nobody_available",
                                           created_at__gte=now - repeat).exists():
            notify_operators(conversation=conv, kind="nobody_available")
    # Someone free will pick it up shortly (the widget shows the line): a message only when the
    # customer is really going to wait. The pick-up ladder's first step tells everyone still waiting.
    if est.nobody_available or (est.position > est.free_slots and est.minutes):
        customer_wait_notice(conv, kind="waiting", now=now, estimate=est)


def _zone(department: Department):
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(department.time_zone or settings.TIME_ZONE)
    except Exception:  # an unknown zone name: the operation's own
        return ZoneInfo(settings.TIME_ZONE)


def routing_conversation_arrived(*, conversation_id: int, now: datetime | None = None) -> None:
    """A chat entered a department (handoff, transfer, requeue, reopen)."""
    with sweep_memo():
        _arrived(conversation_id, _now(now))


def _arrived(conversation_id: int, now: datetime) -> None:
    conv = Conversation.objects.filter(pk=conversation_id).select_related("department", "channel").first()
    if conv is None or conv.status not in WAITING or conv.department_id is None:
        return
    cfg = config_for(conv.department_id)
    closed = cfg.use_schedule and not department_is_open(conv.department, now)
    if closed:
        backup = conv.department.backup
        if backup and backup.pk != conv.department_id:
            if can_take(backup, now, channel_kind=conv.channel.kind):
                with transaction.atomic():
                    if conv.status == Status.TRANSFER:  # transfer -> transfer is not a move: queue it here first
                        conv_services.conversation_enqueue(conversation=conv.pk, reason="out_of_hours")
                    conv_services.conversation_record_escalation(
                        conversation=conv.pk, reason="out_of_hours",
                        payload={"step": "out_of_hours", "from": conv.department_id, "to": backup.pk})
                    conv_services.conversation_transfer(conversation=conv.pk, department=backup, actor=SYSTEM,
                                                        reason=_("Out of hours: moved to the backup department."))
                return
            # Nobody there can take it either: the chat stays here (the log says why) and waits for the
            # opening; the customer is told when that is.
            conv_services.conversation_record_escalation(
                conversation=conv.pk, reason="out_of_hours",
                payload={"step": "out_of_hours", "from": conv.department_id, "to": None,
                         "backup_unavailable": backup.pk})
    with transaction.atomic():
        relaxed_commit()  # a lost route step is redone by the sweep (stuck transfers, waiting chats)
        conv = Conversation.objects.select_for_update().filter(pk=conv.pk).first()
        if conv is None or conv.status not in WAITING:  # someone acted meanwhile
            return
        if conv.status == Status.TRANSFER:
            conv = conv_services.conversation_enqueue(conversation=conv.pk, reason="routed")
        arm_from_state(conv, now=now)
        if closed:
            customer_wait_notice(conv, kind="closed", now=now)  # nobody will pick up before the opening
            return
        if routing_try_assign(conversation_id=conv.pk, now=now) is None:
            nobody_took_it(Conversation.objects.select_related("department").get(pk=conv.pk), now)


def routing_agent_available(*, user_id: int, now: datetime | None = None, limit: int = 50) -> int:
    """An agent came online or freed capacity: route what waits in their departments. Returns assignments."""
    now = _now(now)
    if not AgentPresence.objects.filter(pk=user_id, status=Presence.ONLINE).exists():
        return 0  # capacity freed by someone offline (or away) makes nobody new available
    dept_ids = list(Membership.objects.filter(user_id=user_id, can_handle=True).values_list("department_id", flat=True))
    auto = DepartmentRouting.objects.filter(pk__in=dept_ids).exclude(mode=Mode.MANUAL).values_list("pk", flat=True)
    return _drain(list(auto), now, limit)


routing_capacity_freed = routing_agent_available


def _drain(dept_ids: list[int], now: datetime, limit: int) -> int:
    """Assign each department's waiting chats in line order (``selectors.line``: who has waited
    longest for a person first; a requeued chat keeps its place)."""
    done = 0
    for dept_id in dept_ids:
        waiting = list(line(dept_id).values_list("pk", flat=True)[:limit])
        for pk in waiting:
            if routing_try_assign(conversation_id=pk, now=now) is None:
                if not available_agents(dept_id, now):
                    break
                continue
            done += 1
    return done


def routing_assign_waiting(*, now: datetime | None = None, limit: int = 200) -> int:
    """Periodic: anything still waiting in an automatic department gets another chance."""
    now = _now(now)
    auto = list(DepartmentRouting.objects.exclude(mode=Mode.MANUAL).values_list("pk", flat=True))
    return _drain(auto, now, limit)


# --- deadlines ---------------------------------------------------------------------------------

def arm_from_state(conv: Conversation, *, now: datetime, stage: int = 0) -> ConversationDeadline | None:
    """(Re)arm the conversation's timer from its current state and its department's settings."""
    cfg = config_for(conv.department_id)
    kind = armed_for = minutes = None
    if conv.status in WAITING and cfg.pickup_minutes:
        kind, armed_for, minutes = DeadlineKind.PICKUP, conv.queued_at or now, cfg.pickup_minutes
    elif conv.status == Status.ASSIGNED and cfg.reply_minutes:
        kind, armed_for, minutes = DeadlineKind.REPLY, conv.assigned_at or now, cfg.reply_minutes
    if kind is None:
        ConversationDeadline.objects.filter(pk=conv.pk).delete()
        return None
    due = armed_for + timedelta(minutes=minutes)
    if kind == DeadlineKind.PICKUP:
        due = pickup_due_when_open(conv, due)
    deadline = ConversationDeadline(conversation_id=conv.pk, kind=kind, due_at=due, scheduled_at=due,
                                    armed_for=armed_for, stage=stage, claim_token=None, claimed_at=None)
    # One upsert statement (INSERT ... ON CONFLICT DO UPDATE) instead of select-then-write.
    ConversationDeadline.objects.bulk_create(
        [deadline], update_conflicts=True, unique_fields=["conversation"],
        update_fields=["kind", "due_at", "scheduled_at", "armed_for", "stage", "claim_token", "claimed_at"])
    return deadline


def pickup_due_when_open(conv: Conversation, due: datetime) -> datetime:
    """A department that follows business hours escalates only while open: a pick-up deadline that
    falls while it is closed moves to its next opening (nobody is paged all night for a queue that
    nobody is expected to pick up)."""
    cfg = config_for(conv.department_id)
    if not cfg.use_schedule or conv.department_id is None:
        return due
    from .schedules import department_next_open

    return department_next_open(conv.department, due) or due


# --- presence ----------------------------------------------------------------------------------

def away_grace() -> timedelta:
    """How long after the last tab closes an online person turns "away" (a reload, a network blip or
    a laptop lid closed for a moment changes nothing). Several minutes by default."""
    return timedelta(seconds=getattr(settings, "ROUTING_AWAY_GRACE_SECONDS", 300))


def absence_offline() -> timedelta:
    """How long someone stays "away" with no tab open before they count as gone for the day: only
    then ("offline") do their chats go back to the queue."""
    return timedelta(minutes=getattr(settings, "ROUTING_ABSENCE_OFFLINE_MINUTES", 30))


def heartbeat_interval() -> float:
    """How often an open staff socket refreshes ``last_seen`` (``presence_heartbeat``)."""
    return float(getattr(settings, "ROUTING_HEARTBEAT_SECONDS", 30))


def stale_after() -> timedelta:
    """Open connections with no heartbeat for this long belong to a server that died (crash, deploy,
    restart: its disconnects never ran); they then count as closed since their last heartbeat.
    Three heartbeats by default (a live socket beats every ``ROUTING_HEARTBEAT_SECONDS``)."""
    default = max(3 * heartbeat_interval(), 60.0)
    return timedelta(seconds=getattr(settings, "ROUTING_PRESENCE_STALE_SECONDS", default))


def monitor_audience() -> list[int]:
    """Users who may watch the Operator monitor (the ``view_monitor`` capability, or superusers)."""
    User = get_user_model()
    q = (Q(is_superuser=True)
         | Q(groups__permissions__codename="view_monitor", groups__permissions__content_type__app_label="roles")
         | Q(user_permissions__codename="view_monitor", user_permissions__content_type__app_label="roles"))
    return sorted(set(User.objects.filter(q, is_active=True).values_list("pk", flat=True)))


def signal_presence_changed() -> None:
    """After commit, tell the monitor's audience that presence changed (a signal, never the data:
    the monitor panel re-fetches through its own view)."""
    transaction.on_commit(lambda: _send_presence_signal())


def _send_presence_signal() -> None:
    from apps.core.realtime import _send, user_group

    _send([user_group(uid) for uid in monitor_audience()], {"what": "presence"})


def presence_session_open(user_id: int, at: datetime) -> None:
    """Open a logged-in session unless one is open (callers hold the presence row lock)."""
    from .models import PresenceSession

    if not PresenceSession.objects.filter(user_id=user_id, ended_at__isnull=True).exists():
        PresenceSession.objects.create(user_id=user_id, started_at=at)


def presence_session_close(user_id: int, at: datetime, reason: str) -> None:
    from .models import PresenceSession

    for session in PresenceSession.objects.filter(user_id=user_id, ended_at__isnull=True):
        session.ended_at, session.end_reason = max(at, session.started_at), reason[:30]
        session.save(update_fields=["ended_at", "end_reason"])


def agent_available_on_commit(user_id: int | None) -> None:
    """Enqueue ``routing.agent_available`` for ``user_id`` after commit (thin task, an id only): an
    agent came online or freed capacity. Never assigns inside the caller's request/transaction."""
    if not user_id:
        return
    transaction.on_commit(lambda: agent_available_enqueue(user_id))


def agent_available_enqueue(user_id: int) -> None:
    """Enqueue ``routing.agent_available`` now (called after commit)."""
    from .tasks import routing_agent_available as task

    try:
        task.delay(user_id)
    except Exception:  # a broker outage must not break a committed write; the sweep drains queues anyway
        log.exception("could not enqueue routing.agent_available for %s", user_id)


def presence_set(*, user, status: str, now: datetime | None = None, reason: str = "") -> AgentPresence:
    """Set a human's presence (their own choice, or login). Online drains their queues (a task, on
    commit); offline reclaims their open chats. Leaving/returning to offline opens/closes a
    ``PresenceSession``; any change signals the monitor."""
    now = _now(now)
    if status not in Presence.values:
        raise DomainError(_("Unknown presence."), code="invalid_input")
    with transaction.atomic():
        presence_for(user)
        p = AgentPresence.objects.select_for_update().get(pk=getattr(user, "pk", user))
        before = p.status
        p.status, p.changed_at, p.auto_away = status, now, False
        # Chosen with no tab open (e.g. "away" from a phone): the absence clock runs from now.
        p.offline_due_at = now + absence_offline() if status == Presence.AWAY and p.connections == 0 else None
        p.save(update_fields=["status", "changed_at", "offline_due_at", "auto_away"])
        _presence_changed(p, before, now, reason)
    return p


def _presence_changed(p: AgentPresence, before: str, now: datetime, reason: str, *,
                      session_end: datetime | None = None) -> None:
    """The side effects of a presence change (the caller holds the presence row lock)."""
    if p.status == Presence.OFFLINE and before != Presence.OFFLINE:
        presence_session_close(p.user_id, session_end or now, reason or "offline")
        reclaim_chats(user_id=p.user_id, now=now, reason=reason or "offline")
    elif p.status != Presence.OFFLINE:
        presence_session_open(p.user_id, now)
    if p.status != before:
        signal_presence_changed()
    if p.status == Presence.ONLINE and before != Presence.ONLINE:
        agent_available_on_commit(p.user_id)


def presence_set_login_preference(*, user, online_at_login: bool) -> AgentPresence:
    """Whether signing in also sets this person online (offered, ticked this way, on the sign-in
    page; edited on the availability page). Changes the preference only, never the presence."""
    presence = presence_for(user)
    if presence.online_at_login != online_at_login:
        AgentPresence.objects.filter(pk=presence.pk).update(online_at_login=online_at_login)
        presence.online_at_login = online_at_login
    return presence


def presence_ensure_online(*, user, now: datetime | None = None, reason: str = "acted") -> bool:
    """Someone offline picks up or replies: they are evidently working, so they go online
    (a chat they hold must not be reclaimed by the rules for people who left). Returns True if changed."""
    status = AgentPresence.objects.filter(pk=getattr(user, "pk", user)).values_list("status", flat=True).first()
    if status not in (None, Presence.OFFLINE):
        return False  # online already, or away by their own choice (answering a chat without taking new ones)
    presence_set(user=user, status=Presence.ONLINE, now=now, reason=reason)
    return True


def presence_connected(user_id: int, now: datetime | None = None) -> None:
    """A websocket of this user opened (called by the workspace consumer). Someone the sweep marked
    away because their last tab closed is back online (a choice of their own to be away stays)."""
    now = _now(now)
    with transaction.atomic():
        presence_for(user_id)
        p = AgentPresence.objects.select_for_update().get(pk=user_id)
        before = p.status
        p.connections, p.offline_due_at, p.last_seen = p.connections + 1, None, now
        fields = ["connections", "offline_due_at", "last_seen"]
        if p.status == Presence.AWAY and p.auto_away:
            p.status, p.auto_away, p.changed_at = Presence.ONLINE, False, now
            fields += ["status", "auto_away", "changed_at"]
        p.save(update_fields=fields)
        if p.status != Presence.OFFLINE:  # also opens a session for a presence set before sessions existed
            _presence_changed(p, before, now, "reconnected")


def presence_heartbeat(user_id: int, now: datetime | None = None) -> None:
    """An open staff socket is alive (the workspace consumer calls this every
    ``ROUTING_HEARTBEAT_SECONDS``). Keeps its connections from being counted as a dead server's."""
    # Only the time: the connection count stays connect/disconnect's business (a beat racing a
    # disconnect must not resurrect a closed socket).
    AgentPresence.objects.filter(pk=user_id).update(last_seen=_now(now))


def presence_tab_visibility(user_id: int, *, hidden: bool, now: datetime | None = None) -> None:
    """An open staff tab was hidden or shown (the workspace socket reports the page's visibility).

    A hidden tab is not an absence: the person may be in another window or on the phone with a
    customer, and the browser still notifies them, so presence does not change (assignments go on).
    Either way the message is a sign of life of an open socket (``last_seen``). A tab shown again
    proves someone is there: if the sweep counted this socket as a dead server's (its heartbeats
    were late, ``connections`` reset to 0) it counts again and the clock stops, and an automatic
    away (not one the person chose) is back online."""
    now = _now(now)
    if hidden:
        AgentPresence.objects.filter(pk=user_id).update(last_seen=now)
        return
    with transaction.atomic():
        presence_for(user_id)
        p = AgentPresence.objects.select_for_update().get(pk=user_id)
        before = p.status
        p.last_seen = now
        fields = ["last_seen"]
        if p.connections == 0:  # a live socket the sweep took for a dead one
            p.connections, p.offline_due_at = 1, None
            fields += ["connections", "offline_due_at"]
        if p.status == Presence.AWAY and p.auto_away:
            p.status, p.auto_away, p.changed_at = Presence.ONLINE, False, now
            fields += ["status", "auto_away", "changed_at"]
        p.save(update_fields=fields)
        if p.status != before:
            _presence_changed(p, before, now, "tab_visible")


def presence_disconnected(user_id: int, now: datetime | None = None) -> None:
    """A websocket closed. When it was the last one the presence clock starts: online -> away after
    ``away_grace()``, away -> offline after ``absence_offline()`` (the sweep applies both)."""
    now = _now(now)
    with transaction.atomic():
        presence_for(user_id)
        p = AgentPresence.objects.select_for_update().get(pk=user_id)
        p.connections, p.last_seen = max(0, p.connections - 1), now
        fields = ["connections", "last_seen"]
        if p.connections == 0:
            p.offline_due_at = presence_next_step(p.status, now)
            fields.append("offline_due_at")
        p.save(update_fields=fields)


def presence_next_step(status: str, since: datetime) -> datetime | None:
    """When someone with no tab open since ``since`` takes the next presence step."""
    if status == Presence.ONLINE:
        return since + away_grace()
    if status == Presence.AWAY:
        return since + absence_offline()
    return None


def reclaim_chats(*, user_id: int, now: datetime, reason: str = "offline") -> int:
    """The agent went offline (their choice, end of shift, a long absence): their open chats follow
    each department's rule. Requeued chats stay in their department first; routing then decides,
    and never moves them to a department where nobody can take them. Returns chats moved."""
    moved = 0
    chats = list(Conversation.objects.filter(assignee_id=user_id, status__in=ACTIVE_HUMAN_STATUSES)
                 .values_list("pk", "department_id"))
    for pk, dept_id in chats:
        if config_for(dept_id).offline_reclaim != Reclaim.REQUEUE:
            continue
        with transaction.atomic():
            conv_services.conversation_record_escalation(
                conversation=pk, reason="agent_offline", payload={"step": "reclaim", "agent": user_id, "why": reason})
            conv_services.conversation_requeue(conversation=pk, reason=_("The agent went offline."),
                                               payload={"agent": user_id, "why": reason})
        moved += 1
    return moved


# --- notifications -----------------------------------------------------------------------------

def operators_for(department_id: int | None):
    return _memoised(("operators", department_id), lambda: _operators_for(department_id))


def _operators_for(department_id: int | None):
    cfg = config_for(department_id)
    if cfg.pk:
        chosen = list(cfg.supervisors.filter(is_active=True))
        if chosen:
            return chosen
    return list(operators())


def notify_operators(*, conversation: Conversation, kind: str, minutes: int | None = None) -> list[Notification]:
    """Store one notification per supervising Operator (in their language) and push a live signal."""
    rows = []
    for user in operators_for(conversation.department_id):
        with translation.override(user.language or settings.LANGUAGE_CODE):
            names = {"id": conversation.pk, "minutes": minutes or 0,
                     "department": str(conversation.department) if conversation.department_id else "-"}
            if kind == "nobody_available":
                text = _("Conversation #%(id)s is waiting in %(department)s and nobody there is available "
                         "(online, in shift, with room).") % names
            elif kind == "backup_unavailable":
                text = _("Conversation #%(id)s has waited in %(department)s for more than %(minutes)s minutes "
                         "and nobody in the backup department is available either.") % names
            else:
                text = _("Conversation #%(id)s has waited in %(department)s for more than %(minutes)s minutes.") % names
        rows.append(Notification(user=user, conversation=conversation, kind=kind, text=text[:300]))
    Notification.objects.bulk_create(rows)
    if rows:
        signal_users_on_commit([r.user_id for r in rows], {"what": "notification"})
    return rows


def notify_mentioned(event, record=None) -> list[Notification]:
    """``note.mentioned`` (in the note's transaction): one notice per mentioned colleague, in their
    language, linking to the conversation, and a live signal so their list re-fetches. The event
    holds only people who may see the chat, each once, never the writer (``conversations.mentions``)."""
    User = get_user_model()
    writer = User.objects.filter(pk=event.actor_id).first()
    rows = []
    for user in User.objects.filter(pk__in=event.extra.get("user_ids") or [], is_active=True):
        with translation.override(user.language or settings.LANGUAGE_CODE):
            text = _("%(name)s mentioned you in a note on conversation #%(id)s.") % {
                "name": writer.public_name if writer else _("Someone"), "id": event.conversation_id}
        rows.append(Notification(user=user, conversation_id=event.conversation_id, kind="mention", text=text[:300]))
    Notification.objects.bulk_create(rows)
    if rows:
        signal_users_on_commit([r.user_id for r in rows], {"what": "notification"})
    return rows


def notification_mark_read(*, user, ids: list[int] | None = None, conversation_id: int | None = None,
                           now: datetime | None = None) -> int:
    """Mark ``user``'s unread notices read: those of ``ids``, those about ``conversation_id`` (opening a
    chat reads its mentions and escalation notices), or all. A live signal refreshes their badge."""
    qs = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    if conversation_id is not None:
        qs = qs.filter(conversation_id=conversation_id)
    n = qs.update(read_at=_now(now))
    if n:
        signal_users_on_commit([user.pk], {"what": "notification"})
    return n


def routing_sweep(*, now: datetime | None = None, **kwargs) -> dict:
    from .sweep import sweep

    return sweep(now=now, **kwargs)


# --- Operator moves ------------------------------------------------------------------------------

def routing_reassign(*, conversation_id: int, assignee, actor, reason: str, now: datetime | None = None):
    """An Operator moves a chat to another agent, with a reason (core service: permission check and
    a "reassigned" event, which feeds the reassignment-rate metric); the reply timer follows the new
    assignment at once instead of at the next sweep. Operators may override capacity on purpose."""
    now = _now(now)
    with transaction.atomic():
        conv = conv_services.conversation_reassign(conversation=conversation_id, assignee=assignee, actor=actor,
                                                   reason=reason)
        arm_from_state(conv, now=now)
    return conv


def routing_transfer(*, conversation_id: int, department: Department, actor, reason: str):
    """Move a chat to another department's queue (core service); routing runs there on commit."""
    return conv_services.conversation_transfer(conversation=conversation_id, department=department, actor=actor,
                                               reason=reason)


def reassign_choices(*, department_id: int, now: datetime | None = None) -> list[dict]:
    """Agents of a department for an Operator's reassign form: presence, load and capacity, the
    available ones first (offline agents are listed too; the Operator decides)."""
    now = _now(now)
    members = list(Membership.objects.filter(department_id=department_id, can_handle=True, user__is_active=True)
                   .select_related("user"))
    presences = {p.user_id: p for p in AgentPresence.objects.filter(user_id__in=[m.user_id for m in members])
                 .annotate(load=_load_subquery()).prefetch_related("shifts")}
    rows = []
    for m in members:
        p = presences.get(m.user_id)
        status = p.status if p else Presence.OFFLINE
        load = p.load if p else Conversation.objects.filter(assignee_id=m.user_id,
                                                            status__in=ACTIVE_HUMAN_STATUSES).count()
        capacity = p.capacity if p else None
        available = bool(p and status == Presence.ONLINE and load < p.capacity
                         and agent_in_shift(p, now, list(p.shifts.all())))
        rows.append({"user": m.user, "status": status, "status_label": str(Presence(status).label), "load": load,
                     "capacity": capacity, "available": available, "is_senior": m.is_senior})
    rows.sort(key=lambda r: (not r["available"], r["load"], r["user"].public_name.lower()))
    return rows
