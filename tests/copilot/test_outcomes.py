"""Used / edited / ignored, recorded at send time (copilot send view) or reconciled later (plain
reply form); handle time with and without the copilot; the admin switch is Operators only."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.conversations.models import Conversation, Message
from apps.copilot.models import CopilotSettings, CopilotSuggestion
from apps.copilot.selectors import copilot_aht
from apps.copilot.services import similarity

from .conftest import chat

pytestmark = pytest.mark.django_db


def draft(client, kb, text="My ONT light is red, what should I do?"):
    conv = chat(kb, text=text)
    client.force_login(kb.collab_a)
    client.get(reverse("copilot-suggest", args=[conv.pk]))
    return conv, CopilotSuggestion.objects.get(conversation=conv, kind="reply")


def send(client, conv, body, chosen=None):
    data = {"body": body} | ({"copilot_suggestion": str(chosen)} if chosen else {})
    response = client.post(reverse("copilot-send", args=[conv.pk]), data)
    assert response.status_code == 302 and response.url == reverse("conversation-detail", args=[conv.pk])
    return Message.objects.filter(conversation=conv, author_kind="human").last()


def test_sent_as_is_is_used(client, kb):
    conv, row = draft(client, kb)
    msg = send(client, conv, row.text, chosen=row.pk)
    assert msg.body == row.text
    row.refresh_from_db()
    assert (row.outcome, row.similarity, row.message_id) == ("used", 1.0, msg.pk)
    assert Conversation.objects.get(pk=conv.pk).status == "in_progress"  # the normal reply service ran


def test_sent_after_editing_is_edited(client, kb):
    conv, row = draft(client, kb)
    send(client, conv, "Hi Carla! " + row.text[: len(row.text) * 2 // 3], chosen=row.pk)
    row.refresh_from_db()
    assert row.outcome == "edited" and 0.5 <= row.similarity < 0.95


def test_something_else_sent_is_ignored(client, kb):
    conv, row = draft(client, kb)
    send(client, conv, "Let me transfer you to billing.")
    row.refresh_from_db()
    assert row.outcome == "ignored" and row.similarity < 0.5


def test_only_the_last_suggestion_is_compared_earlier_ones_are_superseded(client, kb):
    conv, first = draft(client, kb)
    client.post(reverse("copilot-rewrite", args=[conv.pk]), {"style": "formal", "body": first.text})
    rewrite = CopilotSuggestion.objects.get(kind="rewrite")
    send(client, conv, rewrite.text)
    first.refresh_from_db()
    rewrite.refresh_from_db()
    assert rewrite.outcome == "used" and first.outcome == "ignored"


def test_plain_reply_path_is_reconciled_when_the_panel_loads(client, kb):
    conv, row = draft(client, kb)
    client.post(reverse("conversation-reply", args=[conv.pk]), {"body": row.text})
    row.refresh_from_db()
    assert row.outcome == "pending"
    client.get(reverse("copilot-panel", args=[conv.pk]))
    row.refresh_from_db()
    assert row.outcome == "used" and row.message_id is not None


def test_bad_send_keeps_the_suggestion_pending_and_says_why(client, kb):
    conv, row = draft(client, kb)
    response = client.post(reverse("copilot-send", args=[conv.pk]), {"body": "   "}, follow=True)
    assert response.status_code == 200
    assert list(response.context["messages"])  # the reply service's error, shown on the page
    row.refresh_from_db()
    assert row.outcome == "pending"


def test_similarity_is_whitespace_and_case_insensitive():
    assert similarity("Restart  the router.", "restart the router.") == 1.0
    assert similarity("", "x") == 0.0


def test_aht_with_and_without_copilot(client, kb):
    now = timezone.now()
    helped, row = draft(client, kb)
    send(client, helped, row.text)
    plain = chat(kb, text="another question")
    for conv, minutes in ((helped, 4), (plain, 10)):
        Conversation.objects.filter(pk=conv.pk).update(status="archived", assigned_at=now - timedelta(minutes=minutes),
                                                       archived_at=now)
    figures = copilot_aht(start=now - timedelta(hours=1), end=now + timedelta(seconds=1))
    assert figures["with_copilot"] == {"conversations": 1, "aht_seconds": 240.0, "median_seconds": 240.0}
    assert figures["without_copilot"]["aht_seconds"] == 600.0
    assert figures["used_copilot"]["conversations"] == 1
    assert figures["suggestion_outcomes"] == {"used": 1}
    assert copilot_aht(start=now - timedelta(hours=1), end=now, departments=[kb.dept_b.pk])["with_copilot"][
        "conversations"] == 0


def test_aht_counts_a_chat_as_with_copilot_only_when_its_assignee_saw_a_suggestion(client, kb):
    """An Operator drafting in a colleague's chat does not make it a copilot chat: the handle time
    is the assignee's."""
    now = timezone.now()
    conv = chat(kb, text="My ONT light is red, what should I do?")  # assigned to collab_a
    client.force_login(kb.operator)
    client.get(reverse("copilot-suggest", args=[conv.pk]))
    assert CopilotSuggestion.objects.filter(conversation=conv, user=kb.operator, kind="reply").count() == 1
    Conversation.objects.filter(pk=conv.pk).update(status="archived", assigned_at=now - timedelta(minutes=5),
                                                   archived_at=now)
    figures = copilot_aht(start=now - timedelta(hours=1), end=now + timedelta(seconds=1))
    assert figures["with_copilot"]["conversations"] == 0
    assert figures["without_copilot"] == {"conversations": 1, "aht_seconds": 300.0, "median_seconds": 300.0}
    assert figures["suggestion_outcomes"] == {}


def test_panel_refresh_reuses_the_pending_draft_until_the_customer_writes_again(client, kb):
    conv, row = draft(client, kb)
    for _ in range(3):
        response = client.get(reverse("copilot-suggest", args=[conv.pk]))
        assert response.status_code == 200 and row.text.split()[0] in response.content.decode()
    assert list(CopilotSuggestion.objects.filter(conversation=conv, kind="reply").values_list("pk", flat=True)) == [row.pk]
    Message.objects.create(conversation=conv, author_kind="customer", body="And how do I restart the router?",
                           channel=kb.channel)
    client.get(reverse("copilot-suggest", args=[conv.pk]))
    assert CopilotSuggestion.objects.filter(conversation=conv, kind="reply").count() == 2  # a new question


def test_admin_switch_is_operators_only(client, kb):
    url = reverse("admin:copilot_copilotsettings_changelist")
    client.force_login(kb.collab_a)
    assert client.get(url).status_code in (302, 403)
    client.force_login(kb.operator)
    assert client.get(url).status_code == 200
    setting = CopilotSettings.objects.get(department=kb.dept_a)
    response = client.post(reverse("admin:copilot_copilotsettings_change", args=[setting.pk]),
                           {"department": kb.dept_a.pk})  # enabled unticked
    assert response.status_code == 302
    setting.refresh_from_db()
    assert setting.enabled is False
    from apps.core.models import AuditEntry

    entry = AuditEntry.objects.get(action="copilotsettings.change")
    assert (entry.actor, entry.target_id, entry.changes) == (kb.operator, str(setting.pk), {"enabled": False})


def test_reports_dashboard_shows_the_copilot_card(client, kb):
    now = timezone.now()
    helped, row = draft(client, kb)
    send(client, helped, row.text)
    Conversation.objects.filter(pk=helped.pk).update(status="archived", assigned_at=now - timedelta(minutes=3),
                                                     archived_at=now)
    client.force_login(kb.operator)
    html = client.get(reverse("reports-dashboard")).content.decode()
    assert 'id="h-copilot"' in html and "With copilot suggestions" in html
    assert "180.0 s" in html and "1 sent as is" in html


def test_demo_seed_switches_the_copilot_on_everywhere_once(cast):
    from apps.copilot import demo
    from apps.departments.models import Department

    demo.seed(None)
    demo.seed(None)
    assert CopilotSettings.objects.filter(enabled=True).count() == Department.objects.count()
