"""Keeping the rollup tables in step with the event log.

Choice: a periodic incremental refresh with high-water marks on event id and message id, not
on-commit hooks in the event writers. Why: an on-commit callback is lost if the process dies
between the commit and the callback, and it would add work to every lifecycle transaction. The
refresh keeps its marks in the database and writes facts, buckets and the new marks in ONE
transaction, so a crash rolls everything back and the next run redoes the same work; and it
recomputes each touched conversation from its full log (never "add one to a counter"), so
processing an event twice changes nothing.

Ids are handed out at insert, not commit, so a slow transaction can commit an id below a mark
already passed. The refresh therefore leaves events younger than ``SETTLE_SECONDS`` for the next
run, and ``reports_reconcile`` (hourly) recomputes any recent conversation whose fact does not
reflect its latest event or message id. ``reports_rebuild`` recomputes everything.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, timedelta
from typing import Callable, Iterable

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Max
from django.utils import timezone

from apps.conversations.models import Conversation, ConversationEvent, Message

from .definitions import COUNTERS
from .facts import (CONVERSATION_FIELDS, EVENT_FIELDS, MESSAGE_FIELDS, Context, Conv, Ev, Msg, activity_slots,
                    conversation_contrib)
from .models import ConversationFact, DailyRollup, OperatorActivity, RollupState

log = logging.getLogger(__name__)
SETTLE_SECONDS = getattr(settings, "REPORTS_SETTLE_SECONDS", 30)
BATCH = 500


# --- loading --------------------------------------------------------------------------------

def load_conversations(ids: Iterable[int]) -> list[tuple[Conv, list[Ev], list[Msg]]]:
    ids = sorted(set(ids))
    if not ids:
        return []
    convs = {row[0]: Conv(*row) for row in Conversation.objects.filter(pk__in=ids).values_list(*CONVERSATION_FIELDS)}
    events, messages = defaultdict(list), defaultdict(list)
    for row in ConversationEvent.objects.filter(conversation_id__in=ids).values_list(*EVENT_FIELDS).order_by():
        events[row[1]].append(Ev(*row))
    for row in Message.objects.filter(conversation_id__in=ids).values_list(*MESSAGE_FIELDS).order_by():
        messages[row[1]].append(Msg(*row))
    return [(conv, events[pk], messages[pk]) for pk, conv in sorted(convs.items())]


def _load_range(lo: int, hi: int) -> list[tuple[Conv, list[Ev], list[Msg]]]:
    """All conversations with lo <= id < hi (range scans on the conversation indexes, for rebuilds)."""
    convs = {row[0]: Conv(*row) for row in
             Conversation.objects.filter(pk__gte=lo, pk__lt=hi).values_list(*CONVERSATION_FIELDS)}
    events, messages = defaultdict(list), defaultdict(list)
    for row in ConversationEvent.objects.filter(conversation_id__gte=lo, conversation_id__lt=hi) \
            .values_list(*EVENT_FIELDS).order_by():
        events[row[1]].append(Ev(*row))
    for row in Message.objects.filter(conversation_id__gte=lo, conversation_id__lt=hi) \
            .values_list(*MESSAGE_FIELDS).order_by():
        messages[row[1]].append(Msg(*row))
    return [(conv, events[pk], messages[pk]) for pk, conv in sorted(convs.items())]


# --- bucket arithmetic ----------------------------------------------------------------------

def _accumulate(total: dict, contrib: list, sign: int = 1) -> None:
    for day, dept, channel, agent, counters in contrib:
        bucket = total[(day, dept, channel, agent)]
        for name, value in counters.items():
            bucket[name] += sign * value


def _apply_deltas(delta: dict) -> None:
    """Add ``delta`` to the bucket rows (the caller holds the RollupState lock: one writer)."""
    for (day, dept, channel, agent), counters in delta.items():
        counters = {k: v for k, v in counters.items() if v}
        if not counters:
            continue
        key = {"day": date.fromordinal(day), "department_id": dept, "channel_id": channel, "agent_id": agent}
        updated = DailyRollup.objects.filter(**key).update(**{k: F(k) + v for k, v in counters.items()})
        if not updated:
            DailyRollup.objects.create(**key, **counters)


def _apply_activity(slots: dict) -> None:
    for (user_id, day), (lo, hi) in slots.items():
        row, _ = OperatorActivity.objects.get_or_create(day=date.fromordinal(day), user_id=user_id)
        new_lo, new_hi = row.slots_lo | lo, row.slots_hi | hi
        if (new_lo, new_hi) != (row.slots_lo, row.slots_hi):
            OperatorActivity.objects.filter(pk=row.pk).update(slots_lo=new_lo, slots_hi=new_hi)


def _recompute(conv_ids: Iterable[int], ctx: Context) -> int:
    """Recompute the facts of these conversations and apply the bucket deltas. Returns how many."""
    loaded = load_conversations(conv_ids)
    if not loaded:
        return 0
    ids = [c.id for c, _, _ in loaded]
    old = {f.conversation_id: f for f in ConversationFact.objects.filter(conversation_id__in=ids)}
    delta: dict = defaultdict(lambda: defaultdict(int))
    new_rows, changed = [], []
    for conv, events, messages in loaded:
        contrib = conversation_contrib(conv, events, messages, ctx)
        last_event = max((e.id for e in events), default=0)
        last_message = max((m.id for m in messages), default=0)
        fact = old.get(conv.id)
        if fact is None:
            new_rows.append(ConversationFact(conversation_id=conv.id, contrib=contrib, last_event_id=last_event,
                                             last_message_id=last_message))
            _accumulate(delta, contrib)
        else:
            if fact.contrib != contrib:
                _accumulate(delta, fact.contrib, -1)
                _accumulate(delta, contrib)
            fact.contrib, fact.last_event_id, fact.last_message_id = contrib, last_event, last_message
            changed.append(fact)
    ConversationFact.objects.bulk_create(new_rows, batch_size=1000)
    ConversationFact.objects.bulk_update(changed, ["contrib", "last_event_id", "last_message_id"], batch_size=1000)
    _apply_deltas(delta)
    return len(loaded)


def _locked_state() -> RollupState:
    RollupState.objects.get_or_create(pk=1)
    return RollupState.objects.select_for_update().get(pk=1)


# --- public entry points --------------------------------------------------------------------

def reports_refresh(*, max_rows: int = 20_000, settle_seconds: int | None = None) -> dict:
    """Fold events and messages written since the last run into facts, buckets and activity."""
    settle = SETTLE_SECONDS if settle_seconds is None else settle_seconds
    ctx = Context()
    with transaction.atomic():
        state = _locked_state()
        cutoff = timezone.now() - timedelta(seconds=settle)
        ev_rows = list(ConversationEvent.objects.filter(id__gt=state.event_hwm).order_by("id")
                       .values_list("id", "conversation_id", "created_at", "actor_kind", "actor_id")[:max_rows])
        msg_rows = list(Message.objects.filter(id__gt=state.message_hwm).order_by("id")
                        .values_list("id", "conversation_id", "created_at", "author_kind", "author_id")[:max_rows])
        # Stop at the first row still young enough to have lower-id siblings in flight.
        ev_rows = _settled(ev_rows, cutoff)
        msg_rows = _settled(msg_rows, cutoff)
        conv_ids = {r[1] for r in ev_rows} | {r[1] for r in msg_rows}
        ordered = sorted(conv_ids)
        for i in range(0, len(ordered), BATCH):
            _recompute(ordered[i:i + BATCH], ctx)
        humans = [(r[4], r[2]) for r in ev_rows + msg_rows if r[3] == "human"]
        _apply_activity(activity_slots(humans, ctx.tz))
        if ev_rows:
            state.event_hwm = ev_rows[-1][0]
        if msg_rows:
            state.message_hwm = msg_rows[-1][0]
        state.refreshed_at = timezone.now()
        state.save()
    return {"events": len(ev_rows), "messages": len(msg_rows), "conversations": len(conv_ids)}


def _settled(rows: list, cutoff) -> list:
    for i, row in enumerate(rows):
        if row[2] > cutoff:
            return rows[:i]
    return rows


def reports_reconcile(*, days: int = 2) -> int:
    """Recompute recent conversations whose fact missed an event or message (late commits)."""
    since = timezone.now() - timedelta(days=days)
    with transaction.atomic():
        state = _locked_state()
        latest_ev = dict(ConversationEvent.objects.filter(created_at__gte=since, id__lte=state.event_hwm)
                         .values("conversation_id").annotate(m=Max("id")).values_list("conversation_id", "m"))
        latest_msg = dict(Message.objects.filter(created_at__gte=since, id__lte=state.message_hwm)
                          .values("conversation_id").annotate(m=Max("id")).values_list("conversation_id", "m"))
        ids = set(latest_ev) | set(latest_msg)
        facts = dict(ConversationFact.objects.filter(conversation_id__in=ids)
                     .values_list("conversation_id", "last_event_id"))
        fact_msgs = dict(ConversationFact.objects.filter(conversation_id__in=ids)
                         .values_list("conversation_id", "last_message_id"))
        stale = [cid for cid in ids if facts.get(cid, 0) < latest_ev.get(cid, 0)
                 or fact_msgs.get(cid, 0) < latest_msg.get(cid, 0)]
        ctx = Context()
        for i in range(0, len(stale), BATCH):
            _recompute(stale[i:i + BATCH], ctx)
        if stale:
            humans = list(ConversationEvent.objects.filter(conversation_id__in=stale, actor_kind="human")
                          .values_list("actor_id", "created_at"))
            humans += list(Message.objects.filter(conversation_id__in=stale, author_kind="human")
                           .values_list("author_id", "created_at"))
            _apply_activity(activity_slots(humans, ctx.tz))
    return len(stale)


def full_recomputation(progress: Callable[[int], None] | None = None, chunk: int = 5000,
                       on_facts: Callable[[list], None] | None = None):
    """Every bucket and activity row computed from scratch (rebuilds and tests).

    Buckets and activity are small and kept in memory; per-conversation facts are handed to
    ``on_facts`` chunk by chunk so a million conversations never sit in memory at once.
    """
    ctx = Context()
    totals: dict = defaultdict(lambda: defaultdict(int))
    count = 0
    top = (Conversation.objects.aggregate(m=Max("id"))["m"] or 0) + 1
    for lo in range(1, top, chunk):
        facts = []
        for conv, events, messages in _load_range(lo, lo + chunk):
            contrib = conversation_contrib(conv, events, messages, ctx)
            _accumulate(totals, contrib)
            facts.append(ConversationFact(
                conversation_id=conv.id, contrib=contrib, last_event_id=max((e.id for e in events), default=0),
                last_message_id=max((m.id for m in messages), default=0)))
        count += len(facts)
        if on_facts:
            on_facts(facts)
        if progress:
            progress(min(lo + chunk, top) - lo)
    humans = ConversationEvent.objects.filter(actor_kind="human").values_list("actor_id", "created_at").iterator()
    slots = activity_slots(humans, ctx.tz)
    msg_humans = Message.objects.filter(author_kind="human").values_list("author_id", "created_at").iterator()
    for key, (lo_bits, hi_bits) in activity_slots(msg_humans, ctx.tz).items():
        a, b = slots.get(key, (0, 0))
        slots[key] = (a | lo_bits, b | hi_bits)
    buckets = {k: {n: v for n, v in c.items() if v} for k, c in totals.items()}
    return {k: c for k, c in buckets.items() if c}, slots, count


def reports_rebuild(progress: Callable[[int], None] | None = None) -> dict:
    """Drop and recompute every rollup from the full log. Safe to run at any time."""
    with transaction.atomic():
        state = _locked_state()
        # Marks first: anything committed after this point is picked up by the next refresh.
        event_hwm = ConversationEvent.objects.aggregate(m=Max("id"))["m"] or 0
        message_hwm = Message.objects.aggregate(m=Max("id"))["m"] or 0
        for model in (ConversationFact, DailyRollup, OperatorActivity):
            _truncate(model)
        buckets, slots, count = full_recomputation(
            progress, on_facts=lambda facts: ConversationFact.objects.bulk_create(facts, batch_size=5000))
        DailyRollup.objects.bulk_create(
            [DailyRollup(day=date.fromordinal(k[0]), department_id=k[1], channel_id=k[2], agent_id=k[3], **c)
             for k, c in buckets.items()], batch_size=5000)
        OperatorActivity.objects.bulk_create(
            [OperatorActivity(day=date.fromordinal(d), user_id=u, slots_lo=lo, slots_hi=hi)
             for (u, d), (lo, hi) in slots.items()], batch_size=5000)
        state.event_hwm, state.message_hwm = event_hwm, message_hwm
        state.rebuilt_at = state.refreshed_at = timezone.now()
        state.save()
    return {"conversations": count, "buckets": len(buckets), "activity_rows": len(slots)}


def _truncate(model) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(f'TRUNCATE TABLE "{model._meta.db_table}"')
    else:
        model.objects.all().delete()


def stored_buckets() -> dict:
    """The bucket table as {key: {counter: n}} with zero counters dropped (to compare with recomputation)."""
    out = {}
    for row in DailyRollup.objects.values("day", "department_id", "channel_id", "agent_id", *COUNTERS):
        key = (row["day"].toordinal(), row["department_id"], row["channel_id"], row["agent_id"])
        counters = {n: row[n] for n in COUNTERS if row[n]}
        if counters:
            out[key] = counters
    return out


def stored_slots() -> dict:
    return {(r.user_id, r.day.toordinal()): (r.slots_lo, r.slots_hi) for r in OperatorActivity.objects.all()
            if r.slots_lo or r.slots_hi}
