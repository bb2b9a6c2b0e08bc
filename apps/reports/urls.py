from django.urls import path

from . import api, views

urlpatterns = [
    path("reports/", views.dashboard, name="reports-dashboard"),
    path("reports/export/<slug:table>.csv", views.export_csv, name="reports-export"),
    path("api/v1/reports/", api.ReportIndexView.as_view(), name="api-reports"),
    path("api/v1/reports/<slug:table>/", api.ReportTableView.as_view(), name="api-reports-table"),
]
