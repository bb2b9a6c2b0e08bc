"""The workspace's contribution to the reports: conversations per label (registered in
``WorkspaceConfig.ready`` through ``apps.core.report_tables``; reports does not import the workspace)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from .models import Label


def label_rows(f) -> list[dict]:
    """Conversations started in the range per label (the workspace's labels), one query.

    Labels are not a rollup dimension (a chat may carry several and they change after the fact),
    so this counts live from the label links, narrowed by the same department / channel / agent
    filters (agent = the assignee; the AI Agent's key selects chats never assigned to a person).
    """
    tz = timezone.get_current_timezone()
    start = datetime.combine(f.start, time.min, tzinfo=tz)
    end = datetime.combine(f.end + timedelta(days=1), time.min, tzinfo=tz)
    conv = {"links__conversation__created_at__gte": start, "links__conversation__created_at__lt": end}
    if f.department is not None:
        conv["links__conversation__department_id"] = f.department
    if f.channel is not None:
        conv["links__conversation__channel_id"] = f.channel
    if f.agent is not None:
        conv["links__conversation__assignee_id"] = f.agent or None
    only = Q(**conv)
    rows = (Label.objects.annotate(
        conversations=Count("links", filter=only),
        archived=Count("links", filter=only & Q(links__conversation__status="archived")),
        rated=Count("links", filter=only & Q(links__conversation__csat_score__isnull=False)),
        satisfied=Count("links", filter=only & Q(links__conversation__csat_score__gte=4)),
    ).filter(conversations__gt=0).order_by("-conversations", "name")
        .values("name", "conversations", "archived", "rated", "satisfied"))
    return [{**r, "csat": (r["satisfied"] / r["rated"]) if r["rated"] else None} for r in rows]
