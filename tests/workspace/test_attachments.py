"""Attachments (issue 15): type by content and size limits, stored outside the web root, served only
through the visibility check (404 for a chat one may not see), thumbnails for images."""
from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from apps.conversations.models import Attachment, Channel, Message, Status
from tests.factories import PASSWORD, conversation_in

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(autouse=True)
def _attachments_root(settings, tmp_path):
    settings.ATTACHMENTS_ROOT = tmp_path / "attachments"
    return settings.ATTACHMENTS_ROOT


def login(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    return client


def upload(name: str, data: bytes | None = None, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data if data is not None else (FIXTURES / name).read_bytes(), content_type)


def post(client, conv, **data):
    return client.post(reverse("conversation-reply", args=[conv.pk]), data, HTTP_HX_REQUEST="true",
                       HTTP_ACCEPT_LANGUAGE="en")


def test_an_agent_sends_a_photo_and_a_pdf_stored_outside_the_web_root(cast, client, settings):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    login(client, cast.collab_a)
    resp = post(client, conv, body="", file=[upload("router-lights.jpg"), upload("bill.pdf")])
    assert resp.status_code == 204, resp.content
    msg = Message.objects.get(conversation=conv, author_kind="human", attachments__isnull=False, attachments__name="bill.pdf")
    assert msg.body == "📎 router-lights.jpg, bill.pdf"
    photo, pdf = msg.attachments.order_by("id")
    assert (photo.content_type, pdf.content_type) == ("image/jpeg", "application/pdf")
    root = Path(settings.ATTACHMENTS_ROOT).resolve()
    for a in (photo, pdf):
        assert (root / a.path).is_file()
        assert str(root) not in str(Path(settings.STATIC_ROOT).resolve()) and not (root / a.path).is_relative_to(
            Path(settings.MEDIA_ROOT).resolve())
    assert photo.thumbnail_path and (root / photo.thumbnail_path).is_file() and not pdf.thumbnail_path
    got = client.get(reverse("workspace-attachment", args=[photo.pk]))
    assert got.status_code == 200 and b"".join(got.streaming_content) == (FIXTURES / "router-lights.jpg").read_bytes()
    assert got["X-Content-Type-Options"] == "nosniff" and "sandbox" in got["Content-Security-Policy"]
    thumb = client.get(reverse("workspace-attachment", args=[photo.pk]), {"thumb": "1"})
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert "attachment" in client.get(reverse("workspace-attachment", args=[pdf.pk]))["Content-Disposition"]
    html = client.get(reverse("workspace-conversation-messages", args=[conv.pk])).content.decode()
    assert f'id="file-{photo.pk}"' in html and 'class="thumb"' in html and f'id="file-{pdf.pk}"' in html


def test_files_of_a_chat_one_may_not_see_are_404(cast, client):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    login(client, cast.collab_a)
    post(client, conv, body="foto", file=[upload("router-lights.jpg")])
    att = Attachment.objects.get()
    client.logout()
    login(client, cast.collab_b)
    assert client.get(reverse("workspace-attachment", args=[att.pk])).status_code == 404
    assert client.get(reverse("workspace-attachment", args=[att.pk + 1000])).status_code == 404
    client.logout()
    assert client.get(reverse("workspace-attachment", args=[att.pk])).status_code == 302  # to the login page


@pytest.mark.parametrize("name,data,why", [
    ("bill.pdf", b"<html><script>alert(1)</script></html>", "Only images"),
    ("router.jpg", b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10, "could not be read"),
    ("empty.png", b"", "empty"),
])
def test_bad_files_are_refused_with_a_clear_error_and_nothing_is_stored(cast, client, name, data, why):
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    before = conv.messages.count()
    resp = post(login(client, cast.collab_a), conv, body="mirá", file=[upload(name, data)])
    assert resp.status_code == 422 and why in resp.content.decode()
    assert conv.messages.count() == before and not Attachment.objects.exists()


def test_size_limit(cast, client, settings):
    settings.ATTACHMENT_MAX_BYTES = 1024
    conv = conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    resp = post(login(client, cast.collab_a), conv, body="x", file=[upload("router-lights.jpg")])
    assert resp.status_code == 422 and "larger than" in resp.content.decode() and not Attachment.objects.exists()


GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
       b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


@pytest.mark.parametrize("kind,name,data,why", [
    (Channel.Kind.INSTAGRAM, "bill.pdf", None, "Files cannot be sent to the customer on this channel"),
    (Channel.Kind.WHATSAPP, "dance.gif", GIF, "WhatsApp accepts images as JPEG or PNG only"),
])
def test_a_file_a_channel_cannot_carry_is_refused_clearly_and_can_go_as_a_note(cast, client, kind, name, data, why):
    channel = Channel.objects.create(name=kind, kind=kind, default_department=cast.default)
    cast.channel = channel
    conv = conversation_in(cast, Status.ASSIGNED, department=cast.dept_a, assignee=cast.collab_a)
    login(client, cast.collab_a)
    resp = post(client, conv, body="", file=[upload(name, data)])
    assert resp.status_code == 422 and why in resp.content.decode()
    assert not Attachment.objects.exists() and not Message.objects.filter(author_kind="human").exists()
    assert post(client, conv, body="", is_internal="1", file=[upload(name, data)]).status_code == 204
    assert Attachment.objects.get().message.is_internal


def test_the_channel_limits_are_checked_before_sending():
    from apps.conversations.attachments import CheckedFile, attachment_channel_check
    from apps.core.errors import InvalidInput

    big_photo = CheckedFile(name="big.jpg", data=b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024), content_type="image/jpeg",
                            extension="jpg")
    with pytest.raises(InvalidInput, match="larger than this channel accepts"):
        attachment_channel_check("whatsapp", [big_photo])
    attachment_channel_check("messenger", [big_photo])  # 25 MB there
    attachment_channel_check("email", [big_photo])
    with pytest.raises(InvalidInput, match="larger than an e-mail can carry"):
        attachment_channel_check("email", [big_photo] * 5)
