"""``{% copilot_aht_card f %}``: the copilot's effect on handle time, for the reports dashboard."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from django import template
from django.utils import timezone

from ..selectors import copilot_aht

register = template.Library()


@register.inclusion_tag("copilot/_aht_card.html")
def copilot_aht_card(filters):
    """``filters``: the dashboard's period (start/end dates, end inclusive) and optional department."""
    tz = timezone.get_current_timezone()
    start = datetime.combine(filters.start, time.min, tzinfo=tz)
    end = datetime.combine(filters.end + timedelta(days=1), time.min, tzinfo=tz)
    department = getattr(filters, "department", None)
    return {"aht": copilot_aht(start=start, end=end, departments=[department] if department else None)}
