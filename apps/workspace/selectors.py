"""Reads for the live workspace pages, always starting from the visibility module."""
from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import (BigIntegerField, Count, DateTimeField, F, IntegerField, Min, OuterRef, Q, Subquery,
                              Value)
from django.db.models.functions import Coalesce
from django.utils import timezone, translation

from apps.conversations import access
from apps.conversations import selectors as conv_selectors
from apps.conversations.models import (ACTIVE_HUMAN_STATUSES, OPEN_STATUSES, AuthorKind, Conversation, Message,
                                       Status, line_order)
from apps.departments.models import Department, Membership

from . import presence
from .models import ReadMarker


def unread_counts(user, conversation_ids) -> dict[int, int]:
    """Customer messages after the user's read marker, per conversation, in one query."""
    ids = list(conversation_ids)
    if not ids:
        return {}
    marker = ReadMarker.objects.filter(user_id=user.pk, conversation_id=OuterRef("conversation_id")) \
        .values("last_read_message_id")[:1]
    rows = (Message.objects.filter(conversation_id__in=ids, author_kind=AuthorKind.CUSTOMER, is_internal=False)
            .annotate(read_upto=Coalesce(Subquery(marker, output_field=BigIntegerField()), Value(0),
                                         output_field=BigIntegerField()))
            .filter(pk__gt=F("read_upto"))
            .values("conversation_id").annotate(n=Count("id")).order_by())
    return {row["conversation_id"]: row["n"] for row in rows}


def conversation_mark_read(user, conversation: Conversation, upto: int | None) -> None:
    if not upto:
        return
    marker, created = ReadMarker.objects.get_or_create(user=user, conversation=conversation,
                                                       defaults={"last_read_message_id": upto})
    if not created and marker.last_read_message_id < upto:
        ReadMarker.objects.filter(pk=marker.pk, last_read_message_id__lt=upto).update(last_read_message_id=upto)


# --- Operator monitor ---------------------------------------------------------------------------

COUNT_FIELDS = ("bot", "transfer", "queue", "assigned", "in_progress")


def monitor_counts(user) -> dict:
    """Open chats ``user`` may see, per department by state, plus the oldest queued time: ONE SQL query.

    Visibility comes from the visibility module like everywhere else (an Operator sees every
    chat; the view only decides who may open the monitor at all).

    Departments without open chats come from the same statement (a UNION) so the monitor shows
    zeros instead of hiding a quiet department; chats without a department (bot only) get a row too.
    """
    per_status = {
        "bot": Count("id", filter=Q(status=Status.BOT)),
        "transfer": Count("id", filter=Q(status=Status.TRANSFER)),
        "queue": Count("id", filter=Q(status=Status.UNASSIGNED)),
        "assigned": Count("id", filter=Q(status=Status.ASSIGNED)),
        "in_progress": Count("id", filter=Q(status=Status.IN_PROGRESS)),
    }
    busy = (access.conversations_visible_to(user, "view").filter(status__in=OPEN_STATUSES).order_by()
            .values("department_id", "department__name", "department__name_es", "department__name_en")
            .annotate(**per_status, oldest=Min(line_order(),
                                               filter=Q(status=Status.UNASSIGNED))))
    zero = Value(0, output_field=IntegerField())
    quiet = (Department.objects.filter(is_active=True).order_by()
             .values("id", "name", "name_es", "name_en")
             .annotate(bot=zero, transfer=zero, queue=zero, assigned=zero, in_progress=zero,
                       oldest=Value(None, output_field=DateTimeField())))
    rows: dict = {}
    lang = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    lang = lang if lang in ("es", "en") else "en"
    for row in busy.union(quiet, all=True):
        dept_id = row["department_id"]
        # In the reader's language (the per-language column, else the name).
        name = row.get(f"department__name_{lang}") or row["department__name"] or ""
        entry = rows.setdefault(dept_id, {"department_id": dept_id, "name": name,
                                          **{f: 0 for f in COUNT_FIELDS}, "oldest": None})
        for f in COUNT_FIELDS:
            entry[f] += row[f]
        if row["oldest"] and (entry["oldest"] is None or row["oldest"] < entry["oldest"]):
            entry["oldest"] = row["oldest"]
    now = timezone.now()
    departments = sorted(rows.values(), key=lambda r: (r["department_id"] is None, r["name"].lower()))
    total = {f: sum(r[f] for r in departments) for f in COUNT_FIELDS}
    oldest = [r["oldest"] for r in departments if r["oldest"]]
    total["oldest"] = min(oldest) if oldest else None
    for r in [*departments, total]:
        r["longest_wait"] = int((now - r["oldest"]).total_seconds()) if r["oldest"] else None
    return {"departments": departments, "total": total}


def monitor_agents(user) -> list[dict]:
    """Every member who handles chats, their departments, load (open chats assigned) and presence."""
    load = (access.conversations_visible_to(user, "view")
            .filter(assignee_id=OuterRef("user_id"), status__in=ACTIVE_HUMAN_STATUSES)
            .order_by().values("assignee_id").annotate(n=Count("id")).values("n")[:1])
    rows = (Membership.objects.filter(can_handle=True, user__is_active=True, department__is_active=True)
            .values("user_id", "user__username", "user__display_name", "user__first_name", "department_id",
                    "department__name", "department__name_es", "department__name_en")
            .annotate(load=Coalesce(Subquery(load, output_field=IntegerField()), Value(0)))
            .order_by("user__username", "department__name"))
    agents: dict[int, dict] = {}
    lang = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    for row in rows:
        a = agents.setdefault(row["user_id"], {
            "id": row["user_id"], "username": row["user__username"],
            "name": row["user__display_name"] or row["user__first_name"] or row["user__username"],
            "departments": [], "department_ids": [], "load": row["load"]})
        a["departments"].append(row.get(f"department__name_{lang}") or row["department__name"])
        a["department_ids"].append(row["department_id"])
    states = presence.statuses(agents)
    for uid, a in agents.items():
        a["presence"] = states.get(uid, presence.OFFLINE)
    return list(agents.values())


def monitor_snapshot(user) -> dict:
    counts = monitor_counts(user)
    agents = monitor_agents(user)
    for dept in counts["departments"]:
        members = [a for a in agents if dept["department_id"] in a["department_ids"]]
        dept["agents"] = {state: sum(1 for a in members if a["presence"] == state)
                          for state in (presence.ONLINE, presence.AWAY, presence.OFFLINE)}
    counts["total"]["agents"] = {state: sum(1 for a in agents if a["presence"] == state)
                                 for state in (presence.ONLINE, presence.AWAY, presence.OFFLINE)}
    return {**counts, "agents": agents}


def monitor_waiting(user, limit: int = 10) -> list[Conversation]:
    return list(_waiting_query(user, limit))


def _waiting_query(user, limit: int):
    """The longest waiting customers, in line order (``line_order``: a chat requeued unanswered keeps
    its wait), read in that order from the ``conv_line_all`` index and stopped at ``limit``; the
    visibility narrowed to queued chats, so a Collaborator's read walks the same index."""
    return (access.conversations_visible_to(user, "view", statuses=[Status.UNASSIGNED])
            .filter(status=Status.UNASSIGNED)
            .select_related("contact", "department")
            .annotate(wait_from=line_order())
            .order_by("wait_from", "id")[:limit])


def staff_users():
    return get_user_model().objects.filter(is_active=True)
