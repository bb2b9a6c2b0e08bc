"""Report tables that apps beside reports contribute (reports and they import none of each other).

The workspace's labels are one: ``WorkspaceConfig.ready`` registers ``"labels"``. A table is a
function ``(filters) -> list[dict]`` of flat rows (the dashboard, CSV export and API show them);
with nothing registered the table is simply empty.
"""
from __future__ import annotations

from typing import Callable

_tables: dict[str, Callable] = {}


def register_table(name: str, rows: Callable) -> None:
    _tables[name] = rows


def table(name: str, filters) -> list[dict]:
    fn = _tables.get(name)
    return fn(filters) if fn else []
