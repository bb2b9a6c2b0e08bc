"""Media from WhatsApp, Messenger and Instagram become attachments (issue 15), against a local
stand-in speaking the Graph API's wire format: ``GET /{media id}`` answers the file's short-lived
URL, size and checksum, and that URL gives the bytes (both with the channel's token). Webhook
bodies are the fixtures in tests/fixtures/ (whatsapp-cloud/message.json#image,
meta-constructed/examples.json#messenger_attachment_image). A failed download loses nothing: the
message is stored with its placeholder and a retryable state; a refused file says why."""
from __future__ import annotations

import copy
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from apps.conversations.models import Attachment, Channel, Message
from apps.integrations import media
from apps.integrations.channels import meta as meta_channel
from apps.integrations.channels import whatsapp

from .conftest import load_json

PHOTO = (Path(__file__).resolve().parents[1] / "fixtures" / "router-lights.jpg").read_bytes()
PDF = (Path(__file__).resolve().parents[1] / "fixtures" / "bill.pdf").read_bytes()
MEDIA_ID = "1000000001"


@pytest.fixture
def wa(cast, monkeypatch, stand_in):
    monkeypatch.setenv("WA_TEST_TOKEN", "EAAG-token")
    return Channel.objects.create(
        name="WhatsApp", kind=Channel.Kind.WHATSAPP, default_department=cast.default,
        config={"phone_number_id": "1122334455667", "access_token_env": "WA_TEST_TOKEN",
                "graph_base_url": stand_in.url + "/v21.0"})


def graph_media(stand_in, data: bytes, *, mime="image/jpeg", size=None, sha=None, file_code=200):
    """What Graph answers for the media id, and the file behind its URL."""
    stand_in.files[f"/v21.0/{MEDIA_ID}"] = (200, "application/json", json.dumps({
        "messaging_product": "whatsapp", "id": MEDIA_ID, "mime_type": mime,
        "sha256": sha or hashlib.sha256(data).hexdigest(), "file_size": len(data) if size is None else size,
        "url": f"{stand_in.url}/whatsapp_business/attachments/?mid={MEDIA_ID}&ext=1"}).encode())
    stand_in.files[f"/whatsapp_business/attachments/?mid={MEDIA_ID}&ext=1"] = (file_code, mime, data)


def receive_image(wa, django_capture_on_commit_callbacks) -> Message:
    body = load_json("whatsapp-cloud", "message.json")["image"]
    with django_capture_on_commit_callbacks(execute=True):
        whatsapp.process(channel=wa, payload=body)
    return Message.objects.get(channel=wa, external_id="wamid.xyzxyz")


def test_a_whatsapp_photo_is_downloaded_with_the_token_and_stored(wa, stand_in, django_capture_on_commit_callbacks):
    graph_media(stand_in, PHOTO)
    msg = receive_image(wa, django_capture_on_commit_callbacks)
    att = Attachment.objects.get(message=msg)
    assert (att.content_type, att.size, att.sha256) == ("image/jpeg", len(PHOTO), hashlib.sha256(PHOTO).hexdigest())
    assert msg.body.endswith("] the router")  # the placeholder and caption stay searchable
    assert msg.meta["media_fetch"]["state"] == "stored"
    gets = [r for r in stand_in.requests if r.get("method") == "GET"]
    assert [r["path"].split("?")[0] for r in gets] == [f"/v21.0/{MEDIA_ID}", "/whatsapp_business/attachments/"]
    assert all(r["headers"]["Authorization"] == "Bearer EAAG-token" for r in gets)
    # Idempotent: asking again fetches nothing more.
    assert media.media_fetch(msg.pk) == "stored" and Attachment.objects.filter(message=msg).count() == 1


def test_a_failed_download_keeps_the_message_and_is_retried_by_the_sweep(wa, stand_in, cast,
                                                                         django_capture_on_commit_callbacks):
    graph_media(stand_in, PHOTO, file_code=500)
    msg = receive_image(wa, django_capture_on_commit_callbacks)
    state = msg.meta["media_fetch"]
    assert state["state"] == "failed" and state["attempts"] == 1 and "500" in state["error"]
    assert not Attachment.objects.filter(message=msg).exists()
    assert msg.conversation.messages.filter(author_kind="customer").count() == 1  # nothing lost
    # Not due yet: the sweep leaves it; once due (and the provider answers), it is stored.
    with django_capture_on_commit_callbacks(execute=True):
        assert media.media_sweep() == 0
    graph_media(stand_in, PHOTO)
    with django_capture_on_commit_callbacks(execute=True):
        assert media.media_sweep(now=timezone.now() + timedelta(hours=1)) == 1
    msg.refresh_from_db()
    assert msg.meta["media_fetch"] == {"state": "stored", "attempts": 2}
    assert Attachment.objects.get(message=msg).size == len(PHOTO)


def test_a_damaged_download_is_not_stored(wa, stand_in, django_capture_on_commit_callbacks):
    graph_media(stand_in, PHOTO, sha="0" * 64)
    msg = receive_image(wa, django_capture_on_commit_callbacks)
    assert msg.meta["media_fetch"]["state"] == "failed" and "checksum" in msg.meta["media_fetch"]["error"]
    from django.utils import translation

    with translation.override("es"):  # each reader gets the reason in their language
        assert "suma de verificación" in media.media_error_text(msg.meta["media_fetch"])
    assert not Attachment.objects.exists()


def test_files_the_limits_refuse_say_why_and_are_not_retried(wa, stand_in, settings, django_capture_on_commit_callbacks):
    # Too large by Graph's own figure: the file itself is never downloaded.
    settings.ATTACHMENT_MAX_BYTES = 1000
    graph_media(stand_in, PHOTO, size=5_000_000)
    msg = receive_image(wa, django_capture_on_commit_callbacks)
    assert msg.meta["media_fetch"]["state"] == "refused" and "limit" in msg.meta["media_fetch"]["error"]
    assert not any("attachments" in r["path"] for r in stand_in.requests)
    with django_capture_on_commit_callbacks(execute=True):
        assert media.media_sweep(now=timezone.now() + timedelta(days=1)) == 0


def test_a_document_that_is_not_a_pdf_is_refused(wa, stand_in, django_capture_on_commit_callbacks):
    body = copy.deepcopy(load_json("whatsapp-cloud", "message.json")["document"])
    doc = body["entry"][0]["changes"][0]["value"]["messages"][0]
    doc["document"]["id"] = MEDIA_ID
    html = b"<html><script>alert(1)</script></html>"
    graph_media(stand_in, html, mime="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        whatsapp.process(channel=wa, payload=body)
    msg = Message.objects.get(channel=wa, external_id=doc["id"])
    assert msg.meta["media_fetch"]["state"] == "refused"
    assert "PDF" in msg.meta["media_fetch"]["error"] and not Attachment.objects.exists()


@pytest.fixture
def messenger(cast, stand_in):
    return Channel.objects.create(name="FB", kind=Channel.Kind.MESSENGER, default_department=cast.default,
                                  config={"page_id": "111111111111111", "graph_base_url": stand_in.url + "/v21.0"})


def test_a_messenger_attachment_is_downloaded_from_its_url(messenger, stand_in, django_capture_on_commit_callbacks):
    body = copy.deepcopy(load_json("meta-constructed", "examples.json")["messenger_attachment_image"])
    # The webhook's CDN URL, served here by the stand-in on the Graph base.
    body["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"] = \
        f"{stand_in.url}/v21.0/cdn/bill.pdf"
    body["entry"][0]["messaging"][0]["message"]["attachments"][0]["type"] = "file"
    stand_in.files["/v21.0/cdn/bill.pdf"] = (200, "application/pdf", PDF)
    with django_capture_on_commit_callbacks(execute=True):
        meta_channel.process(channel=messenger, payload=body)
    msg = Message.objects.get(channel=messenger, external_id="m_AAAA5")
    att = Attachment.objects.get(message=msg)
    assert (att.name, att.content_type, att.size) == ("bill.pdf", "application/pdf", len(PDF))


def test_a_media_url_off_the_graph_base_must_be_public_https(messenger, django_capture_on_commit_callbacks):
    body = copy.deepcopy(load_json("meta-constructed", "examples.json")["messenger_attachment_image"])
    body["entry"][0]["messaging"][0]["message"]["attachments"][0]["payload"]["url"] = "http://10.0.0.7/x.jpg"
    with django_capture_on_commit_callbacks(execute=True):
        meta_channel.process(channel=messenger, payload=body)
    msg = Message.objects.get(channel=messenger, external_id="m_AAAA5")
    assert msg.meta["media_fetch"]["state"] == "refused" and "https" in msg.meta["media_fetch"]["error"]


def test_the_agent_sees_the_state_and_retries_only_chats_they_see(wa, stand_in, cast, client,
                                                                  django_capture_on_commit_callbacks):
    """The conversation shows a failed download with a retry button; "Try again now" fetches it for
    whoever sees the chat, and a Collaborator of another department gets a 404."""
    from apps.conversations import services
    from apps.conversations.models import Conversation, Status

    graph_media(stand_in, PHOTO, file_code=503)
    msg = receive_image(wa, django_capture_on_commit_callbacks)
    conv = Conversation.objects.get(pk=msg.conversation_id)
    if conv.status == Status.BOT:
        services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    client.force_login(cast.operator)
    page = client.get(f"/conversations/{conv.pk}/").content.decode()
    assert f'id="media-{msg.pk}"' in page and 'data-media-state="failed"' in page
    client.force_login(cast.collab_b)
    assert client.post(f"/workspace/messages/{msg.pk}/media-retry/").status_code == 404
    graph_media(stand_in, PHOTO)
    client.force_login(cast.operator)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/workspace/messages/{msg.pk}/media-retry/").status_code == 302
    assert Attachment.objects.filter(message=msg).count() == 1
    assert f'id="media-{msg.pk}"' not in client.get(f"/conversations/{conv.pk}/").content.decode()
