"""The inbox list's rows as HTML, built in Python from the values of one page.

A template ``{% include %}`` per row cost most of the list's time (25 sub-renders, each with its
own context stack, ``{% url %}``, ``{% blocktranslate %}`` and filters); the markup is small and
fixed, so it is written here once. Every piece of text that a customer, an agent or an Operator
typed (names, previews, labels, department names) goes through ``escape``/``format_html``; only
the search excerpts, which ``inbox.highlight`` already escaped, are inserted as they are.
"""
from __future__ import annotations

import html
import unicodedata

from dataclasses import dataclass
from datetime import datetime

from django.middleware.csrf import get_token
from django.urls import reverse
from django.utils import timezone
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
    snoozed_until: datetime | None = None


def _e(value) -> str:
    """``django.utils.html.escape`` without the SafeString wrapping (the whole list is marked safe once)."""
    return html.escape(str(value))


class _Plural:
    """``timesince``'s unit strings without the lazy proxies (the same catalogue entries and text;
    the lazy form cost a third of the rows' time), each (unit, number) translated once per list."""

    def __init__(self, singular: str, plural: str, memo: dict):
        self.singular, self.plural, self.memo = singular, plural, memo

    def __mod__(self, values: dict) -> str:
        key = (self.singular, values["num"])
        text = self.memo.get(key)
        if text is None:
            text = self.memo[key] = ngettext(self.singular, self.plural, values["num"]) % values
        return text


def _time_strings() -> dict:
    """A fresh set per list (the memo holds text in the active language)."""
    memo: dict = {}
    return {unit: _Plural(f"%(num)d {unit}", f"%(num)d {unit}s", memo)
            for unit in ("year", "month", "week", "day", "hour", "minute")}


_PK = 987654321  # a placeholder id, replaced in the reversed URLs (one reverse() per list, not per row)


def _list_of(c, user_pk: int | None) -> str:
    """Which list a row belongs to (its element ids and whether it has a pick-up button)."""
    if c.status == Status.UNASSIGNED:
        return "queue"
    if c.status == Status.ARCHIVED:
        return "archived"
    return "mine" if c.assignee_id == user_pk else "open"


def _time(value, now, since_memo: dict, *, waiting: bool) -> str:
    # The same text as the template filters did: ``date:'c'`` is the local ISO form, ``date:'U'`` the
    # epoch seconds, ``timesince`` the two largest units (under a day it depends on the minutes only,
    # so rows of the same minute share it).
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    seconds = (now - value).total_seconds()
    key = int(seconds // 60) if 0 <= seconds < 86400 else value
    since = since_memo.get(key)
    if since is None:
        since = since_memo[key] = _e(timesince(value, now, time_strings=since_memo["units"]))
    if waiting:
        return (f'<span class="visually-hidden">{since_memo["waiting"]} </span><time class="ws-wait" '
                f'datetime="{local.isoformat()}" data-since="{int(value.timestamp())}">{since}</time>')
    return f'<time datetime="{local.isoformat()}">{since}</time>'


def _preview(c, team: str, ai: str) -> str:
    if c.snippet:
        return c.snippet  # already escaped, <mark> around the matches
    if c.contact_match:
        return c.contact_match
    if not c.preview:
        return "—"
    who = team if c.preview_kind == "human" else ai if c.preview_kind == "ai_agent" else ""
    text = unicodedata.normalize("NFC", c.preview)
    # What ``Truncator.chars(90)`` returns: a text of at most 90 characters is kept as it is.
    return who + _e(text if len(text) <= 90 else Truncator(text).chars(90))


def snooze_label(until: datetime, now: datetime | None = None) -> str:
    """A snooze's end in the reader's time zone and language, as short as it can be read: the time
    alone today, with the weekday within a week, else the date ("9:00", "Mon 9:00", "7 Jan 9:00")."""
    from django.utils.formats import date_format

    local, today = timezone.localtime(until), timezone.localtime(now or timezone.now())
    days = (local.date() - today.date()).days
    if days == 0:
        return date_format(local, "H:i")
    if 0 < days < 7:
        return date_format(local, "D H:i")
    return date_format(local, "j M H:i")


def rows_html(request, rows, *, current_pk: int | None = None, list_query: str = "") -> SafeString:
    """The ``<li>`` of every row of one page (``rows`` from ``inbox.conversation_page``).

    Plain f-strings over values passed through ``_e`` (``html.escape``, what Django's ``escape``
    does): every value that is not a number or one of our own fixed strings is escaped here."""
    if not rows:
        return mark_safe("")
    user_pk = request.user.pk
    detail = reverse("conversation-detail", args=[_PK])
    pickup = reverse("conversation-pickup", args=[_PK])
    suffix = _e("?" + list_query) if list_query else ""
    csrf = None
    now = timezone.now()
    memo = {"waiting": _e(_("Waiting")), "units": _time_strings()}
    unread_labels: dict[int, str] = {}
    statuses = {value: _e(str(label)) for value, label in Status.choices}
    vip = f' <span class="badge">{_e(_("VIP"))}</span>'
    pick = _e(_("Pick up"))
    team = _e(pgettext("message preview by a person of the team", "Team:")) + " "
    ai = _e(_("AI:")) + " "
    out = []
    for c in rows:
        pk = int(c.pk)
        current = pk == current_pk
        lst = _list_of(c, user_pk)
        unread = ""
        if c.unread:
            label = unread_labels.get(c.unread)
            if label is None:
                label = unread_labels[c.unread] = _e(
                    ngettext("%(n)s unread message", "%(n)s unread messages", c.unread) % {"n": c.unread})
            unread = f'<span class="unread-badge" aria-label="{label}">{int(c.unread)}</span>'
        if c.waiting_since:
            when = _time(c.waiting_since, now, memo, waiting=True)
        elif c.last_message_at:
            when = _time(c.last_message_at, now, memo, waiting=False)
        else:
            when = ""
        status = _e(c.status)
        meta = [f'#{pk} · <span class="status status-{status}">{statuses.get(c.status, status)}</span> · '
                f'{_e(c.department_name or "—")}']
        if c.assignee_id and c.assignee_id != user_pk and c.assignee_name:
            meta.append(f" · {_e(c.assignee_name)}")
        if c.snoozed_until and c.snoozed_until > now:
            until = snooze_label(c.snoozed_until, now)
            meta.append(f' <span class="chip chip-snoozed"><time datetime="{_e(c.snoozed_until.isoformat())}">'
                        f'{_e(_("Snoozed until %(when)s") % {"when": until})}</time></span>')
        for lab in c.labels:
            meta.append(f'<span class="chip chip-{_e(lab.color)}">{_e(lab.name)}</span>')
        form = ""
        if lst == "queue":
            if csrf is None:
                csrf = _e(get_token(request))
            form = (f'<form method="post" action="{_e(pickup.replace(str(_PK), str(pk)))}" class="ws-pickup">'
                    f'<input type="hidden" name="csrfmiddlewaretoken" value="{csrf}"><button type="submit" '
                    f'class="small" id="pickup-{pk}" aria-label="{_e(_("Pick up chat #%(n)s") % {"n": pk})}">'
                    f'{pick}</button></form>')
        href = _e(detail.replace(str(_PK), str(pk))) + suffix
        aria = ' aria-current="true"' if current else ""
        out.append(
            f'<li id="{lst}-row-{pk}" data-conversation="{pk}" data-status="{status}" class="ws-row'
            f'{" is-unread" if c.unread else ""}{" is-current" if current else ""}">'
            f'<a class="ws-row-link" id="{lst}-link-{pk}" href="{href}"{aria}>'
            f'<span class="ws-row-top"><span class="ws-name">{_e(c.list_name)}</span>'
            f'{vip if c.contact_is_vip else ""} {unread}<span class="ws-when">{when}</span></span>'
            f'<span class="ws-preview">{_preview(c, team, ai)}</span>'
            f'<span class="ws-row-meta">{"".join(meta)}</span></a>{form}</li>\n')
    return mark_safe("".join(out))
