"""Template helpers of the live workspace pages."""
from __future__ import annotations

from django import template

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with ``changes`` applied, for links that must keep the filters
    (a pager link changes ``page`` and nothing else). Escaped by the tag machinery (``&amp;``)."""
    query = context["request"].GET.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value is not None and value != "":
            query[key] = str(value)
    return query.urlencode()


@register.filter
def media_error(state) -> str:
    """Why a customer's file was not downloaded (or kept), in the reader's language."""
    from apps.integrations.media import media_error_text

    return media_error_text(state if isinstance(state, dict) else {})


@register.simple_tag(takes_context=True)
def inbox_rows(context) -> str:
    """The rows of the inbox list (``apps.workspace.rows``: built in Python, not an include per row)."""
    from apps.workspace.rows import rows_html

    return rows_html(context["request"], context["rows"], current_pk=context.get("current_pk"),
                     list_query=context.get("list_query") or "")


@register.simple_tag
def select_options(pairs, selected, attr: str = "") -> str:
    """The ``<option>`` elements of a filter menu, ``selected`` marked (the menus' template loops cost
    more than the rest of the page around the list). ``pairs`` are (value, label) pairs, or objects
    whose ``attr`` is the label and ``pk`` the value; values and labels are escaped here."""
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    chosen = "" if selected is None else str(selected)
    out = []
    for item in pairs:
        value, label = (item.pk, getattr(item, attr)) if attr else item
        value = str(value)
        out.append(f'<option value="{escape(value)}"{" selected" if value == chosen and chosen else ""}>'
                   f'{escape(label)}</option>')
    return mark_safe("".join(out))


@register.simple_tag
def tab_count(n) -> str:
    """A tab's count badge: the number up to ``inbox.TAB_COUNT_CAP``, "99+" beyond (counted no
    further, ``inbox.tab_counts``), with the exact meaning in words as its title."""
    from django.utils.html import format_html
    from django.utils.translation import gettext

    from apps.workspace.inbox import TAB_COUNT_CAP

    if n is None or n == "":
        return format_html('<span class="count">{}</span>', "" if n is None else n)
    if n > TAB_COUNT_CAP:
        return format_html('<span class="count" title="{}">{}+</span>',
                           gettext("More than %(count)s conversations") % {"count": TAB_COUNT_CAP}, TAB_COUNT_CAP)
    return format_html('<span class="count">{}</span>', n)


@register.filter
def message_body(message) -> str:
    """A message's text as the team reads it: escaped (it is user text), line breaks kept, and in a
    private note each ``@username`` of someone it mentioned (``meta["mentions"]``, stored when the
    note was written, so only people who may see the chat) marked as a mention."""
    from django.template.defaultfilters import linebreaksbr
    from django.utils.html import escape
    from django.utils.safestring import mark_safe

    from apps.conversations.mentions import MENTION_RE

    body = message.body or ""
    named = {p.get("username", "").lower() for p in (message.meta or {}).get("mentions", [])} \
        if message.is_internal else set()
    if not named:
        return linebreaksbr(body, autoescape=True)

    def mark(match) -> str:
        raw = match.group(1)
        name = raw.rstrip(".-+")
        if name.lower() not in named:
            return match.group(0)
        return f'<span class="mention">@{name}</span>{raw[len(name):]}'

    # Username characters are never changed by escaping, so the escaped text matches like the raw one.
    return linebreaksbr(mark_safe(MENTION_RE.sub(mark, str(escape(body)))), autoescape=True)
