"""Business hours live in one place: routing's. Each department's reports-only ``DepartmentHours``
becomes routing ``BusinessHours`` intervals (only where routing had none: routing's own schedule
already won over it), then the model goes. Routing follows those intervals only where "follow
business hours" is on (unchanged default: off), so routing behaves as before; the reports read the
same hours as before."""
from datetime import time

from django.db import migrations

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _time(text: str) -> time:
    return time(0, 0) if text in ("24:00", "24:00:00") else time.fromisoformat(text)


def hours_to_routing(apps, schema_editor):
    DepartmentHours = apps.get_model("reports", "DepartmentHours")
    DepartmentRouting = apps.get_model("routing", "DepartmentRouting")
    BusinessHours = apps.get_model("routing", "BusinessHours")
    Department = apps.get_model("departments", "Department")
    for row in DepartmentHours.objects.all():
        cfg, _ = DepartmentRouting.objects.get_or_create(department_id=row.department_id)
        if BusinessHours.objects.filter(routing=cfg).exists():
            continue
        BusinessHours.objects.bulk_create([
            BusinessHours(routing=cfg, weekday=WEEKDAYS.index(day), start=_time(span[0]), end=_time(span[1]))
            for day, spans in (row.hours or {}).items() if day in WEEKDAYS for span in spans or []])
        if row.time_zone:
            Department.objects.filter(pk=row.department_id, time_zone="").update(time_zone=row.time_zone)


def routing_to_hours(apps, schema_editor):
    """Reversing leaves routing's intervals where they are (the reports read them either way)."""


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0002_human_handled_counter"),
        ("routing", "0002_presence_heartbeat_sessions"),
        ("departments", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(hours_to_routing, routing_to_hours),
        migrations.DeleteModel(name="DepartmentHours"),
    ]
