"""Demo: the copilot on for every department (idempotent)."""
from __future__ import annotations


def seed(out) -> None:
    from apps.departments.models import Department

    from .models import CopilotSettings

    created = 0
    for dept in Department.objects.all():
        _obj, new = CopilotSettings.objects.get_or_create(department=dept, defaults={"enabled": True})
        created += int(new)
    if out is not None and created:
        out.write(f"copilot: switched on for {created} departments\n")
