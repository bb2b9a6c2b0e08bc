"""The one-screen inbox: the conversation list (tabs, filters, sort, search, pages) and its rows.

Every list starts from the visibility module (DESIGN.md invariant 1): filters and search only
narrow what ``apps.conversations.access`` already allows, so no combination of parameters can
show a chat the user may not see. Each page is ONE statement, whatever its size: the page's ids
(PAGE_SIZE + 1 of them, to know whether there is a next page; no COUNT over the whole history) as
a subquery of the rows query, which reads previews, labels, unread counts and search excerpts for
those rows only.
"""
from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from types import SimpleNamespace

from django.db import connection
from django.db.models import (BigIntegerField, BooleanField, Case, CharField, Count, Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery,
                              Value, When)
from django.db.models.functions import Coalesce, Now
from django.db.models.expressions import RawSQL
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from apps.conversations import access
from apps.conversations.models import (ACTIVE_HUMAN_STATUSES, HUMAN_STATUSES, AuthorKind, Conversation, Message,
                                       Status)

from apps.departments.names import localized_name

from apps.core import sqlcache
from .models import ConversationLabel, Label
from .rows import Row, RowLabel

PAGE_SIZE = 25
TABS = {
    "mine": _("Mine"),
    "queue": _("Queue"),
    "open": _("All open"),
    "snoozed": pgettext_lazy("inbox tab: the snoozed conversations", "Snoozed"),
    "archived": _("Archived"),
}
SORTS = {"waiting": _("Longest waiting"), "newest": _("Newest activity")}
QUERY_MAX = 100


@dataclass
class Filters:
    tab: str = "open"
    status: str = ""
    department: int | None = None
    label: int | None = None
    assignee: str = ""  # "me", "none" or a user id
    sort: str = "waiting"
    q: str = ""
    page: int = 1
    errors: list = field(default_factory=list)

    def query(self, **changes) -> str:
        """The filters as a query string (for links that keep them: rows, pager, back)."""
        from urllib.parse import urlencode

        values = {"tab": self.tab, "status": self.status, "department": self.department or "",
                  "label": self.label or "", "assignee": self.assignee, "sort": self.sort, "q": self.q,
                  "page": self.page if self.page > 1 else ""}
        values.update(changes)
        defaults = {"tab": "open", "sort": "waiting"}
        return urlencode({k: v for k, v in values.items() if v not in ("", None) and defaults.get(k) != v})


def _int(value) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


def filters_from(params) -> Filters:
    """Read the filters from a query dict; unknown values fall back to the default (never a 500)."""
    f = Filters()
    tab = params.get("tab", "")
    f.tab = tab if tab in TABS else "open"
    status = params.get("status", "")
    f.status = status if status in Status.values else ""
    f.department = _int(params.get("department"))
    f.label = _int(params.get("label"))
    assignee = params.get("assignee", "")
    f.assignee = assignee if assignee in ("me", "none") or _int(assignee) else ""
    sort = params.get("sort", "")
    f.sort = sort if sort in SORTS else "waiting"
    f.q = " ".join((params.get("q") or "").split())[:QUERY_MAX]
    f.page = max(1, min(_int(params.get("page")) or 1, 10_000))
    return f


def awake() -> Q:
    """Not snoozed, or snoozed until a time already past, by the DATABASE's clock (``Now()``, no
    parameter: the compiled and prepared list statements stay valid): an expired snooze is awake
    in every list whether or not the sweep has recorded its wake-up."""
    return Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=Now())


def _tab_queryset(user, tab: str) -> QuerySet:
    if tab == "mine":
        return access.conversations_assigned_to(user, ACTIVE_HUMAN_STATUSES).filter(awake())
    if tab == "queue":
        return access.conversations_visible_to(user, "pickup")  # a queued chat is never snoozed
    if tab == "snoozed":
        return access.conversations_visible_to(user, "view", statuses=ACTIVE_HUMAN_STATUSES).filter(
            snoozed_until__gt=Now())
    if tab == "archived":
        if access.has_full_visibility(user):
            return access.conversations_visible_to(user, "view", statuses=[Status.ARCHIVED])
        return access.conversations_assigned_to(user, [Status.ARCHIVED])
    return access.conversations_visible_to(user, "view", statuses=HUMAN_STATUSES).filter(awake())


# --- search --------------------------------------------------------------------------------------

def _terms(q: str) -> list[str]:
    return [t for t in re.findall(r"\w+", q, flags=re.UNICODE) if t][:8]


def _tsquery(q: str) -> str:
    """Every term as a prefix, all required (PostgreSQL ``to_tsquery`` syntax)."""
    return " & ".join(t.replace("'", "") + ":*" for t in _terms(q))


def _fts_sql(q: str, column: str = "conversation_id") -> tuple[str, list] | None:
    """SQL selecting ``column`` of the messages whose text matches every term of ``q`` (index-backed)."""
    terms = _terms(q)
    if not terms:
        return None
    if connection.vendor == "postgresql":
        # Same expression as the GIN index ws_msg_body_fts; "simple": no stemming, any language.
        return (f"SELECT {column} FROM conversations_message "
                "WHERE to_tsvector('simple'::regconfig, body) @@ to_tsquery('simple'::regconfig, %s)", [_tsquery(q)])
    if connection.vendor == "sqlite":
        match = " ".join('"%s"*' % t.replace('"', '""') for t in terms)
        return (f"SELECT m.{column} FROM workspace_message_fts f JOIN conversations_message m ON m.id = f.rowid "
                "WHERE workspace_message_fts MATCH %s", [match])
    return None


def _search_q(q: str) -> Q:
    cond = Q()
    terms = _terms(q)
    for term in terms or [q]:
        one = (Q(contact__name__icontains=term) | Q(contact__email__icontains=term)
               | Q(contact__phone__icontains=term) | Q(contact__external_ref__iexact=term)
               | Q(subject__icontains=term))
        cond &= one
    if connection.vendor == "postgresql" and _terms(q):
        # Bounded: a correlated EXISTS per candidate row (message index by conversation, then the
        # text match), not "id IN (every matching message)": a common word matches a seventh of all
        # messages, and hashing those ids grew with the table. The list walks its candidates in
        # order and stops at the page, so the cost follows what the user may see, not the history.
        match = RawSQL("to_tsvector('simple'::regconfig, body) @@ to_tsquery('simple'::regconfig, %s)",
                       [_tsquery(q)], output_field=BooleanField())
        cond |= Q(Exists(Message.objects.filter(match, conversation_id=OuterRef("pk"))))
    else:
        fts = _fts_sql(q)
        if fts:
            cond |= Q(pk__in=RawSQL(*fts))
    number = q.lstrip("#")
    if number.isdigit() and len(number) < 12:
        cond |= Q(pk=int(number))
    return cond


def _fold(text: str) -> str:
    """Lower case without accents, keeping every character's position (for highlighting)."""
    if text.isascii():
        return text.lower()  # the same result: no accents, one character each
    out = []
    for ch in text:
        base = unicodedata.normalize("NFD", ch)[0]
        out.append(base.lower() if len(base.lower()) == 1 else ch)
    return "".join(out)


def highlight(text: str, q: str, width: int = 70) -> SafeString:
    """An escaped excerpt of ``text`` around the first match of ``q``'s terms, matches in <mark>."""
    terms = sorted({_fold(t) for t in _terms(q)}, key=len, reverse=True)
    if not text:
        return mark_safe("")
    folded = _fold(text)
    spans = []
    for term in terms:
        for m in re.finditer(re.escape(term), folded):
            spans.append((m.start(), m.end()))
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    start = max(0, merged[0][0] - width) if merged else 0
    end = min(len(text), (merged[0][1] if merged else 0) + width * 2)
    out, pos = [], start
    for s, e in merged:
        if s < start or e > end:
            continue
        out.append(escape(text[pos:s]))
        out.append("<mark>%s</mark>" % escape(text[s:e]))
        pos = e
    out.append(escape(text[pos:end]))
    return mark_safe(("…" if start > 0 else "") + "".join(out) + ("…" if end < len(text) else ""))


# --- the list ------------------------------------------------------------------------------------

def _waiting_since():
    """Since when the customer has been waiting for a person (``Conversation.waiting_since``, which a
    requeue keeps: a chat nobody answered in time is not a new wait); for rows written without it,
    the queue entry of a queued chat, else their last message when nobody answered it yet (never
    ``updated_at``, which any change moves)."""
    return Case(
        When(status__in=[Status.TRANSFER, Status.UNASSIGNED, Status.ASSIGNED, Status.IN_PROGRESS],
             waiting_since__isnull=False, then=F("waiting_since")),
        When(status=Status.UNASSIGNED, then=F("queued_at")),
        When(status__in=[Status.TRANSFER, Status.ASSIGNED, Status.IN_PROGRESS],
             last_customer_message_at__gte=F("last_message_at"), then=F("last_customer_message_at")),
        default=None,
    )


def _page_ids_query(user, f: Filters) -> tuple[QuerySet, list]:
    """The page's ids (visibility, filters, order, LIMIT; nothing else selected, so the database
    sorts narrow rows and joins nothing for the rows it discards) and that order."""
    qs = _tab_queryset(user, f.tab)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.department:
        qs = qs.filter(department_id=f.department)
    if f.label:
        links = ConversationLabel.objects.filter(label_id=f.label)
        if f.tab != "archived":
            # The open tabs list no archived chat: read the label's open chats only (a partial
            # index, ``ConversationLabel.is_open``), not every chat that ever had the label.
            links = links.filter(is_open=True)
            if connection.vendor == "postgresql":
                # Those few ids first, then their rows by primary key: as a join, PostgreSQL
                # scanned every open chat the user may see to meet them (grows with the open chats).
                qs = qs.filter(_AnyOf(F("pk"), Subquery(links.values("conversation_id"))))
                links = None
        if links is not None:
            qs = qs.filter(pk__in=links.values("conversation_id"))
    if f.assignee == "me":
        qs = qs.filter(assignee_id=user.pk)
    elif f.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif f.assignee:
        qs = qs.filter(assignee_id=int(f.assignee))
    if f.q:
        qs = qs.filter(_search_q(f.q))
    if f.tab == "archived":
        order = [F("archived_at").desc(nulls_last=True), "-id"]
    elif f.tab == "snoozed":
        order = [F("snoozed_until").asc(), "-id"]  # the next to wake up first
    elif f.sort == "waiting":
        qs = qs.annotate(wait_from=_waiting_since())
        order = [F("wait_from").asc(nulls_last=True), F("last_message_at").desc(nulls_last=True), "-id"]
    else:
        order = [F("last_message_at").desc(nulls_last=True), "-id"]
    offset = (f.page - 1) * PAGE_SIZE
    return qs.order_by(*order).values_list("pk")[offset:offset + PAGE_SIZE + 1], order


class _AnyOf(Func):
    """``column = ANY(ARRAY(subquery))`` (PostgreSQL): the subquery runs once, first, and the
    column is matched against its values by index, never turned into a join the planner may
    reorder."""

    arg_joiner = " = ANY(ARRAY"
    template = "%(expressions)s)"
    output_field = BooleanField()


def _page_query(user, f: Filters, user_pk: int) -> QuerySet:
    """ONE statement for the page: its rows (with preview, unread count, labels and search
    excerpt) for the ids the page query picks, as a subquery (``id IN (... LIMIT 26)``), in the
    same order (the order ends with the id, so it is total: the 26 rows sort as the page did).
    The page query keeps its own plan (partial indexes walked in order, stopping at the page);
    the outer one reads 26 rows by primary key."""
    page, order = _page_ids_query(user, f)
    return _rows_query(user_pk, q=f.q).filter(pk__in=page).order_by(*order)


def conversation_page(user, f: Filters) -> dict:
    """The page's rows in one round trip, compiled once per visibility and filters (``sqlcache``)
    with the user's id (their read markers) as the parameter: a list re-fetched on every live
    signal asks the same question again and again."""
    vkey = access.visibility_key(user)
    if vkey is None:
        values = [tuple(v) for v in _page_query(user, f, user.pk)]
    else:
        key = ("page", vkey, f.tab, f.status, f.department, f.label, f.assignee, f.sort, f.q, f.page)
        values = sqlcache.rows(key, lambda user_pk: _page_query(user, f, user_pk), user.pk)
    has_next = len(values) > PAGE_SIZE
    rows = _rows_from(values[:PAGE_SIZE], q=f.q)
    return {"rows": rows, "has_next": has_next, "has_prev": f.page > 1, "filters": f}


# What a row shows (``rows.rows_html``), read as plain values: no model instances for 25 rows and
# their contact, department and assignee (a third of the rows' time went to building those).
ROW_VALUES = ("id", "status", "department_id", "assignee_id", "last_message_at", "contact_id",
              "contact__name", "contact__email", "contact__phone", "contact__is_vip",
              "department__name", "department__name_es", "department__name_en",
              "assignee__display_name", "assignee__first_name", "assignee__username", "snoozed_until")


_ROW_EXTRA = ("wait_from", "preview", "preview_kind", "unread", "labels_json", "excerpt")


def _labels_json() -> RawSQL:
    """The row's labels as one JSON text ``[[name, color], ...]`` ordered by name, a correlated
    subquery of the rows query (the labels were a round trip of their own). Only columns, no
    values, go into the SQL; the names and colors are escaped where the row is written."""
    links = ("FROM workspace_conversationlabel cl JOIN workspace_label l ON l.id = cl.label_id "
             'WHERE cl.conversation_id = "conversations_conversation"."id"')
    if connection.vendor == "postgresql":
        sql = f"(SELECT json_agg(json_build_array(l.name, l.color) ORDER BY l.name)::text {links})"
    else:  # SQLite: no ORDER BY inside an aggregate before 3.44, so an ordered derived table
        sql = f"(SELECT json_group_array(json_array(x.name, x.color)) FROM (SELECT l.name, l.color {links} ORDER BY l.name) x)"
    return RawSQL(sql, [], output_field=CharField())


def _excerpt(q: str):
    """The row's latest message matching the search (its excerpt is highlighted in Python), a
    correlated subquery of the rows query (it was a round trip of its own): the conversation's
    messages by the message index on the conversation, then the same text match as the search."""
    terms = _terms(q) if q else []
    own = 'xm.conversation_id = "conversations_conversation"."id"'
    order = "ORDER BY xm.created_at DESC, xm.id DESC LIMIT 1"
    if terms and connection.vendor == "postgresql":
        return RawSQL(f"(SELECT xm.body FROM conversations_message xm WHERE {own} AND to_tsvector('simple'::regconfig, "
                      f"xm.body) @@ to_tsquery('simple'::regconfig, %s) {order})", [_tsquery(q)],
                      output_field=CharField())
    fts = _fts_sql(q, column="id") if terms else None
    if fts:
        sql, params = fts
        return RawSQL(f"(SELECT xm.body FROM conversations_message xm WHERE {own} AND xm.id IN ({sql}) {order})",
                      params, output_field=CharField())
    return Value(None, output_field=CharField())


def _rows_query(user_pk: int, *, q: str = "") -> QuerySet:
    from .models import ReadMarker

    last = Message.objects.filter(conversation_id=OuterRef("pk"), is_internal=False) \
        .exclude(author_kind=AuthorKind.SYSTEM).order_by("-created_at", "-id")
    read_upto = Coalesce(Subquery(ReadMarker.objects.filter(user_id=user_pk, conversation_id=OuterRef("conversation_id"))
                                  .values("last_read_message_id")[:1], output_field=BigIntegerField()),
                         Value(0), output_field=BigIntegerField())
    unread = (Message.objects.filter(conversation_id=OuterRef("pk"), author_kind=AuthorKind.CUSTOMER,
                                     is_internal=False, pk__gt=read_upto)
              .order_by().values("conversation_id").annotate(n=Count("id")).values("n"))
    return (Conversation.objects
            .annotate(wait_from=_waiting_since(), preview=Subquery(last.values("body")[:1]),
                      preview_kind=Subquery(last.values("author_kind")[:1]),
                      unread=Coalesce(Subquery(unread, output_field=IntegerField()), Value(0)),
                      labels_json=_labels_json(), excerpt=_excerpt(q))
            .values_list(*ROW_VALUES, *_ROW_EXTRA))


def _rows_from(values: list[tuple], *, q: str = "") -> list[Row]:
    """The page's rows from the values of its one statement (``_page_query``)."""
    names = (*ROW_VALUES, *_ROW_EXTRA)
    rows = []
    for one in values:
        v = dict(zip(names, one))
        contact = [v["contact__name"], v["contact__email"], v["contact__phone"]]
        dept = SimpleNamespace(name=v["department__name"], name_es=v["department__name_es"],
                               name_en=v["department__name_en"]) if v["department_id"] else None
        row = Row(pk=v["id"], status=v["status"], department_id=v["department_id"], assignee_id=v["assignee_id"],
                  last_message_at=v["last_message_at"], waiting_since=v["wait_from"],
                  preview=v["preview"] or "", preview_kind=v["preview_kind"] or "", unread=v["unread"],
                  labels=[RowLabel(name, color) for name, color in json.loads(v["labels_json"] or "[]")],
                  snippet=highlight(v["excerpt"], q) if q and v["excerpt"] is not None else None,
                  list_name=next((x for x in contact if x), f"#{v['contact_id']}"),  # Contact.__str__
                  contact_is_vip=v["contact__is_vip"], department_name=localized_name(dept) if dept else "",
                  assignee_name=(v["assignee__display_name"] or v["assignee__first_name"]  # User.public_name
                                 or v["assignee__username"] or "") if v["assignee_id"] else "",
                  snoozed_until=v["snoozed_until"])
        if q and not row.snippet:
            row.contact_match = highlight(" · ".join(x for x in contact if x), q)
        rows.append(row)
    return rows


# A tab counts its chats up to this many and shows "99+" beyond (``workspace_tags.tab_count``), as
# mature inboxes' badges do: an exact count reads every row it counts (index entries and, for rows
# changed since the last VACUUM, as the queue's always are, their heap rows), so it grew with the
# queue (EXPLAIN ANALYZE at 1,000,000 conversations: 1,000 waiting chats, 1,234 buffers, 2.5 ms;
# 121 buffers at 100,000), while a number past a hundred tells a person nothing more. Right after a
# VACUUM the same exact count is an index-only scan (0.13 ms), but waiting chats are the table's
# most recently changed rows, so their pages are the ones least often all-visible.
TAB_COUNT_CAP = 99


def tab_counts(user) -> dict[str, int]:
    """Small counts for the tab headers: my open chats and the queue I may pick up from, in ONE
    statement: a UNION ALL of the two visibility sets, each read through its own index (assignee
    and status; the partial index of waiting chats) and stopped after ``TAB_COUNT_CAP`` + 1 rows,
    one short constant per row, counted here. A count is exact up to the cap; ``TAB_COUNT_CAP + 1``
    means "more than the cap"."""
    limit = TAB_COUNT_CAP + 1

    def capped(qs, tab: str):
        # No ORDER BY: any ``limit`` rows will do, so the database stops at the first it finds;
        # only a constant selected, so an index-only scan serves it.
        qs = qs.order_by()
        if not connection.features.supports_slicing_ordering_in_compound:
            # SQLite takes no LIMIT in a part of a UNION: the same rows through ``id IN (... LIMIT)``.
            qs, limit_here = Conversation.objects.filter(pk__in=qs.values("pk")[:limit]), None
        else:
            limit_here = limit
        return qs.annotate(tab=Value(tab, output_field=CharField())).values_list("tab")[:limit_here]

    def query():
        return (capped(access.conversations_assigned_to(user, ACTIVE_HUMAN_STATUSES).filter(awake()), "mine")
                .union(capped(access.conversations_visible_to(user, "pickup"), "queue"), all=True))

    counts = {"mine": 0, "queue": 0}
    vkey = access.visibility_key(user)
    for (tab,) in (sqlcache.rows(("tab_counts", limit, vkey), query) if vkey is not None else query()):
        counts[tab] += 1
    return counts


def filter_choices(user) -> dict:
    from django.contrib.auth import get_user_model

    choices = {
        "tabs": list(TABS.items()),
        "sorts": list(SORTS.items()),
        "statuses": [(v, l) for v, l in Status.choices if v != Status.BOT],
        "departments": access.department_choices(user),
        # (id, name) pairs, compiled once per process (``sqlcache``): a menu, not model instances.
        "labels": sqlcache.rows(("label_menu",), lambda: Label.objects.filter(is_active=True).values_list("pk", "name")),
    }
    if access.has_full_visibility(user):
        choices["assignees"] = list(get_user_model().objects.filter(
            is_active=True, assigned_conversations__status__in=ACTIVE_HUMAN_STATUSES).distinct().order_by("username"))
    return choices
