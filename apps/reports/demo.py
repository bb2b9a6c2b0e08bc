"""Demo: cost settings and business hours for FibraSur, then rollups built from the seeded history."""
from __future__ import annotations

from decimal import Decimal


def seed(out=None) -> None:
    from apps.departments.models import Department

    from .models import CostSettings, DepartmentHours
    from .rollups import reports_rebuild

    if not CostSettings.objects.exists():
        CostSettings(currency="USD", operator_seat_monthly_cost=Decimal("1200"),
                     collaborator_hourly_cost=Decimal("9.50"), platform_monthly_cost=Decimal("450"),
                     ai_cost_per_1k_tokens=Decimal("0.002"), ai_cost_per_conversation=Decimal("0.03")).save()
    weekdays = {d: [["08:00", "20:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    for dept in Department.objects.filter(slug__in=["sales", "collections", "cancellations"]):
        DepartmentHours.objects.get_or_create(department=dept, defaults={"hours": {**weekdays, "sat": [["09:00", "13:00"]]}})
    result = reports_rebuild()
    if out is not None:
        out.write(f"  reports: {result['conversations']} conversations in {result['buckets']} buckets\n")
