"""Visibility: the one place that decides which conversations a user may see and act on.

Every entry point (HTML views, DRF, websocket consumers, copilot, exports) calls these three
functions and filters nothing on its own (DESIGN.md invariant 1):

* ``conversations_visible_to(user, action)``: a queryset, built in one SQL query with subqueries
  (no per-conversation permission rows).
* ``conversation_get_or_404(user, pk, action)``: one conversation, or Http404 when the user may
  not see it (never 403: existence does not leak).
* ``conversation_audience(conversation)``: the reverse question, the user ids who may see it.

Collaborator rules (the product's least-privilege role):
* open chats (transfer, queue, assigned, in progress) of departments where they hold
  ``handle_department``;
* every chat assigned to them, archived ones included (their own history);
* the history of a customer whose chat they are handling right now;
* chats explicitly shared with them.
Operators (``roles.view_all_conversations``) see everything.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from types import SimpleNamespace

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from apps.core import sqlcache
from apps.departments.models import (Department, DepartmentGroupObjectPermission,
                                     DepartmentUserObjectPermission)
from apps.roles.access import is_operator

from .models import ACTIVE_HUMAN_STATUSES, HUMAN_STATUSES, Conversation, ConversationShare, Status

ACTIONS = ("view", "reply", "pickup", "archive", "transfer", "reassign")

# The department permission an action needs, beyond seeing the chat.
ACTION_DEPARTMENT_PERM = {
    "view": "handle_department",
    "reply": "handle_department",
    "pickup": "handle_department",
    "archive": "archive_department",
    "transfer": "transfer_department",
}


def _active(user) -> bool:
    return bool(user) and getattr(user, "is_authenticated", False) and getattr(user, "is_active", False)


# Set while one page is being built (``visibility_memo``): the user's department ids and role,
# read once for the page instead of once per list, count and menu on it.
_memo: ContextVar[dict | None] = ContextVar("visibility_memo", default=None)


@contextmanager
def visibility_memo():
    """Within this block, ``departments_with_perm`` and the Operator check are answered once per
    (user, permission) and reused: for building ONE response (a list, its tab counts and its
    filter menus ask the same question several times). Never wrap code that changes permissions:
    a change inside the block would not be seen until it ends."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


def has_full_visibility(user) -> bool:
    """``roles.access.is_operator`` (sees every chat), memoized inside ``visibility_memo``."""
    memo = _memo.get()
    if memo is None:
        return is_operator(user)
    key = ("operator", user.pk)
    if key not in memo:
        memo[key] = is_operator(user)
    return memo[key]


def departments_with_perm(user, codename: str):
    """Department ids where ``user`` holds ``codename`` directly or through a group, as ONE SQL
    subquery (a UNION of the user's and their groups' object permissions on active departments);
    inside ``visibility_memo``, a list read once, so the page's queries carry plain ids."""
    memo = _memo.get()
    key = ("departments", user.pk, codename)
    if memo is not None and key in memo:
        return memo[key]
    if memo is None:
        return _departments_with_perm_query(user.pk, codename)
    # Compiled once per permission, the user's id a parameter (``apps.core.sqlcache``). The same
    # read brings the departments' names in menu order, for ``department_choices``.
    named = sqlcache.rows(("departments_with_perm", codename),
                          lambda uid: _departments_with_perm_query(uid, codename, named=True), user.pk)
    memo[("department_names", user.pk, codename)] = [(pk, name) for pk, name in named]
    memo[key] = sorted(pk for pk, _name in named)
    return memo[key]


def _departments_with_perm_query(user_pk, codename: str, *, named: bool = False):
    perm = {"permission__codename": codename, "permission__content_type__app_label": "departments",
            "content_object__is_active": True}
    fields = ("content_object_id", "content_object__name") if named else ("content_object_id",)
    ids = DepartmentUserObjectPermission.objects.filter(user_id=user_pk, **perm).values_list(*fields).union(
        DepartmentGroupObjectPermission.objects.filter(group__user=user_pk, **perm).values_list(*fields))
    return ids.order_by("content_object__name", "content_object_id") if named else ids


def visibility_key(user) -> tuple | None:
    """Everything this module's "view" and "pickup" querysets for ``user`` are built from (who they
    are, whether they are active, an Operator, and their ``handle_department`` departments): equal
    keys, the same SQL. Inside ``visibility_memo`` only (None outside), so it costs no query the
    page does not already make; for caching compiled SQL (``apps.workspace.sqlcache``). Keep it in
    step with ``_collaborator_filter``: a new input to those querysets belongs here too."""
    if _memo.get() is None:
        return None
    if not _active(user):
        return ("inactive",)
    if has_full_visibility(user):
        return (user.pk, "operator")
    return (user.pk, tuple(departments_with_perm(user, "handle_department")))


def departments_for(user, codename: str = "handle_department") -> QuerySet:
    """Departments (objects) the user may work in; all of them for an Operator."""
    if not _active(user):
        return Department.objects.none()
    if has_full_visibility(user):
        return Department.objects.filter(is_active=True)
    return Department.objects.filter(pk__in=departments_with_perm(user, codename))


def department_choices(user, codename: str = "handle_department") -> list:
    """``departments_for`` as (pk, name) objects in name order, for a filter menu: inside
    ``visibility_memo`` a Collaborator's come from the department read the page already made."""
    memo = _memo.get()
    if memo is not None and _active(user) and not has_full_visibility(user):
        departments_with_perm(user, codename)
        return [SimpleNamespace(pk=pk, name=name) for pk, name in memo[("department_names", user.pk, codename)]]
    return [SimpleNamespace(pk=pk, name=name)
            for pk, name in departments_for(user, codename).order_by("name", "pk").values_list("pk", "name")]


def _collaborator_filter(user, action: str, statuses=None) -> Q:
    uid = user.pk
    if action == "view":
        handling_contacts = Conversation.objects.filter(
            assignee_id=uid, status__in=ACTIVE_HUMAN_STATUSES).values("contact_id")
        shared = ConversationShare.objects.filter(user_id=uid).values("conversation_id")
        # Narrowing by status inside every branch (not after the union) keeps an open-chats list from
        # reading the user's whole archived history first.
        narrow = {"status__in": list(statuses)} if statuses is not None else {}
        department_statuses = [s for s in HUMAN_STATUSES if statuses is None or s in statuses]
        if statuses is not None and set(statuses) <= set(HUMAN_STATUSES):
            # Open chats only (the inbox lists): the same four rules as ONE condition per row, so a
            # list ordered by an index of open chats walks that index and stops at its page (EXPLAIN
            # ANALYZE at 1,000,000 conversations: 0.08 ms instead of 13 ms to build the whole
            # visible set first, which grows with the number of open chats).
            return Q(**narrow) & (
                Q(department_id__in=departments_with_perm(user, "handle_department"), status__in=department_statuses)
                | Q(assignee_id=uid) | Q(contact_id__in=handling_contacts) | Q(pk__in=shared))
        # A UNION of id sets rather than an OR of conditions: each branch uses its own index, so
        # the cost follows what the user may see, not the size of the conversations table.
        ids = Conversation.objects.filter(
            department_id__in=departments_with_perm(user, "handle_department"), status__in=department_statuses,
        ).values("pk").union(
            Conversation.objects.filter(assignee_id=uid, **narrow).values("pk"),
            Conversation.objects.filter(contact_id__in=handling_contacts, **narrow).values("pk"),
            Conversation.objects.filter(pk__in=shared, **narrow).values("pk"),
        )
        return Q(pk__in=ids, **narrow)
    if action == "pickup":
        return Q(status=Status.UNASSIGNED, department_id__in=departments_with_perm(user, "handle_department"))
    if action == "reply":
        # A Collaborator replies only in chats assigned to them (picked up, routed, or given by an Operator).
        return Q(assignee_id=uid, status__in=ACTIVE_HUMAN_STATUSES)
    if action in ("archive", "transfer"):
        return Q(assignee_id=uid, status__in=ACTIVE_HUMAN_STATUSES,
                 department_id__in=departments_with_perm(user, ACTION_DEPARTMENT_PERM[action]))
    if action == "reassign":
        return Q(pk__in=[])
    raise ValueError(f"unknown action {action!r}")


def conversations_visible_to(user, action: str = "view", statuses=None) -> QuerySet[Conversation]:
    """``statuses`` (for "view"): only chats in these states, the same rows as
    ``.filter(status__in=statuses)`` but narrowed inside the visibility query, so a list of open
    chats costs what the open chats cost, not the user's whole history."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    qs = Conversation.objects.all()
    if not _active(user):
        return qs.none()
    if statuses is not None and action != "view":
        raise ValueError("statuses narrows only the 'view' action")
    if has_full_visibility(user):
        if action == "pickup":
            return qs.filter(status=Status.UNASSIGNED)
        if action in ("reply", "archive", "transfer"):
            return qs.exclude(status=Status.ARCHIVED)
        return qs.filter(status__in=list(statuses)) if statuses is not None else qs
    return qs.filter(_collaborator_filter(user, action, statuses))


def conversations_assigned_to(user, statuses=None) -> QuerySet[Conversation]:
    """The user's own chats (always visible to them by the rules above): the inbox's "my chats"
    and "archived by me" lists, without the cost of the full visibility union."""
    if not _active(user):
        return Conversation.objects.none()
    qs = Conversation.objects.filter(assignee_id=user.pk)
    return qs.filter(status__in=statuses) if statuses is not None else qs


def conversation_get_or_404(user, pk, action: str = "view") -> Conversation:
    try:
        return conversations_visible_to(user, action).select_related(
            "contact", "channel", "department", "assignee").get(pk=pk)
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404(_("No such conversation")) from None


def conversation_can(user, conversation: Conversation, action: str) -> bool:
    return conversations_visible_to(user, action).filter(pk=conversation.pk).exists()


def _operator_q() -> Q:
    from apps.roles.access import OPERATOR_PERMISSIONS  # noqa: F401  (documented coupling)

    return Q(is_superuser=True) | Q(groups__permissions__codename="view_all_conversations",
                                    groups__permissions__content_type__app_label="roles") \
        | Q(user_permissions__codename="view_all_conversations", user_permissions__content_type__app_label="roles")


def _department_q(department_id: int) -> Q:
    # Same rule as departments_with_perm: a switched-off department grants nothing.
    direct = DepartmentUserObjectPermission.objects.filter(
        content_object_id=department_id, content_object__is_active=True,
        permission__codename="handle_department").values("user_id")
    via_group = DepartmentGroupObjectPermission.objects.filter(
        content_object_id=department_id, content_object__is_active=True,
        permission__codename="handle_department").values("group_id")
    return Q(pk__in=direct) | Q(groups__in=via_group)


def conversation_audience(conversation: Conversation) -> list[int]:
    """User ids who may see ``conversation`` now: the reverse of ``conversations_visible_to``."""
    User = get_user_model()
    operator_q = _operator_q()
    q = operator_q | Q(pk=conversation.assignee_id) if conversation.assignee_id else operator_q
    if conversation.department_id and conversation.status in HUMAN_STATUSES:
        # Joined into the one audience query, not a query of its own on every signal.
        q |= _department_q(conversation.department_id)
    handlers = Conversation.objects.filter(contact_id=conversation.contact_id, status__in=ACTIVE_HUMAN_STATUSES,
                                           assignee__isnull=False).values("assignee_id")
    q |= Q(pk__in=handlers) | Q(Exists(ConversationShare.objects.filter(conversation_id=conversation.pk,
                                                                          user_id=OuterRef("pk"))))
    return sorted(set(User.objects.filter(q, is_active=True).values_list("pk", flat=True)))


def conversation_audiences(conversations) -> dict[int, list[int]]:
    """``conversation_audience`` for many conversations at once (the same rules, the same answer for
    each), in a handful of queries whatever their number: the Operators once, each department's
    members once, the contacts' handlers, the shares and the assignees in one query each. For a
    batch of changes (the escalation sweep), instead of one audience query per conversation."""
    User = get_user_model()
    convs = [c for c in conversations if c is not None]
    if not convs:
        return {}
    active = User.objects.filter(is_active=True)
    operators = set(active.filter(_operator_q()).values_list("pk", flat=True))
    members: dict[int, set[int]] = {}
    for dept_id in {c.department_id for c in convs if c.department_id and c.status in HUMAN_STATUSES}:
        members[dept_id] = set(active.filter(_department_q(dept_id)).values_list("pk", flat=True))
    handlers: dict[int, set[int]] = {}
    for contact_id, user_id in Conversation.objects.filter(
            contact_id__in={c.contact_id for c in convs}, status__in=ACTIVE_HUMAN_STATUSES,
            assignee__isnull=False).values_list("contact_id", "assignee_id"):
        handlers.setdefault(contact_id, set()).add(user_id)
    shares: dict[int, set[int]] = {}
    for conv_id, user_id in ConversationShare.objects.filter(
            conversation_id__in=[c.pk for c in convs]).values_list("conversation_id", "user_id"):
        shares.setdefault(conv_id, set()).add(user_id)
    individual = {c.assignee_id for c in convs if c.assignee_id}
    for ids in (*handlers.values(), *shares.values()):
        individual |= ids
    individual = set(active.filter(pk__in=individual).values_list("pk", flat=True)) if individual else set()
    out = {}
    for c in convs:
        ids = operators | (individual & ({c.assignee_id} | handlers.get(c.contact_id, set()) | shares.get(c.pk, set())))
        if c.department_id and c.status in HUMAN_STATUSES:
            ids |= members[c.department_id]
        out[c.pk] = sorted(ids)
    return out
