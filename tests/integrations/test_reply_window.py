"""Meta's messaging windows, enforced once in ``message_send_human`` for every entry point: the
inbox shows a clear error (and a banner with a disabled composer), the API answers 409 with the
usual error body, and nothing is stored."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.conversations import services
from apps.conversations.models import Channel, Conversation, Message, Status
from apps.core.errors import WindowClosed
from tests.factories import conversation_in

from .conftest import token_client

pytestmark = pytest.mark.django_db


def _on(cast, kind: str, *, last_customer_message_ago: timedelta | None) -> Conversation:
    cast.channel.kind = kind
    cast.channel.config = {"phone_number_id": "1", "page_id": "2", "ig_id": "3"}
    cast.channel.save()
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    last = timezone.now() - last_customer_message_ago if last_customer_message_ago is not None else None
    Conversation.objects.filter(pk=conv.pk).update(last_customer_message_at=last)
    return Conversation.objects.get(pk=conv.pk)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_inbox_reply_after_24h_shows_the_error_and_stores_nothing(cast):
    conv = _on(cast, Channel.Kind.WHATSAPP, last_customer_message_ago=timedelta(hours=25))
    before = Message.objects.count()
    resp = _client(cast.collab_a).post(reverse("conversation-reply", args=[conv.pk]), {"body": "¿Seguís ahí?"},
                                       follow=True)
    assert resp.status_code == 200
    page = resp.content.decode()
    assert "24 horas" in page  # the translated reason, in the flash area
    assert any("24" in str(m) and m.level_tag == "error" for m in resp.context["messages"])
    assert Message.objects.count() == before
    conv.refresh_from_db()
    assert conv.status == Status.ASSIGNED  # the failed reply did not start the conversation either


def test_conversation_page_explains_the_closed_window_and_disables_the_composer(cast):
    conv = _on(cast, Channel.Kind.WHATSAPP, last_customer_message_ago=timedelta(hours=30))
    page = _client(cast.collab_a).get(reverse("conversation-detail", args=[conv.pk])).content.decode()
    assert 'id="reply-window-closed"' in page and "24 horas" in page
    assert '<fieldset class="reply-fields" disabled aria-describedby="reply-window-closed">' in page
    assert 'data-live-what="conversation message"' in page  # the customer's next message re-enables it
    # The customer writes again: the window is open and the composer is enabled.
    services.message_receive(channel=conv.channel, contact=conv.contact, body="Sigo acá", conversation=conv)
    page = _client(cast.collab_a).get(reverse("conversation-detail", args=[conv.pk])).content.decode()
    assert 'id="reply-window-closed"' not in page and '<fieldset class="reply-fields">' in page
    resp = _client(cast.collab_a).post(reverse("conversation-reply", args=[conv.pk]), {"body": "¡Genial!"})
    assert resp.status_code == 302 and conv.messages.filter(author_kind="human", body="¡Genial!").exists()


def test_api_reply_after_24h_is_409_with_the_error_body_and_stores_nothing(cast):
    conv = _on(cast, Channel.Kind.WHATSAPP, last_customer_message_ago=timedelta(hours=25))
    before = Message.objects.count()
    resp = token_client(cast.collab_a).post(f"/api/v1/conversations/{conv.pk}/messages/", {"body": "hola"},
                                            format="json")
    assert resp.status_code == 409
    body = resp.json()
    assert set(body) == {"error"} and body["error"]["code"] == "window_closed"
    assert body["error"]["fields"] == {} and "24" in body["error"]["message"]
    assert Message.objects.count() == before
    # An internal note never reaches the customer: always allowed.
    note = token_client(cast.collab_a).post(f"/api/v1/conversations/{conv.pk}/messages/",
                                            {"body": "cliente sin responder", "is_internal": True}, format="json")
    assert note.status_code == 201


def test_api_integration_posts_follow_the_same_window(cast):
    from apps.integrations.models import Integration
    from tests.factories import make_user

    conv = _on(cast, Channel.Kind.WHATSAPP, last_customer_message_ago=timedelta(hours=25))
    bot = make_user("crm-bot", "operator")
    client = token_client(bot, integration=Integration.objects.create(name="CRM", user=bot))
    resp = client.post(f"/api/v1/conversations/{conv.pk}/messages/", {"body": "Recordatorio", "as_integration": True},
                       format="json")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "window_closed"
    assert not conv.messages.filter(author_kind="system").exists()


@pytest.mark.parametrize("kind", [Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM])
def test_messenger_and_instagram_human_replies_have_the_human_agent_week(cast, kind):
    """Meta lets a human agent answer for 7 days (HUMAN_AGENT tag, what meta.send uses); after that, refused."""
    conv = _on(cast, kind, last_customer_message_ago=timedelta(days=3))
    services.message_send_human(conversation=conv, user=cast.collab_a, body="Perdón la demora")
    Conversation.objects.filter(pk=conv.pk).update(last_customer_message_at=timezone.now() - timedelta(days=8))
    with pytest.raises(WindowClosed):
        services.message_send_human(conversation=conv, user=cast.collab_a, body="¿Hola?")
    assert conv.messages.filter(author_kind="human").count() == 1


def test_web_chat_has_no_window(cast):
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    Conversation.objects.filter(pk=conv.pk).update(last_customer_message_at=timezone.now() - timedelta(days=30))
    msg = services.message_send_human(conversation=conv, user=cast.collab_a, body="Hola de nuevo")
    assert msg.pk and msg.author_kind == "human"


def test_reply_rights_are_still_checked(cast):
    conv = _on(cast, Channel.Kind.WHATSAPP, last_customer_message_ago=timedelta(hours=1))
    from apps.core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        services.message_send_human(conversation=conv, user=cast.collab_b, body="no es mío")
    assert not conv.messages.filter(author=cast.collab_b).exists()
