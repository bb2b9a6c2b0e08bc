"""Email: parsing and threading of inbound mail, IMAP polling, outbound replies over SMTP."""
from __future__ import annotations

import email
import email.policy
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.utils import getaddresses, make_msgid, parseaddr

from django.conf import settings
from django.db import transaction
from django.core.mail import EmailMessage, get_connection
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from apps.conversations import services
from apps.conversations.models import Channel, ContactIdentity, Conversation, Message
from apps.core.errors import ConversationAlreadyOpen
from apps.core.hostile import control_chars_strip

from .common import channel_secret, contact_for_identities, message_files, outbound_text

log = logging.getLogger(__name__)

MSGID_RE = re.compile(r"<[^<>\s]+>")
REPLY_TOKEN_RE = re.compile(r"\+c(\d+)-([0-9a-f]{16})@", re.I)
QUOTE_HEADER_RE = re.compile(
    r"^\s*(On .{0,200} wrote:|El .{0,200} escribi[óo]:|Le .{0,200} a écrit ?:|Am .{0,200} schrieb .{0,80}:|"
    r"-{2,}\s*Original Message\s*-{2,}|-{2,}\s*Mensaje original\s*-{2,}|_{10,})\s*$", re.I | re.M)
FROM_BLOCK_RE = re.compile(r"^\s*(From|De):\s.+\n\s*(Sent|Enviado|Date|Fecha):\s", re.I | re.M)


@dataclass
class ParsedEmail:
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    from_addr: str
    from_name: str
    recipients: list[str]
    subject: str
    text: str
    ignored_reason: str = ""
    headers: dict = field(default_factory=dict)
    files: list = field(default_factory=list)  # [(file name, bytes)] of the attachments


def _ids(value: str | None) -> list[str]:
    return MSGID_RE.findall(control_chars_strip(str(value or "")))


def _auto_or_bounce(msg, from_addr: str) -> str:
    """Loop prevention (RFC 3834 and common vendor headers): never answer machines."""
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return "auto-submitted"
    if msg.get("X-Autoreply") or msg.get("X-Autorespond") or msg.get("X-Auto-Response-Suppress", "").lower() in ("all", "oof"):
        return "auto-reply"
    if str(msg.get("Precedence", "")).strip().lower() in ("bulk", "junk", "auto_reply", "list"):
        return "bulk"
    if msg.get_content_type() == "multipart/report" or msg.get("X-Failed-Recipients"):
        return "bounce"
    local = from_addr.split("@", 1)[0].lower()
    if local in ("mailer-daemon", "postmaster") or str(msg.get("Return-Path", "")).strip() == "<>":
        return "bounce"
    return ""


def html_to_text(html: str) -> str:
    """Sanitise HTML to plain text: scripts/styles dropped, quoted blocks removed, tags stripped."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title", "meta", "blockquote"]):
        tag.decompose()
    for tag in soup.select("div.gmail_quote, div.yahoo_quotes, #appendonsend, div#divRplyFwdMsg"):
        tag.decompose()
    for br in soup.find_all("br"):
        br.replace_with("\n")
    for block in soup.find_all(["p", "div", "li", "tr", "h1", "h2", "h3"]):
        block.append("\n")
    text = soup.get_text()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in text.splitlines())).strip()


def strip_quoted(text: str) -> str:
    """Keep only the new part of a reply: cut at the quote header and drop '>' lines."""
    cut = len(text)
    for rx in (QUOTE_HEADER_RE, FROM_BLOCK_RE):
        m = rx.search(text)
        if m:
            cut = min(cut, m.start())
    kept = [line for line in text[:cut].splitlines() if not line.lstrip().startswith(">")]
    result = "\n".join(kept).strip()
    # Signature delimiter (RFC 3676)
    result = re.split(r"^-- ?$", result, maxsplit=1, flags=re.M)[0].strip()
    return result or text.strip()


def _body_text(msg) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    if part.get_content_charset() is None:  # undeclared 8-bit text: UTF-8 in practice, else Latin-1
        payload = part.get_payload(decode=True) or b""
        try:
            content = payload.decode("utf-8")
        except UnicodeDecodeError:
            content = payload.decode("latin-1")
    else:
        try:
            content = part.get_content()
        except (LookupError, UnicodeDecodeError):
            content = (part.get_payload(decode=True) or b"").decode("utf-8", "replace")
    if part.get_content_type() == "text/html":
        return html_to_text(content)
    return content


def parse(raw: bytes) -> ParsedEmail:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    name, addr = parseaddr(str(msg.get("From", "")))
    recipients = [a.lower() for _n, a in getaddresses([str(msg.get(h, "")) for h in
                                                       ("To", "Cc", "Delivered-To", "X-Original-To")]) if a]
    message_id = (_ids(msg.get("Message-ID")) or [""])[0]
    if not message_id:  # no id: a stable one from the content keeps redeliveries idempotent
        message_id = "<sha256-" + hashlib.sha256(raw).hexdigest()[:40] + "@asisteclick.invalid>"
    parsed = ParsedEmail(message_id=message_id, in_reply_to=_ids(msg.get("In-Reply-To")),
                         references=_ids(msg.get("References")), from_addr=addr.lower(), from_name=name,
                         recipients=recipients, subject=str(msg.get("Subject", "") or "").strip(), text="")
    parsed.ignored_reason = _auto_or_bounce(msg, parsed.from_addr)
    parsed.text = strip_quoted(_body_text(msg).replace("\r\n", "\n"))
    # Mail is stripped of NUL and other control characters (PostgreSQL refuses NUL), not refused:
    # the relay would deliver the same message again and again.
    parsed.text, parsed.subject, parsed.from_name, parsed.from_addr = (control_chars_strip(v) for v in (
        parsed.text, parsed.subject, parsed.from_name, parsed.from_addr))
    parsed.recipients = [control_chars_strip(r) for r in parsed.recipients]
    for part in msg.iter_attachments():
        if part.get_content_maintype() == "multipart":
            continue
        data = part.get_payload(decode=True) or b""
        name = control_chars_strip(str(part.get_filename() or "")) or f"attachment-{len(parsed.files) + 1}"
        parsed.files.append((name[:200], data))
    return parsed


def _store_files(msg: Message, files: list) -> None:
    """The e-mail's attachments through the shared checks (type by content, size, at most MAX_FILES);
    one the checks refuse is named with the reason on the message (the mail itself is kept)."""
    from apps.conversations.attachments import MAX_FILES, attachment_check, attachment_store
    from apps.core.errors import InvalidInput

    refused = []
    for i, (name, data) in enumerate(files):
        if i >= MAX_FILES:
            refused.append({"name": name, "error": _("Only %(n)s files per message are kept.") % {"n": MAX_FILES}})
            continue
        try:
            attachment_store(message=msg, file=attachment_check(name=name, data=data))
        except InvalidInput as exc:
            refused.append({"name": name, "error": exc.message})
    if refused:
        Message.objects.filter(pk=msg.pk).update(meta={**(msg.meta or {}), "attachments_refused": refused})


# --- threading ---------------------------------------------------------------------------------

def _token(conversation_id: int) -> str:
    return salted_hmac("asisteclick.email-reply", str(conversation_id)).hexdigest()[:16]


def reply_address(channel: Channel, conversation_id: int) -> str:
    local, _, domain = str(channel.config.get("address", "support@localhost")).partition("@")
    return f"{local}+c{conversation_id}-{_token(conversation_id)}@{domain}"


def conversation_from_reply_address(recipients: list[str]) -> int | None:
    for addr in recipients:
        m = REPLY_TOKEN_RE.search(addr)
        if m and constant_time_compare(_token(int(m.group(1))), m.group(2).lower()):
            return int(m.group(1))
    return None


def sender_matches(conversation: Conversation, from_addr: str) -> bool:
    """The sender is the conversation's contact: their address, or an address already verified as
    theirs (an e-mail identity of the same contact, attached when they wrote from it before or by
    an Operator in the admin)."""
    contact = conversation.contact
    if not from_addr or contact is None:
        return False
    if (contact.email or "").lower() == from_addr:
        return True
    return ContactIdentity.objects.filter(contact=contact, kind=Channel.Kind.EMAIL, value__iexact=from_addr).exists()


def find_thread(channel: Channel, parsed: ParsedEmail) -> Conversation | None:
    """Our own Message-IDs and the customer's earlier ones (References / In-Reply-To), then reply+token.

    Only for the conversation's own contact: Message-IDs travel in every quoted reply and are easy
    to guess, so anyone else who cites them starts a conversation of their own instead of writing
    into (and reading the answers of) another customer's."""
    ids = list(dict.fromkeys(parsed.in_reply_to + list(reversed(parsed.references))))
    conv = None
    if ids:
        hit = (Message.objects.filter(channel=channel, external_id__in=ids).select_related("conversation")
               .order_by("-created_at").first())
        if hit:
            conv = hit.conversation
    if conv is None:
        conv_id = conversation_from_reply_address(parsed.recipients)
        if conv_id:
            conv = Conversation.objects.filter(pk=conv_id, channel=channel).select_related("contact").first()
    if conv is not None and not sender_matches(conv, parsed.from_addr):
        return None
    return conv


def ingest(*, channel: Channel, raw: bytes) -> tuple[Message | None, str]:
    """One inbound email into the conversation service. Returns (message, outcome)."""
    parsed = parse(raw)
    if parsed.ignored_reason:
        return None, f"ignored:{parsed.ignored_reason}"
    if not parsed.from_addr or not (parsed.text.strip() or parsed.files):
        return None, "ignored:empty"
    own = str(channel.config.get("address", "")).lower()
    if own and parsed.from_addr == own:
        return None, "ignored:own-address"
    conv = find_thread(channel, parsed)
    contact = conv.contact if conv else contact_for_identities(
        kind=Channel.Kind.EMAIL, values=[parsed.from_addr], name=parsed.from_name, email=parsed.from_addr)
    meta = {"email_from": parsed.from_addr, "subject": parsed.subject, "references": parsed.references,
            "in_reply_to": parsed.in_reply_to}
    text = parsed.text[: settings.MESSAGE_MAX_CHARS]
    if not text.strip():  # only files: what lists and previews show
        text = "📎 " + ", ".join(name for name, _data in parsed.files)
    existing = Message.objects.filter(channel=channel, external_id=parsed.message_id).first()
    if existing:
        return existing, "duplicate"
    with transaction.atomic():
        if conv is None and parsed.subject:
            try:
                conv = services.conversation_start(contact=contact, channel=channel, subject=parsed.subject)
            except ConversationAlreadyOpen:
                conv = None  # a new thread while a chat is open: it continues there (one open per channel)
        msg, created = services.message_receive(channel=channel, contact=contact, body=text, conversation=conv,
                                                external_id=parsed.message_id, meta=meta)
        if not created:  # a concurrent delivery won: drop the conversation we just opened
            transaction.set_rollback(True)
        elif parsed.files:
            _store_files(msg, parsed.files)
    return msg, "created" if created else "duplicate"


# --- outbound ----------------------------------------------------------------------------------

def send(message: Message, idempotency_key: str = "") -> str:
    """Reply by SMTP with threading headers; our Message-ID becomes the message's external id.

    The Message-ID is derived from the delivery's idempotency key, so a resend after a crash
    carries the same Message-ID (mail systems that de-duplicate on it show the message once)."""
    conv = message.conversation
    channel = conv.channel
    cfg = channel.config or {}
    customer_ids = list(Message.objects.filter(conversation=conv, channel=channel, author_kind="customer")
                        .exclude(external_id=None).order_by("created_at", "id").values_list("external_id", "meta"))
    last = customer_ids[-1] if customer_ids else None
    to = (last[1].get("email_from") if last else "") or conv.contact.email
    if not to:
        raise ValueError("the contact has no email address")
    refs = list(dict.fromkeys(([*last[1].get("references", [])] if last else []) + [i for i, _m in customer_ids]))
    address = cfg.get("address") or settings.DEFAULT_FROM_EMAIL
    domain = address.rpartition("@")[2].strip(">") or "localhost"
    msgid = f"<{idempotency_key}@{domain}>" if idempotency_key else make_msgid(domain=domain)
    subject = conv.subject or (last[1].get("subject") if last else "") or "AsisteClick"
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    headers = {"Message-ID": msgid, "Reply-To": reply_address(channel, conv.pk)}
    if last:
        headers["In-Reply-To"] = last[0]
        headers["References"] = " ".join(refs[-20:])
    if message.author_kind in ("ai_agent", "system"):
        headers["Auto-Submitted"] = "auto-replied"  # RFC 3834: tells autoresponders not to answer
    connection = get_connection("django.core.mail.backends.smtp.EmailBackend",
                                host=cfg.get("smtp_host", settings.EMAIL_HOST),
                                port=int(cfg.get("smtp_port", settings.EMAIL_PORT)),
                                username=cfg.get("smtp_user", settings.EMAIL_HOST_USER),
                                password=channel_secret(channel, "smtp_password") or settings.EMAIL_HOST_PASSWORD,
                                use_tls=bool(cfg.get("smtp_tls", False)), timeout=20)
    mail = EmailMessage(subject=subject, body=outbound_text(message), from_email=address, to=[to], headers=headers,
                        connection=connection)
    for _pk, f in message_files(message):  # the agent's files as MIME attachments
        mail.attach(f.name, f.data, f.content_type)
    mail.send()
    return msgid


def poll_imap(channel: Channel, *, limit: int = 100) -> int:
    """Fetch unseen mail from the channel's IMAP box, ingest it, then flag it seen."""
    import imaplib

    cfg = channel.config or {}
    cls = imaplib.IMAP4_SSL if cfg.get("imap_ssl", True) else imaplib.IMAP4
    box = cls(cfg["imap_host"], int(cfg.get("imap_port", 993 if cfg.get("imap_ssl", True) else 143)), timeout=30)
    count = 0
    try:
        box.login(cfg.get("imap_user", ""), channel_secret(channel, "imap_password") or "")
        box.select(cfg.get("imap_folder", "INBOX"))
        _typ, data = box.search(None, "UNSEEN")
        for num in (data[0] or b"").split()[:limit]:
            _typ, parts = box.fetch(num, "(RFC822)")
            raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
            if raw is None:
                continue
            try:
                ingest(channel=channel, raw=raw)
                count += 1
            except Exception:  # one broken mail must not block the mailbox; it stays unseen for a retry
                log.exception("email channel %s: message %s failed", channel.pk, num)
                continue
            box.store(num, "+FLAGS", "\\Seen")
    finally:
        try:
            box.logout()
        except Exception:
            pass
    return count
