from __future__ import annotations

from decimal import Decimal

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def pct(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@register.filter
def duration(value) -> str:
    if value is None:
        return "—"
    seconds = int(round(value))
    if seconds < 60:
        return _("%(s)d s") % {"s": seconds}
    if seconds < 3600:
        return _("%(m)d min %(s)d s") % {"m": seconds // 60, "s": seconds % 60}
    return _("%(h)d h %(m)d min") % {"h": seconds // 3600, "m": (seconds % 3600) // 60}


@register.filter
def figure(value, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "pct":
        return pct(value)
    if kind == "seconds":
        return duration(value)
    if kind == "money":
        return f"{Decimal(value):,.2f}"
    return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"


@register.filter
def flag_label(flag: str) -> str:
    return {"ok": _("within range"), "low": _("below range"), "high": _("above range")}.get(flag, "")
