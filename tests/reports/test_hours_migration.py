"""reports 0003: the reports-only DepartmentHours become routing's business hours (one place)."""
from __future__ import annotations

from datetime import time

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("reports", "0002_human_handled_counter"), ("routing", "0002_presence_heartbeat_sessions"),
          ("departments", "0001_initial")]  # the schema of that time: no per-language names yet
AFTER = [("reports", "0003_business_hours_in_routing")]


@pytest.mark.django_db(transaction=True)
def test_department_hours_move_to_routing_and_routing_hours_win(migrations_restored):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Department = old.get_model("departments", "Department")
    plain = Department.objects.create(name="Sales", slug="sales-m")
    routed = Department.objects.create(name="Support", slug="support-m")
    old.get_model("reports", "DepartmentHours").objects.create(
        department=plain, time_zone="America/Argentina/Buenos_Aires",
        hours={"mon": [["09:00", "13:00"], ["14:00", "24:00"]], "sat": []})
    old.get_model("reports", "DepartmentHours").objects.create(department=routed, hours={"tue": [["08:00", "09:00"]]})
    cfg = old.get_model("routing", "DepartmentRouting").objects.create(department=routed)
    old.get_model("routing", "BusinessHours").objects.create(routing=cfg, weekday=3, start=time(10), end=time(11))

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    BusinessHours = new.get_model("routing", "BusinessHours")
    assert sorted(BusinessHours.objects.filter(routing_id=plain.pk).values_list("weekday", "start", "end")) == [
        (0, time(9), time(13)), (0, time(14), time(0))]  # "24:00" is midnight (runs to the end of the day)
    # Routing already had a schedule for this one: it already won, it stays as it was.
    assert list(BusinessHours.objects.filter(routing_id=routed.pk).values_list("weekday", "start", "end")) == [
        (3, time(10), time(11))]
    assert new.get_model("departments", "Department").objects.get(pk=plain.pk).time_zone == "America/Argentina/Buenos_Aires"
    assert "reports_departmenthours" not in connection.introspection.table_names()

    from apps.reports.business_hours import routing_schedule

    assert routing_schedule(plain.pk)["hours"] == {"mon": [["09:00:00", "13:00:00"], ["14:00:00", "24:00"]]}
