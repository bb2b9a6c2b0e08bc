"""Who may see reports (Operators only; Collaborators 403; anonymous to login) and what the pages carry."""
from __future__ import annotations

import csv
import io

import pytest
from django.test import Client
from django.urls import reverse

from apps.conversations import services
from apps.reports.rollups import reports_refresh
from apps.reports.selectors import TABLES
from tests.factories import PASSWORD, conversation_in

pytestmark = pytest.mark.django_db
RANGE = "?start=2026-03-01&end=2026-03-31"


@pytest.fixture
def data(cast, clock):
    conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)
    conv = conversation_in(cast, "archived", department=cast.dept_b, assignee=cast.collab_b)
    services.conversation_rate(conversation=conv, score=5)
    conversation_in(cast, "bot")
    reports_refresh(settle_seconds=0)
    return cast


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def urls():
    yield reverse("reports-dashboard")
    yield reverse("api-reports")
    for t in TABLES:
        yield reverse("reports-export", args=[t])
        yield reverse("api-reports-table", args=[t])


def test_operator_sees_every_page_and_table(client, data):
    login(client, data.operator)
    for url in urls():
        response = client.get(url + RANGE)
        assert response.status_code == 200, url


@pytest.mark.parametrize("who", ["collab_a", "collab_b", "collab_ab", "outsider"])
def test_collaborators_get_403_everywhere(client, data, who):
    login(client, getattr(data, who))
    for url in urls():
        assert client.get(url + RANGE).status_code == 403, url


def test_anonymous_goes_to_login_or_gets_refused_by_the_api(client, data):
    for url in urls():
        response = client.get(url)
        if url.startswith("/api/"):
            assert response.status_code in (401, 403), url
        else:
            assert response.status_code == 302 and "/login" in response["Location"], url


def test_unknown_table_is_404_for_operators_and_403_for_collaborators(client, data):
    login(client, data.operator)
    assert client.get("/reports/export/secrets.csv").status_code == 404
    assert client.get("/api/v1/reports/secrets/").status_code == 404
    client.logout()
    login(client, data.collab_a)
    assert client.get("/reports/export/secrets.csv").status_code == 403


def test_bad_filters_are_a_clear_400(client, data):
    login(client, data.operator)
    response = client.get(reverse("reports-dashboard") + "?start=2026-03-31&end=2026-03-01")
    assert response.status_code == 400
    assert b"start date" in response.content
    assert client.get(reverse("api-reports-table", args=["summary"]) + "?start=yesterday").status_code == 400
    assert client.get(reverse("reports-export", args=["agents"]) + "?department=abc").status_code == 400


def test_csv_export_carries_the_figures(client, data):
    login(client, data.operator)
    response = client.get(reverse("reports-export", args=["agents"]) + RANGE)
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_name = {r["name"]: r for r in rows}
    assert by_name["AI Agent"]["conversations"] == "1"
    assert by_name[data.collab_b.public_name]["csat"] == "1.0000"
    assert by_name[data.collab_a.public_name]["handled"] == "1"


def test_api_filters_by_department(client, data):
    login(client, data.operator)
    body = client.get(reverse("api-reports-table", args=["departments"]) + RANGE + f"&department={data.dept_a.pk}").json()
    assert [r["name"] for r in body["rows"]] == [data.dept_a.name]
    assert body["rows"][0]["conversations"] == 1


def test_dashboard_shows_benchmarks_flags_and_escapes_names(client, data):
    data.dept_a.name = "<script>alert(1)</script>"
    data.dept_a.save()
    login(client, data.operator)
    html = client.get(reverse("reports-dashboard") + RANGE).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html
    assert "healthy 60–75%" in html and "healthy &gt; 85%" in html
    assert 'role="img"' in html  # server-side SVG charts
    assert "flag-low" in html or "flag-high" in html  # 0% deflection is out of range


def test_weekly_digest_mails_operators_only(data, mailoutbox):
    from apps.reports.digest import send_weekly_digest

    data.operator.email = "op@example.com"
    data.operator.save()
    data.collab_a.email = "a@example.com"
    data.collab_a.save()
    assert send_weekly_digest() == 1
    assert [m.to for m in mailoutbox] == [["op@example.com"]]
    assert "CSAT" in mailoutbox[0].body


def test_dashboard_in_spanish(data):
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE="es")
    login(client, data.operator)
    html = client.get(reverse("reports-dashboard") + RANGE).content.decode()
    assert "Tasa de contención de la IA" in html and "saludable 60–75%" in html


def test_api_summary_carries_values_benchmarks_and_flags(client, data):
    login(client, data.operator)
    rows = {r["key"]: r for r in client.get(reverse("api-reports-table", args=["summary"]) + RANGE).json()["rows"]}
    assert rows["deflection"]["value"] == 0.0 and rows["deflection"]["flag"] == "low"
    assert rows["deflection"]["benchmark"] == "healthy 60–75%"
    assert rows["csat"]["value"] == 1.0 and rows["csat"]["flag"] == "ok"
    assert rows["reassignment"]["flag"] == "ok"


def test_agent_filter_zero_is_the_ai_agent_row(client, data):
    login(client, data.operator)
    body = client.get(reverse("api-reports-table", args=["agents"]) + RANGE + "&agent=0").json()
    assert [(r["id"], r["name"], r["conversations"]) for r in body["rows"]] == [(0, "AI Agent", 1)]


def test_weekly_beat_schedule_is_registered(db):
    from django_celery_beat.models import PeriodicTask

    from apps.reports.apps import ensure_schedule

    ensure_schedule()
    ensure_schedule()  # idempotent
    tasks = set(PeriodicTask.objects.filter(task__startswith="reports.").values_list("task", flat=True))
    assert tasks == {"reports.refresh", "reports.reconcile", "reports.weekly_digest"}


def test_embedded_mode_refreshes_stale_rollups_on_view(client, cast, clock, settings):
    settings.REPORTS_REFRESH_ON_VIEW = True
    from apps.reports.rollups import reports_refresh as refresh_now

    refresh_now(settle_seconds=0)  # marks the state fresh
    conversation_in(cast, "bot")
    login(client, cast.operator)
    rows = client.get(reverse("api-reports-table", args=["agents"]) + RANGE).json()["rows"]
    assert rows == []  # refreshed less than a minute ago: the new chat is not folded in yet
    clock.tick(minutes=2)
    rows = client.get(reverse("api-reports-table", args=["agents"]) + RANGE).json()["rows"]
    assert [(r["name"], r["conversations"]) for r in rows] == [("AI Agent", 1)]


def _row(html: str, section_id: str, name: str) -> str:
    """The <tr> of ``name`` in the table of the section headed ``section_id``."""
    import re

    section = html[html.index(f'id="{section_id}"'):]
    section = section[:section.index("</table>")]
    match = re.search(r'<tr>\s*<th scope="row">' + re.escape(name) + r"</th>(.*?)</tr>", section, re.S)
    assert match, f"no row {name!r} in {section_id}"
    return match.group(1)


def test_table_rows_carry_their_own_benchmark_flags(client, cast, clock):
    # Sales: one chat, reassigned by the Operator (100% > 5%), answered after 2 minutes (web chat target 1 min),
    # rated 2 (CSAT 0% < 85%). Technical Support: answered in 10 s, rated 5, never reassigned.
    slow = conversation_in(cast, "assigned", department=cast.dept_b, assignee=cast.collab_b)
    services.conversation_reassign(conversation=slow, assignee=cast.collab_ab, actor=cast.operator, reason="carga")
    clock.tick(minutes=2)
    services.message_send_human(conversation=slow, user=cast.collab_ab, body="Hola")
    services.conversation_archive(conversation=slow, actor=cast.collab_ab)
    services.conversation_rate(conversation=slow, score=2)
    fast = conversation_in(cast, "assigned", department=cast.dept_a, assignee=cast.collab_a)
    clock.tick(seconds=10)
    services.message_send_human(conversation=fast, user=cast.collab_a, body="Hola")
    services.conversation_archive(conversation=fast, actor=cast.collab_a)
    services.conversation_rate(conversation=fast, score=5)
    reports_refresh(settle_seconds=0)
    login(client, cast.operator)
    html = client.get(reverse("reports-dashboard") + RANGE).content.decode()

    sales = _row(html, "h-depts", "Sales")
    cells = sales.split("</td>")
    frt, csat, reassigned = cells[6], cells[8], cells[10]
    assert 'class="num flag-high"' in frt and "⚠ above range" in frt
    assert 'class="num flag-low"' in csat and "⚠ below range" in csat
    assert 'class="num flag-high"' in reassigned and "⚠ above range" in reassigned
    support = _row(html, "h-depts", "Technical Support")
    assert "⚠" not in support and "flag-ok" in support and "(within range)" in support
    # the agents table: the person who got the reassigned chat is flagged, and has no deflection figure
    ab = _row(html, "h-agents", cast.collab_ab.public_name).split("</td>")
    assert "flag-high" in ab[10] and "flag-" not in ab[3]
    assert "flag-low" in _row(html, "h-channels", "Web").split("</td>")[3]  # 0% deflection on the channel
    # and in Spanish
    es = Client(HTTP_ACCEPT_LANGUAGE="es")
    login(es, cast.operator)
    html_es = es.get(reverse("reports-dashboard") + RANGE).content.decode()
    assert "⚠ por encima del rango" in _row(html_es, "h-depts", "Sales")
    assert "contención 60–75%, primera respuesta" in html_es and "deflection 60–75%, first response" in html


def test_labels_are_a_report_table_with_the_same_filters(data, client):
    from apps.conversations.models import Conversation
    from apps.workspace.models import ConversationLabel, Label

    cast = data
    router = Label.objects.create(name="router")
    billing = Label.objects.create(name="billing")
    a = Conversation.objects.get(department=cast.dept_a)
    b = Conversation.objects.get(department=cast.dept_b)
    ConversationLabel.objects.create(conversation=a, label=router)
    ConversationLabel.objects.create(conversation=b, label=router)
    ConversationLabel.objects.create(conversation=b, label=billing)
    login(client, cast.operator)
    html = client.get(reverse("reports-dashboard") + RANGE).content.decode()
    assert 'id="h-labels"' in html
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("reports-export", args=["labels"]) + RANGE)
                                           .content.decode("utf-8-sig"))))
    assert {(r["name"], r["conversations"], r["archived"]) for r in rows} == {("router", "2", "2"), ("billing", "1", "1")}
    assert next(r for r in rows if r["name"] == "billing")["csat"] not in ("", "0", "0.0000")  # b was rated 5
    only_a = client.get(reverse("reports-export", args=["labels"]) + RANGE + f"&department={cast.dept_a.pk}")
    assert [(r["name"], r["conversations"]) for r in csv.DictReader(io.StringIO(only_a.content.decode("utf-8-sig")))] \
        == [("router", "1")]


def test_knowledge_gaps_are_a_report_table_with_the_same_filters(data, client):
    """What customers asked about that no help page mentions (the AI Agent's ``unknown_subjects`` on its
    decisions), most asked first, with the last question as the customer wrote it (escaped on the page)."""
    from apps.conversations.models import Conversation, Message

    cast = data
    a = Conversation.objects.get(department=cast.dept_a)
    b = Conversation.objects.get(department=cast.dept_b)
    for conv, words, text in ((a, ["posnet"], "Do you rent a posnet?"),
                              (b, ["Posnet", "dogecoin"], "<b>¿Posnet</b> o dogecoin?")):
        msg = Message.objects.create(conversation=conv, author_kind="customer", body=text, channel=cast.channel)
        services.conversation_record_decision(conversation=conv, payload={"message_id": msg.pk,
                                                                          "unknown_subjects": words})
    services.conversation_record_decision(conversation=a, payload={"message_id": None, "scores": {}})  # no gap
    login(client, cast.operator)
    html = client.get(reverse("reports-dashboard") + RANGE).content.decode()
    assert 'id="h-gaps"' in html and "&lt;b&gt;¿Posnet&lt;/b&gt; o dogecoin?" in html and "<b>¿Posnet" not in html

    def export(query=""):
        response = client.get(reverse("reports-export", args=["knowledge_gaps"]) + RANGE + query)
        return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))

    rows = export()
    assert [(r["subject"], r["conversations"]) for r in rows] == [("posnet", "2"), ("dogecoin", "1")]
    assert rows[1]["example"] == "<b>¿Posnet</b> o dogecoin?" and rows[1]["last_asked"].startswith("2026-")
    assert [(r["subject"], r["conversations"]) for r in export(f"&department={cast.dept_a.pk}")] == [("posnet", "1")]
    assert export("&start=2026-04-01&end=2026-04-30") == []
