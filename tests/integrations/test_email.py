"""Email channel: parsing and threading (our eml fixtures in tests/fixtures/email-eml: References,
two In-Reply-To ids folded over two lines, no In-Reply-To — see tests/fixtures/README.md), quoted-reply stripping, HTML sanitising, loop prevention, the
inbound-MIME endpoint, outbound SMTP against a real local aiosmtpd server, and IMAP polling
against a tiny local IMAP stand-in."""
from __future__ import annotations

import email
import email.policy
import re
import socket
import socketserver
import threading
import time

import pytest
from django.test import Client

from apps.conversations import services
from apps.conversations.models import Channel, Message
from apps.integrations.channels import email as email_channel
from apps.integrations.inbound import email_poll_all, inbound_process
from apps.integrations.models import InboundWebhook
from apps.integrations.outbound import deliver_message

from .conftest import fixture_path


def eml(name: str) -> bytes:
    return fixture_path("email-eml", name).read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            self.messages.append(envelope)
            return "250 OK"

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port
    yield sink
    controller.stop()


@pytest.fixture
def mail_channel(cast, monkeypatch, smtp_server):
    monkeypatch.setenv("MAIL_TEST_INBOUND", "relay-secret")
    monkeypatch.setenv("MAIL_TEST_IMAP", "imap-pass")
    return Channel.objects.create(
        name="Mail", kind=Channel.Kind.EMAIL, default_department=cast.default,
        config={"address": "care@example.com", "inbound_secret_env": "MAIL_TEST_INBOUND",
                "smtp_host": "127.0.0.1", "smtp_port": smtp_server.port,
                "imap_password_env": "MAIL_TEST_IMAP", "imap_user": "care"})


def test_fixture_headers_parse():
    p = email_channel.parse(eml("multiple_in_reply_to.eml"))
    assert p.in_reply_to == ["<case-100.thread-a@care.example.com>", "<case-100.thread-b@care.example.com>"]
    assert p.message_id == "<7A1C55E0-1111-4DA0-9C88-AB12CD34EF56@fibrasur.example>"
    assert p.from_addr == "lucia@fibrasur.example" and p.text == "Here are the photos of the router lights"
    p = email_channel.parse(eml("references.eml"))
    assert p.references == ["<case-100.root@care.example.com>", "<test-in-reply-to>"]
    p = email_channel.parse(eml("only_text.eml"))
    assert p.in_reply_to == [] and p.text == "text only mail" and not p.ignored_reason
    p = email_channel.parse(eml("mail_with_references.eml"))
    assert "<test-reference-id>" in p.references and p.subject.startswith("Discussion")


def test_quoted_replies_are_stripped():
    text = ("Sí, ya funciona, gracias.\n\nEl mar, 3 jun 2025 a las 10:00, Soporte <care@example.com> escribió:\n"
            "> ¿Podés reiniciar el módem?\n> Saludos")
    assert email_channel.strip_quoted(text) == "Sí, ya funciona, gracias."
    text = "Thanks!\n\nOn Tue, Jun 3, 2025 at 10:00 AM Support <care@example.com> wrote:\n> old"
    assert email_channel.strip_quoted(text) == "Thanks!"
    text = "New info\n-----Original Message-----\nFrom: x\nold stuff"
    assert email_channel.strip_quoted(text) == "New info"
    assert email_channel.strip_quoted("Hello\n-- \nMy signature") == "Hello"


def test_html_is_sanitised_to_text():
    html = ('<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>'
            '<p>Hola <b>equipo</b>,</p><p>mi <a href="javascript:x">router</a> &lt;no&gt; anda.</p>'
            '<div class="gmail_quote">On Mon wrote: old</div><blockquote>old quote</blockquote></body></html>')
    text = email_channel.html_to_text(html)
    assert "alert" not in text and "color" not in text and "old" not in text and "<" not in text.replace("<no>", "")
    assert "Hola equipo," in text and "router <no> anda." in text


def _mail(headers: dict, body: str = "Hola, no tengo internet") -> bytes:
    lines = [f"{k}: {v}" for k, v in {"From": "Carla <carla@cliente.com>", "To": "care@example.com",
                                       "Subject": "Sin internet", "Message-ID": "<m1@cliente.com>", **headers}.items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.mark.parametrize("headers", [
    {"Auto-Submitted": "auto-replied"}, {"X-Autoreply": "yes"}, {"Precedence": "bulk"},
    {"From": "MAILER-DAEMON@mx.example.com"}, {"Return-Path": "<>"},
    {"Content-Type": 'multipart/report; report-type=delivery-status; boundary="b"'},
])
def test_auto_replies_and_bounces_are_ignored(headers):
    assert email_channel.parse(_mail(headers)).ignored_reason


@pytest.mark.django_db
def test_threading_by_our_message_id_and_reply_token(mail_channel, smtp_server, cast):
    msg, outcome = email_channel.ingest(channel=mail_channel, raw=_mail({}))
    assert outcome == "created" and msg.conversation.subject == "Sin internet"
    conv = msg.conversation
    assert conv.contact.email == "carla@cliente.com"
    # The same mail again: stored once.
    assert email_channel.ingest(channel=mail_channel, raw=_mail({}))[1] == "duplicate"
    assert conv.messages.count() == 1
    # Our reply goes out over SMTP with threading headers.
    reply = services.message_post_agent(conversation=conv, body="¿Probaste reiniciar el módem?")
    deliver_message(message_id=reply.pk)
    reply.refresh_from_db()
    assert reply.delivery_status == "sent" and reply.external_id.startswith("<")
    sent = email.message_from_bytes(smtp_server.messages[-1].content, policy=email.policy.default)
    assert sent["In-Reply-To"] == "<m1@cliente.com>" and "<m1@cliente.com>" in sent["References"]
    assert sent["Message-ID"] == reply.external_id and sent["Subject"] == "Re: Sin internet"
    assert sent["Auto-Submitted"] == "auto-replied"  # the AI's mail must not trigger autoresponders
    assert smtp_server.messages[-1].rcpt_tos == ["carla@cliente.com"]
    reply_to = sent["Reply-To"]
    assert re.match(r"care\+c\d+-[0-9a-f]{16}@example\.com", reply_to)
    # The customer answers our Message-ID (quoted text stripped) ...
    answer = _mail({"Message-ID": "<m2@cliente.com>", "In-Reply-To": reply.external_id, "Subject": "Re: Sin internet"},
                   "Ya lo reinicié.\n\nOn Tue, Carla wrote:\n> ¿Probaste reiniciar el módem?")
    m2, _ = email_channel.ingest(channel=mail_channel, raw=answer)
    assert m2.conversation == conv and m2.body == "Ya lo reinicié."
    # ... or writes to the reply+token address without any threading header.
    m3, _ = email_channel.ingest(channel=mail_channel, raw=_mail(
        {"Message-ID": "<m3@cliente.com>", "To": reply_to, "Subject": "otra cosa"}))
    assert m3.conversation == conv
    # Someone else writing to it (a forwarded mail) starts a conversation of their own
    # (tests/security/test_email_threading.py covers the spoofed Message-ID cases).
    m3b, _ = email_channel.ingest(channel=mail_channel, raw=_mail(
        {"Message-ID": "<m3b@cliente.com>", "To": reply_to, "Subject": "otra cosa", "From": "otro@cliente.com"}))
    assert m3b.conversation != conv and m3b.conversation.contact.email == "otro@cliente.com"
    # A tampered token does not thread.
    forged = reply_to.replace(reply_to.split("-")[1][:4], "0000")
    m4, _ = email_channel.ingest(channel=mail_channel, raw=_mail(
        {"Message-ID": "<m4@cliente.com>", "To": forged, "Subject": "nuevo", "From": "x@cliente.com"}))
    assert m4.conversation != conv


@pytest.mark.django_db
def test_inbound_mime_endpoint(mail_channel):
    url = f"/webhooks/email/{mail_channel.pk}/"
    raw = eml("only_text.eml")
    assert Client().post(url, data=raw, content_type="message/rfc822").status_code == 401
    assert Client().post(url, data=raw, content_type="message/rfc822",
                         HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().post("/webhooks/email/99999/", data=raw, content_type="message/rfc822",
                         HTTP_AUTHORIZATION="Bearer relay-secret").status_code == 404
    bad = Client().post(url, data=b"not a mail", content_type="message/rfc822", HTTP_AUTHORIZATION="Bearer relay-secret")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed_mime"
    assert not InboundWebhook.objects.exists()
    ok = Client().post(url, data=raw, content_type="message/rfc822", HTTP_AUTHORIZATION="Bearer relay-secret")
    assert ok.status_code == 200
    inbound_process(inbound_id=InboundWebhook.objects.get().pk)
    msg = Message.objects.get(channel=mail_channel)
    assert msg.body == "text only mail" and msg.external_id == "<t1@fibrasur.example>"
    # Auto-reply through the endpoint: accepted (so the relay stops retrying) but no message.
    auto = _mail({"Auto-Submitted": "auto-replied", "Message-ID": "<ooo@x>"})
    Client().post(url, data=auto, content_type="message/rfc822", HTTP_AUTHORIZATION="Bearer relay-secret")
    inbound_process(inbound_id=InboundWebhook.objects.latest("id").pk)
    assert Message.objects.filter(channel=mail_channel).count() == 1


class _ImapStandIn(socketserver.ThreadingTCPServer):
    """Just enough IMAP4rev1 for imaplib: LOGIN, SELECT, SEARCH UNSEEN, FETCH RFC822, STORE, LOGOUT."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, mails: list[bytes]):
        self.mails = mails
        self.seen: set[int] = set()
        self.logins: list[tuple[str, str]] = []
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"* OK IMAP4rev1 stand-in ready\r\n")
                for line in self.rfile:
                    tag, _, rest = line.decode().strip().partition(" ")
                    cmd, _, args = rest.partition(" ")
                    cmd = cmd.upper()
                    out = b""
                    if cmd == "CAPABILITY":
                        out = b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"
                    elif cmd == "LOGIN":
                        server.logins.append(tuple(a.strip('"') for a in args.split(" ", 1)))
                    elif cmd == "SELECT":
                        out = f"* {len(server.mails)} EXISTS\r\n".encode()
                    elif cmd == "SEARCH":
                        nums = [str(i + 1) for i in range(len(server.mails)) if i + 1 not in server.seen]
                        out = ("* SEARCH " + " ".join(nums)).rstrip().encode() + b"\r\n"
                    elif cmd == "FETCH":
                        num = int(args.split(" ", 1)[0])
                        data = server.mails[num - 1]
                        out = f"* {num} FETCH (RFC822 {{{len(data)}}}\r\n".encode() + data + b")\r\n"
                    elif cmd == "STORE":
                        server.seen.add(int(args.split(" ", 1)[0]))
                    elif cmd == "LOGOUT":
                        self.wfile.write(b"* BYE\r\n" + f"{tag} OK LOGOUT\r\n".encode())
                        return
                    self.wfile.write(out + f"{tag} OK {cmd} completed\r\n".encode())

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.mark.django_db
def test_imap_polling_against_local_stand_in(mail_channel):
    server = _ImapStandIn([_mail({}), _mail({"Message-ID": "<m9@cliente.com>", "Subject": "Otro"}, "Segundo"),
                           _mail({"Auto-Submitted": "auto-replied", "Message-ID": "<ooo@x>"})])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        mail_channel.config.update({"imap_host": "127.0.0.1", "imap_port": server.server_address[1], "imap_ssl": False})
        mail_channel.save()
        assert email_poll_all() == 3
        assert server.logins == [("care", "imap-pass")] and server.seen == {1, 2, 3}
        assert sorted(Message.objects.filter(channel=mail_channel).values_list("body", flat=True)) == [
            "Hola, no tengo internet", "Segundo"]
        assert email_poll_all() == 0  # everything is seen now
    finally:
        server.shutdown()
        server.server_close()


def _with_files(files) -> bytes:
    """tests/fixtures/email-eml/only_text.eml with attachments added (the standard library's MIME)."""
    import email
    import email.policy

    msg = email.message_from_bytes(eml("only_text.eml"), policy=email.policy.default)
    for name, data, maintype, subtype in files:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


def test_email_attachments_are_stored_and_refused_ones_named(mail_channel, settings):
    """A photo and a PDF become attachments; a "PDF" that is HTML is refused with the reason and
    the mail (its text and the good files) is kept."""
    from apps.conversations.models import Attachment
    from apps.integrations.channels.email import ingest, parse

    photo = fixture_path("router-lights.jpg").read_bytes()
    pdf = fixture_path("bill.pdf").read_bytes()
    raw = _with_files([("luces.jpg", photo, "image", "jpeg"), ("factura.pdf", pdf, "application", "pdf"),
                       ("trampa.pdf", b"<html><script>x()</script></html>", "application", "pdf")])
    assert [name for name, _d in parse(raw).files] == ["luces.jpg", "factura.pdf", "trampa.pdf"]
    msg, outcome = ingest(channel=mail_channel, raw=raw)
    assert outcome == "created" and msg.body == "text only mail"
    stored = {a.name: (a.content_type, a.size) for a in Attachment.objects.filter(message=msg)}
    assert stored == {"luces.jpg": ("image/jpeg", len(photo)), "factura.pdf": ("application/pdf", len(pdf))}
    msg.refresh_from_db()
    assert [r["name"] for r in msg.meta["attachments_refused"]] == ["trampa.pdf"]
    # A mail with only a file is a message too (not "empty"), named after the file.
    only = email_only_file(pdf)
    msg2, outcome2 = ingest(channel=mail_channel, raw=only)
    assert outcome2 == "created" and "factura2.pdf" in msg2.body
    assert Attachment.objects.filter(message=msg2, name="factura2.pdf").exists()


def email_only_file(pdf: bytes) -> bytes:
    from email.message import EmailMessage

    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "lucia@fibrasur.example", "care@example.com", "Factura"
    m["Message-ID"] = "<only-file@fibrasur.example>"
    m.add_attachment(pdf, maintype="application", subtype="pdf", filename="factura2.pdf")
    return m.as_bytes()
