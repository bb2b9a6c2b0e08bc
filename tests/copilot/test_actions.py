"""Each copilot action through its view, offline (local provider): reply draft, KB search,
summaries, rewrite; the department switch; suggestions are never sent by themselves."""
from __future__ import annotations

import pytest
from django.urls import reverse

from apps.conversations.models import Message
from apps.copilot import local
from apps.copilot.models import CopilotSettings, CopilotSuggestion

from .conftest import chat

pytestmark = pytest.mark.django_db


def client_for(client, user):
    client.force_login(user)
    return client


def test_panel_follows_the_department_switch(client, kb):
    conv = chat(kb, text="My ONT light is red")
    c = client_for(client, kb.collab_a)
    response = c.get(reverse("copilot-panel", args=[conv.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="copilot-panel"' in html and "Offline assistant" in html
    assert reverse("copilot-suggest", args=[conv.pk]) in html
    CopilotSettings.objects.filter(department=kb.dept_a).update(enabled=False)
    assert c.get(reverse("copilot-panel", args=[conv.pk])).status_code == 204
    assert c.get(reverse("copilot-suggest", args=[conv.pk])).status_code == 404
    assert c.get(reverse("copilot-search", args=[conv.pk]), {"q": "router"}).status_code == 404


def test_conversation_page_mounts_the_panel_lazily(client, kb):
    conv = chat(kb, text="My ONT light is red")
    html = client_for(client, kb.collab_a).get(reverse("conversation-detail", args=[conv.pk])).content.decode()
    assert 'id="copilot-mount"' in html and 'hx-trigger="load"' in html
    assert reverse("copilot-panel", args=[conv.pk]) in html


def test_suggested_reply_is_drafted_from_the_kb_with_sources_and_never_sent(client, kb):
    conv = chat(kb, text="My ONT light is red, what should I do?")
    before = Message.objects.filter(conversation=conv).count()
    response = client_for(client, kb.collab_a).get(reverse("copilot-suggest", args=[conv.pk]))
    assert response.status_code == 200
    row = CopilotSuggestion.objects.get(conversation=conv, kind="reply")
    assert row.user == kb.collab_a and row.provider == "local" and row.outcome == "pending"
    assert "red" in row.text.lower() and row.text in kb.extra["docs"]["tech"].chunks.first().text
    assert row.sources[0]["document_id"] == kb.extra["docs"]["tech"].pk
    html = response.content.decode()
    assert "copilot-insert" in html and "tech-light" in html and 'data-suggestion="%d"' % row.pk in html
    assert Message.objects.filter(conversation=conv).count() == before  # nothing sent


def test_no_draft_when_the_customer_has_not_written_since_our_reply(client, kb):
    conv = chat(kb, status="in_progress")  # ends with the human's "Hola, te ayudo"
    response = client_for(client, kb.collab_a).get(reverse("copilot-suggest", args=[conv.pk]))
    assert "has not written since the last reply" in response.content.decode()
    assert not CopilotSuggestion.objects.exists()


def test_right_after_a_handoff_the_draft_answers_what_the_bot_could_not(client, kb):
    conv = chat(kb, text="My ONT light is red, what should I do?")
    Message.objects.create(conversation=conv, author_kind="ai_agent", body="I'll pass you to Support.",
                           channel=kb.channel)
    response = client_for(client, kb.collab_a).get(reverse("copilot-suggest", args=[conv.pk]))
    row = CopilotSuggestion.objects.get(conversation=conv, kind="reply")
    assert "red" in row.text.lower() and row.sources[0]["document_id"] == kb.extra["docs"]["tech"].pk
    assert "has not written" not in response.content.decode()


def test_an_ai_answer_the_customer_replied_to_ends_the_pending_question(kb):
    from apps.copilot.services import pending_question, public_messages

    conv = chat(kb, text="What plans do you have?")
    for kind, body in (("ai_agent", "We have Fibra 300 and Fibra 600."), ("customer", "My ONT light is red"),
                       ("ai_agent", "I'll pass you to Support.")):
        Message.objects.create(conversation=conv, author_kind=kind, body=body, channel=kb.channel)
    assert pending_question(public_messages(conv)) == ["My ONT light is red"]


def test_no_draft_for_a_chat_the_user_cannot_reply_in(client, kb):
    conv = chat(kb, status="unassigned", text="My ONT light is red")
    response = client_for(client, kb.collab_a).get(reverse("copilot-suggest", args=[conv.pk]))
    assert response.status_code == 200 and "Pick up the conversation" in response.content.decode()
    assert not CopilotSuggestion.objects.exists()


def test_kb_search_returns_passages_with_their_documents(client, kb):
    conv = chat(kb, text="hello")
    c = client_for(client, kb.collab_a)
    response = c.get(reverse("copilot-search", args=[conv.pk]), {"q": "red light on the ONT"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "tech-light" in html and "technician visit" in html
    bad = c.get(reverse("copilot-search", args=[conv.pk]), {"q": "  "})
    assert bad.status_code == 400 and "Type something" in bad.content.decode()


def test_summary_of_the_conversation(client, kb):
    conv = chat(kb, status="in_progress", text="The router restarts every night and the light turns red.")
    Message.objects.create(conversation=conv, author_kind="customer", body="It started last Monday.",
                           channel=kb.channel)
    response = client_for(client, kb.collab_a).post(reverse("copilot-summary", args=[conv.pk]), {"scope": "conversation"})
    assert response.status_code == 200
    row = CopilotSuggestion.objects.get(kind="summary")
    assert "Customer's request: Hello" in row.text or "Customer's request:" in row.text
    assert "It started last Monday." in row.text and "Last reply from us: Hola, te ayudo" in row.text
    assert "This conversation" in response.content.decode()


def test_summary_of_previous_conversations(client, kb):
    old = chat(kb, status="archived", text="Billing question about March")
    conv = chat(kb, text="My ONT light is red")
    response = client_for(client, kb.collab_a).post(reverse("copilot-summary", args=[conv.pk]), {"scope": "history"})
    row = CopilotSuggestion.objects.get(kind="history")
    assert f"#{old.pk}" in row.text and "Billing question about March" in row.text
    assert row.sources == [{"conversation_id": old.pk}]
    assert "Previous conversations" in response.content.decode()


def test_rewrite_more_formal_and_shorter(client, kb):
    conv = chat(kb, text="hi")
    c = client_for(client, kb.collab_a)
    url = reverse("copilot-rewrite", args=[conv.pk])
    formal = c.post(url, {"style": "formal", "body": "hi, you can't restart it now?? thanks"})
    assert formal.status_code == 200
    text = CopilotSuggestion.objects.filter(kind="rewrite").first().text
    assert text.startswith("Hello") and "cannot" in text and "??" not in text and text.endswith("Kind regards.")
    long = ("Basically you just need to restart the router (the white box). Then wait two minutes. "
            "Then check the lights. Then write to us again if needed.")
    c.post(url, {"style": "shorter", "body": long})
    short = CopilotSuggestion.objects.filter(kind="rewrite").first().text
    assert short == "You need to restart the router. Then wait two minutes."
    bad = c.post(url, {"style": "shorter", "body": ""})
    assert bad.status_code == 400 and "Write or insert a reply first" in bad.content.decode()
    assert c.post(url, {"style": "poem", "body": "x"}).status_code == 400


def test_offline_translation_uses_kb_parallel_passages_and_the_phrase_table(client, kb):
    conv = chat(kb, text="hola, no tengo internet", language="es")
    c = client_for(client, kb.collab_a)
    response = c.post(reverse("copilot-rewrite", args=[conv.pk]), {
        "style": "translate",
        "body": "Hello. Unplug the router for thirty seconds and plug it back in. The weather is nice today."})
    row = CopilotSuggestion.objects.get(kind="rewrite")
    assert row.text == ("Hola. Desenchufe el router durante treinta segundos y vuelva a enchufarlo. "
                        "The weather is nice today.")
    assert row.sources[0]["document_id"] == kb.extra["docs"]["es"].pk
    html = response.content.decode()
    assert "1 of 3 sentences were left as written" in html


def test_offline_translation_never_uses_documents_of_other_departments(kb):
    from apps.copilot.services import allowed_documents

    conv = chat(kb, text="hi")
    allowed = allowed_documents(kb.collab_a, conv)
    assert kb.extra["docs"]["sales"].pk not in allowed
    assert local.parallel("Offer the secret welcome discount code ZEBRA-42 on the router upgrade.", "en", "es",
                          allowed) is None


def test_local_rules_spanish():
    assert local.formalise("hola, podés reiniciar tu router?", "es") == \
        "Buen día, puede reiniciar su router? Saludos cordiales."
    assert local.shorten("Básicamente tenés que esperar. Después reiniciá. Después escribinos.", "es") == \
        "Tenés que esperar. Después reiniciá."
    assert local.translate("Muchas gracias.", "es", "en", [])[0] == "Thank you very much."


def test_panel_speaks_spanish(kb):
    from django.test import Client

    conv = chat(kb, text="hola")
    c = Client(HTTP_ACCEPT_LANGUAGE="es")
    c.force_login(kb.collab_a)
    html = c.get(reverse("copilot-panel", args=[conv.pk])).content.decode()
    assert "Respuesta sugerida" in html and "Asistente sin conexión" in html


def test_faq_drafts_keep_only_the_answer():
    assert local.faq_answer("Q: ¿Los planes tienen límite?\nA: No, todos son sin límite.") == "No, todos son sin límite."
    assert local.faq_answer("Plain text.") == "Plain text."
    assert local.formalise("Q: dale", "es") == "Q: de acuerdo. Saludos cordiales."
