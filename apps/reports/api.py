"""The same report tables for integrators: GET /api/v1/reports/<table>/?start=&end=&department=&channel=&agent=."""
from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.http import Http404
from rest_framework import permissions
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.roles.access import can_view_reports

from .selectors import TABLES, BadFilter, build_report, parse_filters, table_rows


class CanViewReports(permissions.BasePermission):
    def has_permission(self, request, view) -> bool:
        return can_view_reports(request.user)


def _json(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class ReportIndexView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanViewReports]

    def get(self, request):
        return Response({"tables": list(TABLES)})


class ReportTableView(APIView):
    permission_classes = [permissions.IsAuthenticated, CanViewReports]

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
