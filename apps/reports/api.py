"""The same report tables for integrators: GET /api/v1/reports/<table>/?start=&end=&department=&channel=&agent=."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.roles.access import can_view_reports

from .selectors import TABLES, BadFilter, build_report, parse_filters, table_rows


class CanViewReports(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        if not can_view_reports(request.user):
            return False
        from .views import refresh_if_stale

        refresh_if_stale()
        return True


def _json(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


FILTER_PARAMS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (local), default: 30 days before end"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (local, inclusive), default: today"),
    OpenApiParameter("days", OpenApiTypes.INT, description="Range length when start is not given (default 30)"),
    OpenApiParameter("department", OpenApiTypes.INT),
    OpenApiParameter("channel", OpenApiTypes.INT),
    OpenApiParameter("agent", OpenApiTypes.INT, description="User id; 0 = the AI Agent"),
]


class ReportIndexView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanViewReports]

    @extend_schema(responses=OpenApiTypes.OBJECT, description="The report tables available.")
    def get(self, request):
        return Response({"tables": list(TABLES)})


class ReportTableView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanViewReports]

    @extend_schema(operation_id="v1_reports_table_retrieve", parameters=FILTER_PARAMS, responses=OpenApiTypes.OBJECT,
                   description="One report table (rows of figures; ratios are 0-1, times in seconds).")
    def get(self, request, table: str):
        if table not in TABLES:
            raise Http404
        try:
            f = parse_filters(request.query_params)
        except BadFilter as exc:
            raise ValidationError({"detail": str(exc)}) from exc
        rows = table_rows(build_report(f), table)
        return Response({"table": table, "filters": f.as_query(),
                         "rows": [{k: _json(v) for k, v in row.items()} for row in rows]})
