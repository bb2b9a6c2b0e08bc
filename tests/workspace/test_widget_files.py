"""Files from the customer's web chat (issue 15): upload with the visitor token, the AI Agent lets a
file alone pass without answering it, staff open it through visibility, the customer by a signed link."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.conversations.models import Attachment, ConversationEvent, Message, Status
from apps.workspace import widget
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ORIGIN = "http://testserver"


@pytest.fixture(autouse=True)
def _attachments_root(settings, tmp_path):
    settings.ATTACHMENTS_ROOT = tmp_path / "attachments"


@pytest.fixture
def channel(cast):
    cast.channel.config = {"public_key": "pk-files", "allowed_origins": [ORIGIN]}
    cast.channel.save(update_fields=["config"])
    return cast.channel


def hello_token(channel) -> str:
    return widget.visitor_authenticate(channel, language="es").token


def upload(client, *, token, name="router-lights.jpg", data=None, client_id="f1", key="pk-files", origin=ORIGIN):
    file = SimpleUploadedFile(name, data if data is not None else (FIXTURES / name).read_bytes())
    return client.post(reverse("workspace-widget-upload"), {"key": key, "token": token, "client_id": client_id,
                                                             "language": "es", "file": file}, HTTP_ORIGIN=origin)


def test_a_customer_sends_a_photo_and_the_agent_opens_it(cast, channel, client, django_capture_on_commit_callbacks):
    token = hello_token(channel)
    with django_capture_on_commit_callbacks(execute=True):
        resp = upload(client, token=token)
    assert resp.status_code == 200, resp.content
    assert resp["Access-Control-Allow-Origin"] == ORIGIN
    msg = Message.objects.get(pk=resp.json()["id"])
    assert msg.author_kind == "customer" and msg.body == "📎 router-lights.jpg" and msg.meta["attachments_only"]
    att = msg.attachments.get()
    # The AI Agent does not answer a file alone (no reply, no decision, no handoff): it waits for words.
    assert msg.conversation.status == Status.BOT
    assert not Message.objects.filter(conversation=msg.conversation, author_kind="ai_agent").exists()
    assert not ConversationEvent.objects.filter(conversation=msg.conversation, kind="agent_decision").exists()
    # ...and the lost-turn sweep does not take the silence for a lost turn.
    from datetime import timedelta

    from django.utils import timezone

    from apps.agent.reconcile import turns_requeue

    assert turns_requeue(now=timezone.now() + timedelta(minutes=10)) == 0
    # The same upload again (a retry) stores nothing twice.
    assert upload(client, token=token).json()["id"] == msg.pk and Attachment.objects.count() == 1
    # Staff: the Operator sees the chat, so the file; a Collaborator without the chat gets 404.
    assert client.login(username=cast.operator.username, password=PASSWORD)
    assert client.get(reverse("workspace-attachment", args=[att.pk])).status_code == 200
    client.logout()
    assert client.login(username=cast.collab_b.username, password=PASSWORD)
    assert client.get(reverse("workspace-attachment", args=[att.pk])).status_code == 404
    client.logout()
    # The customer: the widget's sync carries a signed link to their own file.
    visitor = widget.visitor_authenticate(channel, token=token)
    synced = widget.visitor_sync(visitor)["messages"]
    files = next(m["files"] for m in synced if m["id"] == msg.pk)
    assert files[0]["name"] == "router-lights.jpg" and files[0]["type"] == "image/jpeg"
    got = client.get(files[0]["url"])
    assert got.status_code == 200 and b"".join(got.streaming_content) == (FIXTURES / "router-lights.jpg").read_bytes()
    assert client.get(files[0]["url"].replace("/files/", "/files/x")).status_code == 404  # tampered link


def test_uploads_need_the_hello_token_an_allowed_origin_and_a_real_file(cast, channel, client):
    token = hello_token(channel)
    assert upload(client, token="forged").status_code == 403
    assert upload(client, token=token, origin="https://evil.example").status_code == 403
    assert upload(client, token=token, key="nope").status_code == 403
    bad = upload(client, token=token, name="bill.pdf", data=b"<html>not a pdf</html>")
    assert bad.status_code == 400 and "PDF" in bad.json()["error"]
    assert not Message.objects.exists() and not Attachment.objects.exists()
    assert upload(client, token=token, client_id="bad id!").status_code == 400


def test_a_note_file_never_reaches_the_customer(cast, channel, client):
    token = hello_token(channel)
    conv_id = upload(client, token=token).json()["conversation"]
    from apps.conversations import attachments, services

    note = services.message_add_note(conversation=conv_id, user=cast.operator, body="factura interna")
    internal = attachments.attachment_store(message=note, file=attachments.attachment_check(
        name="bill.pdf", data=(FIXTURES / "bill.pdf").read_bytes()))
    visitor = widget.visitor_authenticate(channel, token=token)
    synced = widget.visitor_sync(visitor)["messages"]
    assert all(m["id"] != note.pk for m in synced)
    from apps.workspace import widget_files

    assert widget_files.attachment_from_link(widget_files.link_for(internal, visitor.contact_id).split("/")[-2]) is None


def test_a_visitor_whose_first_message_is_a_file_is_bound_on_the_next_sync(cast, channel, client):
    visitor = widget.visitor_authenticate(channel, token=hello_token(channel))
    assert visitor.contact_id is None
    upload(client, token=visitor.token)
    fresh = widget.visitor_refresh(visitor)
    assert fresh.contact_id is not None
    assert [m["body"] for m in widget.visitor_sync(fresh)["messages"]] == ["📎 router-lights.jpg"]
