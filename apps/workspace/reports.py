"""The workspace's contribution to the reports: conversations per label (registered in
``WorkspaceConfig.ready`` through ``apps.core.report_tables``; reports does not import the workspace)."""
from __future__ import annotations

from django.db.models import Count, Q

from apps.core.report_tables import conversations_in

from .models import Label


def label_rows(f) -> list[dict]:
    """Conversations started in the range per label (the workspace's labels), one query.

    Labels are not a rollup dimension (a chat may carry several and they change after the fact),
    so this counts live from the label links, narrowed by the same department / channel / agent
    filters (agent = the assignee; the AI Agent's key selects chats never assigned to a person).
    """
    only = Q(**conversations_in(f, "links__conversation__"))
    rows = (Label.objects.annotate(
        conversations=Count("links", filter=only),
        archived=Count("links", filter=only & Q(links__conversation__status="archived")),
        rated=Count("links", filter=only & Q(links__conversation__csat_score__isnull=False)),
        satisfied=Count("links", filter=only & Q(links__conversation__csat_score__gte=4)),
    ).filter(conversations__gt=0).order_by("-conversations", "name")
        .values("name", "conversations", "archived", "rated", "satisfied"))
    return [{**r, "csat": (r["satisfied"] / r["rated"]) if r["rated"] else None} for r in rows]
