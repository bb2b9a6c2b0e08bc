"""An agent's file reaches the customer on WhatsApp, Messenger and e-mail (issue 15).

Each test sends through the inbox's reply box (the same endpoint the agent uses), lets the
outbound delivery run after the commit, and checks what the provider received on the local
stand-in (the Graph wire format: multipart upload, then the send with the media id) or on the local
SMTP server (the MIME attachment), and the message rows. Failures retry like text sends without
uploading the file again.
"""
from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.conversations import services
from apps.conversations.models import Attachment, Channel, Message
from apps.integrations.models import OutboundClaim
from apps.integrations.outbound import deliver_message
from tests.factories import PASSWORD

from .conftest import multipart_fields
from .test_email import smtp_server  # noqa: F401  (the local aiosmtpd fixture)
from .test_outbound_delivery import WA_OK, _channel, _open_conversation

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PHOTO = (FIXTURES / "router-lights.jpg").read_bytes()
PDF = (FIXTURES / "bill.pdf").read_bytes()
CAPTION = "Así deberían verse las luces del router"


@pytest.fixture(autouse=True)
def _setup(monkeypatch, settings, tmp_path, eager_celery):
    monkeypatch.setenv("OUT_TEST_TOKEN", "EAAG-token")
    settings.ATTACHMENTS_ROOT = tmp_path / "attachments"


@pytest.fixture
def reply(cast, django_capture_on_commit_callbacks):
    """The agent's reply box, with files; the delivery task runs after the commit as in production."""
    client = Client()
    assert client.login(username=cast.collab_a.username, password=PASSWORD)

    def send(conv, body="", files=(), **extra):
        data = {"body": body, "file": [SimpleUploadedFile(n, d, "application/octet-stream") for n, d in files], **extra}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("conversation-reply", args=[conv.pk]), data, HTTP_HX_REQUEST="true",
                               HTTP_ACCEPT_LANGUAGE="en")
    return send


def _assigned(cast, kind, stand_in=None, smtp=None):
    conv = _open_conversation(cast, _channel(cast, kind, stand_in, smtp), language="es")
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    services.conversation_enqueue(conversation=conv)
    services.conversation_assign(conversation=conv, assignee=cast.collab_a)
    return conv


def _posts(stand_in, ending):
    return [r for r in stand_in.requests if r.get("method") != "GET" and r["path"].endswith(ending)]


def _sent_message(conv) -> Message:
    return Message.objects.get(conversation=conv, author_kind="human")


# --- WhatsApp Cloud API: upload to /{phone-number-id}/media, then send with the media id ----------------

def test_whatsapp_photo_is_uploaded_then_sent_as_an_image_with_its_caption(cast, stand_in, reply):
    conv = _assigned(cast, Channel.Kind.WHATSAPP, stand_in)
    stand_in.routes["/media"] = [(200, {"id": "4490709327384033"})]
    stand_in.default = (200, WA_OK)
    assert reply(conv, CAPTION, [("router-lights.jpg", PHOTO)]).status_code == 204

    upload, = _posts(stand_in, "/v21.0/1122334455667/media")
    assert upload["headers"]["Authorization"] == "Bearer EAAG-token"
    fields = multipart_fields(upload)
    assert fields["messaging_product"][2] == b"whatsapp" and fields["type"][2] == b"image/jpeg"
    assert fields["file"][0] == "router-lights.jpg" and fields["file"][1] == "image/jpeg" and fields["file"][2] == PHOTO
    send, = _posts(stand_in, "/v21.0/1122334455667/messages")
    body = json.loads(send["body"])
    assert body["type"] == "image" and body["to"] == "5491100000000"
    assert body["image"] == {"id": "4490709327384033", "caption": CAPTION}
    msg = _sent_message(conv)
    claim = OutboundClaim.objects.get(message=msg)
    assert body["biz_opaque_callback_data"] == claim.idempotency_key and claim.finished_at is not None
    assert msg.delivery_status == "sent" and msg.external_id == "wamid.OUT1" and msg.body == CAPTION
    assert Attachment.objects.get(message=msg).name == "router-lights.jpg"  # the file stays in the chat


def test_whatsapp_pdf_alone_goes_as_a_document_with_its_file_name_and_no_caption(cast, stand_in, reply):
    conv = _assigned(cast, Channel.Kind.WHATSAPP, stand_in)
    stand_in.routes["/media"] = [(200, {"id": "MEDIA-PDF"})]
    stand_in.default = (200, WA_OK)
    assert reply(conv, "", [("bill.pdf", PDF)]).status_code == 204
    fields = multipart_fields(_posts(stand_in, "/media")[0])
    assert fields["type"][2] == b"application/pdf" and fields["file"][2] == PDF
    body = json.loads(_posts(stand_in, "/messages")[0]["body"])
    assert body["type"] == "document" and body["document"] == {"id": "MEDIA-PDF", "filename": "bill.pdf"}
    assert _sent_message(conv).delivery_status == "sent"


def test_whatsapp_two_files_one_message_each_and_a_failed_send_retries_without_uploading_again(cast, stand_in, reply):
    conv = _assigned(cast, Channel.Kind.WHATSAPP, stand_in)
    stand_in.routes["/media"] = [(200, {"id": "M-PHOTO"}), (200, {"id": "M-PDF"})]
    stand_in.routes["/messages"] = [(200, {"messages": [{"id": "wamid.PART1"}]}),
                                    (500, {"error": {"message": "temporarily unavailable", "code": 2}})]
    stand_in.default = (200, {"messages": [{"id": "wamid.LAST"}]})
    reply(conv, CAPTION, [("router-lights.jpg", PHOTO), ("bill.pdf", PDF)])
    msg = _sent_message(conv)
    assert msg.delivery_status != "sent" and OutboundClaim.objects.get(message=msg).finished_at is None
    assert len(_posts(stand_in, "/media")) == 2 and len(_posts(stand_in, "/messages")) == 2

    OutboundClaim.objects.filter(message=msg).update(claimed_until=None)  # the retry is due
    assert deliver_message(message_id=msg.pk) == "sent"
    assert len(_posts(stand_in, "/media")) == 2  # the uploaded ids were kept: no second upload
    sends = [json.loads(r["body"]) for r in _posts(stand_in, "/messages")]
    assert len(sends) == 3  # the photo once, the PDF twice (failed, then sent); never the photo again
    assert sends[0]["image"] == {"id": "M-PHOTO", "caption": CAPTION}
    assert sends[1]["document"] == sends[2]["document"] == {"id": "M-PDF", "filename": "bill.pdf"}
    key = OutboundClaim.objects.get(message=msg).idempotency_key
    assert sends[0]["biz_opaque_callback_data"] == f"{key}.1" and sends[2]["biz_opaque_callback_data"] == key
    msg.refresh_from_db()
    assert msg.external_id == "wamid.LAST" and msg.meta["provider_parts"]["sent:file:%d" % (
        Attachment.objects.get(message=msg, name="router-lights.jpg").pk)] == "wamid.PART1"


def test_a_file_the_channel_refuses_at_send_time_fails_visibly_without_calling_the_provider(cast, stand_in):
    """Stored some other way (not through the reply box's check): the delivery checks again."""
    from apps.conversations.attachments import CheckedFile, attachment_store

    conv = _assigned(cast, Channel.Kind.WHATSAPP, stand_in)
    msg = services.message_send_human(conversation=conv, user=cast.collab_a, body="mirá")
    attachment_store(message=msg, file=CheckedFile(name="big.jpg", data=PHOTO + b"0" * (5 * 1024 * 1024),
                                                   content_type="image/jpeg", extension="jpg"))
    assert deliver_message(message_id=msg.pk) == "failed" and not stand_in.requests
    msg.refresh_from_db()
    assert msg.delivery_status == "failed" and "larger than this channel accepts" in msg.meta["delivery_error"]


# --- Messenger: Attachment Upload API, then the Send API with the attachment id; the text apart -------

def test_messenger_photo_is_uploaded_and_sent_by_attachment_id_then_the_text(cast, stand_in, reply):
    conv = _assigned(cast, Channel.Kind.MESSENGER, stand_in)
    stand_in.routes["/message_attachments"] = [(200, {"attachment_id": "1857777774821032"})]
    stand_in.routes["/messages"] = [(200, {"recipient_id": "5491100000000", "message_id": "m_FILE"})]
    stand_in.default = (200, {"recipient_id": "5491100000000", "message_id": "m_TEXT"})
    assert reply(conv, CAPTION, [("router-lights.jpg", PHOTO)]).status_code == 204

    upload, = _posts(stand_in, "/v21.0/111111111111111/message_attachments")
    fields = multipart_fields(upload)
    assert json.loads(fields["message"][2]) == {"attachment": {"type": "image", "payload": {"is_reusable": True}}}
    assert fields["filedata"][0] == "router-lights.jpg" and fields["filedata"][2] == PHOTO
    file_send, text_send = (json.loads(r["body"]) for r in _posts(stand_in, "/v21.0/111111111111111/messages"))
    assert file_send == {"recipient": {"id": "5491100000000"}, "messaging_type": "RESPONSE",
                         "message": {"attachment": {"type": "image", "payload": {"attachment_id": "1857777774821032"}}}}
    assert text_send["message"] == {"text": CAPTION}
    msg = _sent_message(conv)
    assert msg.delivery_status == "sent" and msg.external_id == "m_TEXT"


def test_messenger_pdf_alone_goes_as_a_file_attachment_and_no_text(cast, stand_in, reply):
    conv = _assigned(cast, Channel.Kind.MESSENGER, stand_in)
    stand_in.routes["/message_attachments"] = [(200, {"attachment_id": "ATT-PDF"})]
    stand_in.default = (200, {"message_id": "m_PDF"})
    reply(conv, "", [("bill.pdf", PDF)])
    assert json.loads(multipart_fields(_posts(stand_in, "/message_attachments")[0])["message"][2])[
        "attachment"]["type"] == "file"
    send, = _posts(stand_in, "/messages")
    assert json.loads(send["body"])["message"] == {"attachment": {"type": "file", "payload": {"attachment_id": "ATT-PDF"}}}
    assert _sent_message(conv).external_id == "m_PDF"


def test_instagram_refuses_files_clearly_and_nothing_is_sent(cast, stand_in, reply):
    conv = _assigned(cast, Channel.Kind.INSTAGRAM, stand_in)
    resp = reply(conv, CAPTION, [("router-lights.jpg", PHOTO)])
    assert resp.status_code == 422 and "Instagram" in resp.content.decode()
    assert not stand_in.requests and not Message.objects.filter(conversation=conv, author_kind="human").exists()


def test_a_private_note_with_a_file_reaches_no_provider(cast, stand_in, reply):
    conv = _assigned(cast, Channel.Kind.WHATSAPP, stand_in)
    assert reply(conv, "foto del técnico", [("router-lights.jpg", PHOTO)], is_internal="1").status_code == 204
    assert not stand_in.requests and Attachment.objects.get().message.is_internal


# --- e-mail: the file as a MIME attachment ----------------------------------------------------------------

def test_email_reply_carries_the_files_as_mime_attachments(cast, smtp_server, reply):  # noqa: F811
    conv = _assigned(cast, Channel.Kind.EMAIL, smtp=smtp_server)
    assert reply(conv, CAPTION, [("router-lights.jpg", PHOTO), ("bill.pdf", PDF)]).status_code == 204
    mail, = smtp_server.messages
    parsed = email.message_from_bytes(mail.content, policy=email.policy.default)
    assert parsed.get_body(preferencelist=("plain",)).get_content().strip() == CAPTION
    got = {(p.get_filename(), p.get_content_type()): p.get_payload(decode=True) for p in parsed.iter_attachments()}
    assert got == {("router-lights.jpg", "image/jpeg"): PHOTO, ("bill.pdf", "application/pdf"): PDF}
    msg = _sent_message(conv)
    assert msg.delivery_status == "sent" and msg.external_id == parsed["Message-ID"]
