"""Visibility limits of the copilot: every endpoint is 404 outside the user's chats; retrieval never
reaches documents limited to other departments; summaries never include other customers' chats
nor the same customer's chats the user may not see."""
from __future__ import annotations

import pytest
from django.urls import reverse

from apps.conversations import services as conv_services
from apps.copilot import services
from apps.copilot.models import CopilotSuggestion

from .conftest import chat

pytestmark = pytest.mark.django_db

SALES_QUESTION = "Is there a welcome discount code on the router upgrade?"


def endpoints(pk):
    return [("get", reverse("copilot-panel", args=[pk]), {}), ("get", reverse("copilot-suggest", args=[pk]), {}),
            ("get", reverse("copilot-search", args=[pk]), {"q": "router"}),
            ("post", reverse("copilot-summary", args=[pk]), {"scope": "conversation"}),
            ("post", reverse("copilot-summary", args=[pk]), {"scope": "history"}),
            ("post", reverse("copilot-rewrite", args=[pk]), {"style": "formal", "body": "hi"}),
            ("post", reverse("copilot-send", args=[pk]), {"body": "hi"})]


@pytest.mark.parametrize("who", ["collab_b", "outsider"])
def test_every_endpoint_is_404_for_a_chat_the_user_cannot_see(client, kb, who):
    conv = chat(kb, text=SALES_QUESTION)  # Technical Support, assigned to collab_a
    client.force_login(getattr(kb, who))
    for method, url, data in endpoints(conv.pk):
        assert getattr(client, method)(url, data).status_code == 404, url
    assert not CopilotSuggestion.objects.exists()


def test_anonymous_is_sent_to_login(client, kb):
    conv = chat(kb, text="hi")
    for method, url, data in endpoints(conv.pk):
        assert getattr(client, method)(url, data).status_code == 302


def test_send_is_403_for_a_visible_chat_that_is_not_theirs(client, kb):
    conv = chat(kb, status="unassigned", text="hi")
    client.force_login(kb.collab_a)
    assert client.post(reverse("copilot-send", args=[conv.pk]), {"body": "hi"}).status_code == 403


def test_sales_document_never_reaches_a_technical_support_collaborator(client, kb):
    sales_doc = kb.extra["docs"]["sales"].pk
    conv = chat(kb, text=SALES_QUESTION)
    client.force_login(kb.collab_a)
    client.get(reverse("copilot-suggest", args=[conv.pk]))
    for row in CopilotSuggestion.objects.filter(kind="reply"):
        assert "ZEBRA" not in row.text and sales_doc not in {s["document_id"] for s in row.sources}
    html = client.get(reverse("copilot-search", args=[conv.pk]), {"q": "secret welcome discount code"}).content.decode()
    assert "ZEBRA" not in html and "sales-playbook" not in html
    assert sales_doc not in {h["document_id"] for h in services.search(user=kb.collab_a, conversation=conv,
                                                                       query="discount code ZEBRA-42", k=10)}


def test_collaborator_in_both_departments_gets_only_the_chats_department(kb):
    conv = chat(kb, text=SALES_QUESTION, assignee=kb.collab_ab)  # a Technical Support chat
    assert services.knowledge_departments(kb.collab_ab, conv) == [kb.dept_a.pk]
    hits = services.search(user=kb.collab_ab, conversation=conv, query="discount code ZEBRA-42", k=10)
    assert kb.extra["docs"]["sales"].pk not in {h["document_id"] for h in hits}


def test_collaborator_given_a_chat_of_another_department_keeps_to_their_own(kb):
    conv = chat(kb, text=SALES_QUESTION, department=kb.dept_b, assignee=kb.collab_a)  # Operator gave it to them
    assert services.knowledge_departments(kb.collab_a, conv) == [kb.dept_a.pk]
    result = services.suggest_reply(user=kb.collab_a, conversation=conv)
    assert "ZEBRA" not in result.text
    assert kb.extra["docs"]["sales"].pk not in {s["document_id"] for s in result.sources}


def test_sales_collaborator_and_operator_do_get_the_sales_document(kb):
    conv = chat(kb, text=SALES_QUESTION, department=kb.dept_b, assignee=kb.collab_b)
    for user in (kb.collab_b, kb.operator):
        hits = services.search(user=user, conversation=conv, query="discount code ZEBRA-42", k=10)
        assert hits[0]["document_id"] == kb.extra["docs"]["sales"].pk


def test_other_customers_chats_are_never_summarised(client, kb):
    other = chat(kb, status="archived", contact=kb.other_customer, text="OTTO private matter about his bill")
    mine = chat(kb, status="archived", text="Carla asked about coverage")
    conv = chat(kb, text="My ONT light is red")
    client.force_login(kb.collab_a)
    client.post(reverse("copilot-summary", args=[conv.pk]), {"scope": "history"})
    row = CopilotSuggestion.objects.get(kind="history")
    assert f"#{mine.pk}" in row.text and "OTTO" not in row.text and f"#{other.pk}" not in row.text
    assert {s["conversation_id"] for s in row.sources} == {mine.pk}


def test_same_customer_chats_the_user_cannot_see_are_not_summarised(client, kb):
    # An archived Technical Support chat of Carla handled by collab_a: not visible to collab_b, who
    # is only looking at Carla's new chat in the Sales queue (not handling it).
    hidden = chat(kb, status="archived", text="Carla private tech matter")
    conv = chat(kb, status="unassigned", department=kb.dept_b, text="Quiero un plan nuevo")
    client.force_login(kb.collab_b)
    response = client.post(reverse("copilot-summary", args=[conv.pk]), {"scope": "history"})
    assert response.status_code == 200
    assert "private tech matter" not in response.content.decode()
    assert not CopilotSuggestion.objects.filter(kind="history", text__contains=f"#{hidden.pk}").exists()
    # Once collab_b handles Carla's chat, her history is theirs to see (access.py rule) and to summarise.
    conv_services.conversation_pickup(conversation=conv.pk, user=kb.collab_b)
    client.post(reverse("copilot-summary", args=[conv.pk]), {"scope": "history"})
    assert f"#{hidden.pk}" in CopilotSuggestion.objects.filter(kind="history").first().text
