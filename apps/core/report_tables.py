"""Report tables that apps beside reports contribute (reports and they import none of each other).

The workspace's labels are one: ``WorkspaceConfig.ready`` registers ``"labels"``. A table is a
function ``(filters) -> list[dict]`` of flat rows (the dashboard, CSV export and API show them);
with nothing registered the table is simply empty.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Callable

_tables: dict[str, Callable] = {}


def register_table(name: str, rows: Callable) -> None:
    _tables[name] = rows


def table(name: str, filters) -> list[dict]:
    fn = _tables.get(name)
    return fn(filters) if fn else []


def conversations_in(filters, prefix: str = "") -> dict:
    """ORM filter keywords for the conversations a contributed table counts: started in the report's
    range (local days), narrowed by its department, channel and agent filters (agent = the assignee;
    the AI Agent's key 0 selects chats never assigned to a person). ``prefix``: the path from the
    table's model to the conversation ("links__conversation__", "conversation__")."""
    from django.utils import timezone

    tz = timezone.get_current_timezone()
    out = {f"{prefix}created_at__gte": datetime.combine(filters.start, time.min, tzinfo=tz),
           f"{prefix}created_at__lt": datetime.combine(filters.end + timedelta(days=1), time.min, tzinfo=tz)}
    if filters.department is not None:
        out[f"{prefix}department_id"] = filters.department
    if filters.channel is not None:
        out[f"{prefix}channel_id"] = filters.channel
    if filters.agent is not None:
        out[f"{prefix}assignee_id"] = filters.agent or None
    return out
