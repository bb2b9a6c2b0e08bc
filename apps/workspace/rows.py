"""The inbox list's rows as HTML, built in Python from the values of one page.

A template ``{% include %}`` per row cost most of the list's time (25 sub-renders, each with its
own context stack, ``{% url %}``, ``{% blocktranslate %}`` and filters); the markup is small and
fixed, so it is written here once. Every piece of text that a customer, an agent or an Operator
typed (names, previews, labels, department names) goes through ``escape``/``format_html``; only
the search excerpts, which ``inbox.highlight`` already escaped, are inserted as they are.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from apps.conversations.models import Status


@dataclass(slots=True)
class RowLabel:
    name: str
    color: str


@dataclass(slots=True)
class Row:
    """One conversation of the list, as plain values (``inbox.page_rows``)."""

    pk: int
    status: str
    department_id: int | None
    assignee_id: int | None
    last_message_at: datetime | None
    waiting_since: datetime | None
    preview: str
    preview_kind: str
    unread: int
    labels: list[RowLabel]
    snippet: SafeString | None
    list_name: str
    contact_is_vip: bool
    department_name: str
    assignee_name: str
    contact_match: SafeString | None = None

_PK = 987654321


class _Plural:
    """``timesince``'s unit strings without the lazy proxies (the same catalogue entries and text;
    the lazy form cost a third of the rows' time)."""

    def __init__(self, singular: str, plural: str):
        self.singular, self.plural = singular, plural

    def __mod__(self, values: dict) -> str:
        return ngettext(self.singular, self.plural, values["num"]) % values


_TIME_STRINGS = {unit: _Plural(f"%(num)d {unit}", f"%(num)d {unit}s")
                 for unit in ("year", "month", "week", "day", "hour", "minute")}  # a placeholder id, replaced in the reversed URLs (one reverse() per list, not per row)


def _list_of(c, user_pk: int | None) -> str:
    """Which list a row belongs to (its element ids and whether it has a pick-up button)."""
    if c.status == Status.UNASSIGNED:
        return "queue"
    if c.status == Status.ARCHIVED:
        return "archived"
    return "mine" if c.assignee_id == user_pk else "open"


def _time(value, now, *, waiting: bool) -> str:
    # The same text as the template filters did: ``date:'c'`` is the local ISO form, ``date:'U'`` the
    # epoch seconds, ``timesince`` the two largest units.
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    if waiting:
        return format_html('<span class="visually-hidden">{} </span><time class="ws-wait" datetime="{}" '
                           'data-since="{}">{}</time>', _("Waiting"), local.isoformat(),
                           int(value.timestamp()), timesince(value, now, time_strings=_TIME_STRINGS))
    return format_html('<time datetime="{}">{}</time>', local.isoformat(), timesince(value, now, time_strings=_TIME_STRINGS))


def _preview(c) -> str:
    if c.snippet:
        return c.snippet  # already escaped, <mark> around the matches
    if c.contact_match:
        return c.contact_match
    if not c.preview:
        return "—"
    who = ""
    if c.preview_kind == "human":
        who = pgettext("message preview by a person of the team", "Team:") + " "
    elif c.preview_kind == "ai_agent":
        who = _("AI:") + " "
    return escape(who) + escape(Truncator(c.preview).chars(90))


def rows_html(request, rows, *, current_pk: int | None = None, list_query: str = "") -> SafeString:
    """The ``<li>`` of every row of one page (``rows`` from ``inbox.conversation_page``)."""
    if not rows:
        return mark_safe("")
    user_pk = request.user.pk
    detail = reverse("conversation-detail", args=[_PK])
    pickup = reverse("conversation-pickup", args=[_PK])
    suffix = "?" + list_query if list_query else ""
    csrf = None
    now = timezone.now()
    vip, pick = escape(_("VIP")), escape(_("Pick up"))
    out = []
    for c in rows:
        name = c.list_name
        current = c.pk == current_pk
        lst = _list_of(c, user_pk)
        unread = ""
        if c.unread:
            label = ngettext("%(n)s unread message", "%(n)s unread messages", c.unread) % {"n": c.unread}
            unread = format_html('<span class="unread-badge" aria-label="{}">{}</span>', label, c.unread)
        if c.waiting_since:
            when = _time(c.waiting_since, now, waiting=True)
        elif c.last_message_at:
            when = _time(c.last_message_at, now, waiting=False)
        else:
            when = ""
        meta = [format_html('#{} · <span class="status status-{}">{}</span> · {}', c.pk, c.status,
                            Status(c.status).label, c.department_name or "—")]
        if c.assignee_id and c.assignee_id != user_pk and c.assignee_name:
            meta.append(format_html(" · {}", c.assignee_name))
        for lab in c.labels:
            meta.append(format_html('<span class="chip chip-{}">{}</span>', lab.color, lab.name))
        form = ""
        if lst == "queue":
            if csrf is None:
                csrf = get_token(request)
            form = format_html(
                '<form method="post" action="{}" class="ws-pickup"><input type="hidden" name="csrfmiddlewaretoken" '
                'value="{}"><button type="submit" class="small" id="pickup-{}" aria-label="{}">{}</button></form>',
                pickup.replace(str(_PK), str(c.pk)), csrf, c.pk,
                _("Pick up chat #%(n)s") % {"n": c.pk}, mark_safe(pick))
        out.append(format_html(
            '<li id="{lst}-row-{pk}" data-conversation="{pk}" data-status="{status}" class="ws-row{unread_cls}{cur_cls}">'
            '<a class="ws-row-link" id="{lst}-link-{pk}" href="{href}"{aria}>'
            '<span class="ws-row-top"><span class="ws-name">{name}</span>{vip} {unread}'
            '<span class="ws-when">{when}</span></span>'
            '<span class="ws-preview">{preview}</span>'
            '<span class="ws-row-meta">{meta}</span></a>{form}</li>\n',
            lst=lst, pk=c.pk, status=c.status, unread_cls=" is-unread" if c.unread else "",
            cur_cls=" is-current" if current else "", href=detail.replace(str(_PK), str(c.pk)) + suffix,
            aria=mark_safe(' aria-current="true"') if current else "", name=name,
            vip=mark_safe(f' <span class="badge">{vip}</span>') if c.contact_is_vip else "", unread=unread,
            when=when, preview=_preview(c), meta=mark_safe("".join(meta)), form=form))
    return mark_safe("".join(out))
