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
