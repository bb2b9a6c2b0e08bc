"""Reports pages and CSV exports: Operators only (can_view_reports). Anonymous -> login, others 403.

Reports are aggregate, operation-wide figures, so the check is a role capability, not per-object
visibility; an unknown export table is 404.
"""
from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from apps.conversations.models import Channel
from apps.core.hostile import spreadsheet_safe
from apps.departments.models import Department
from apps.roles.access import can_view_reports

from . import charts
from .definitions import AI_AGENT_KEY
from .models import RollupState
from .selectors import TABLES, BadFilter, build_report, parse_filters, table_rows


def _require_reports(request) -> None:
    if not can_view_reports(request.user):
        raise PermissionDenied
    refresh_if_stale()


def refresh_if_stale() -> None:
    """Without a Celery beat (the embedded single-process mode) nothing folds new events into the
    rollups, so a report view does one bounded refresh step when the last one is over a minute old.
    ``REPORTS_REFRESH_ON_VIEW`` (default: on when tasks run eagerly, i.e. no worker) controls it."""
    from django.conf import settings
    from django.utils import timezone

    if not getattr(settings, "REPORTS_REFRESH_ON_VIEW", settings.CELERY_TASK_ALWAYS_EAGER):
        return
    state = RollupState.objects.filter(pk=1).only("refreshed_at").first()
    if state is None or state.refreshed_at is None or (timezone.now() - state.refreshed_at).total_seconds() > 60:
        from .rollups import reports_refresh

        reports_refresh(max_rows=5000)


def _filter_choices():
    User = get_user_model()
    agents = [(AI_AGENT_KEY, _("AI Agent"))] + [
        (u.pk, u.public_name) for u in User.objects.filter(is_active=True).order_by("first_name", "username")]
    departments = sorted(Department.objects.all(), key=lambda d: str(d).casefold())  # in the reader's language
    return {"departments": departments, "channels": Channel.objects.order_by("name"), "agents": agents}


@login_required
def dashboard(request):
    _require_reports(request)
    try:
        f = parse_filters(request.GET)
    except BadFilter as exc:
        return render(request, "reports/dashboard.html", {"error": str(exc), **_filter_choices(),
                                                          "params": request.GET}, status=400)
    report = build_report(f)
    series = report["timeseries"]
    labels = [row["day"].strftime("%d/%m") for row in series]
    ctx = {
        **_filter_choices(), "report": report, "params": request.GET, "f": f, "tables": TABLES,
        "query": "&".join(f"{k}={v}" for k, v in f.as_query().items()),
        "state": RollupState.objects.filter(pk=1).first(),
        "chart_volume": charts.line_chart(labels, [
            (_("Conversations"), [r["conversations"] for r in series]),
            (_("Handed off"), [r["handed_off"] for r in series]),
            (_("Deflected by the AI"), [r["deflected"] for r in series]),
        ], _("Conversations per day"), width=1100, height=260),
        "chart_rates": charts.line_chart(labels, [
            (_("Deflection"), [r["deflection"] for r in series]),
            (_("CSAT 4–5"), [r["csat"] for r in series]),
        ], _("Deflection and CSAT per day"), percent=True, width=1100, height=260),
        "chart_deflection": charts.bar_chart([(str(r["name"]), r["conversations"]) for r in report["deflection"]],
                                             _("How closed conversations ended")),
        "chart_triggers": charts.bar_chart([(str(r["name"]), r["handoffs"]) for r in report["triggers"]],
                                           _("Handoffs by trigger")),
        "chart_departments": charts.bar_chart([(str(r["name"]), r["conversations"]) for r in report["departments"]],
                                              _("Conversations by department")),
    }
    return render(request, "reports/dashboard.html", ctx)


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, (int, date, Decimal)):
        return str(value)
    # Names and labels come from people (a Collaborator's display name, a department's name): a
    # cell a spreadsheet would run as a formula is written as text (apps/core/hostile.py).
    return spreadsheet_safe(str(value))


@login_required
def export_csv(request, table: str):
    _require_reports(request)
    if table not in TABLES:
        raise Http404
    try:
        f = parse_filters(request.GET)
    except BadFilter as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    rows = table_rows(build_report(f), table)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="asisteclick-{table}-{f.start}-{f.end}.csv"'
    writer = csv.writer(response)
    columns = list(rows[0].keys()) if rows else []
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_value(row[c]) for c in columns])
    return response
