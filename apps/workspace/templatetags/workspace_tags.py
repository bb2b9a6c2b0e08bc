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
