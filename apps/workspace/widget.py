"""The customer web chat widget's server side: who the visitor is and what they may read.

* A channel is found by its public key (``Channel.config["public_key"]``); the key is public, it
  only names the channel. Embedding sites are limited by ``Channel.config["allowed_origins"]``.
* An anonymous visitor gets a token signed with ``django.core.signing`` that binds a random
  visitor id to one channel; the visitor id maps to one Contact through a ContactIdentity, and
  the visitor reads only that Contact's conversations on that channel.
* The hello of every page view only verifies or issues that token: it reads, never writes. The
  Contact and its identity are created with the visitor's first message (``visitor_contact_ensure``),
  so a site with many page views and few chats does not fill the contacts table.
* An identified visitor presents ``customer_id`` and ``HMAC-SHA256(channel secret, customer_id)``
  computed by the embedding site's backend; the secret comes from the environment variable named
  by ``Channel.config["secret_env"]`` (default ``WEBCHAT_SECRET_<channel id>``), never the database.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass, replace

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.utils.translation import pgettext

from apps.conversations.models import AuthorKind, Channel, Contact, ContactIdentity, Conversation, Message, Status
from apps.core import origins
from apps.departments.names import department_name

TOKEN_SALT = "asisteclick.widget.visitor"


def _limit(name: str, default: int) -> int:
    """A setting if the project defines it, else the environment, else the default."""
    value = getattr(settings, name, None) or os.environ.get(name)
    try:
        return int(value) if value else default
    except ValueError:
        return default


TOKEN_MAX_AGE = _limit("WIDGET_TOKEN_MAX_AGE", 60 * 60 * 24 * 30)
MESSAGES_PER_MINUTE = _limit("WIDGET_MESSAGES_PER_MINUTE", 20)  # per visitor
HELLOS_PER_MINUTE = _limit("WIDGET_HELLOS_PER_MINUTE", 30)  # per client address
SYNC_LIMIT = 200
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CUSTOMER_ID_RE = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")


@dataclass(frozen=True)
class Visitor:
    channel_id: int
    visitor_id: str  # stable id used for idempotent message ids and rate limits
    token: str
    identity: str  # the ContactIdentity value that binds this visitor to a Contact
    contact_id: int | None = None  # None until the visitor's first message creates the Contact
    has_identity: bool = False  # the ContactIdentity row exists
    name: str = ""
    language: str = ""  # the widget page's language (a supported code, or "")
    customer_id: str = ""
    email: str = ""  # optional, given by the visitor (kept until their first message creates the Contact)


def language_supported(code) -> str:
    """A language code of settings.LANGUAGES for ``code`` ("es-AR" -> "es"), or "" if none fits."""
    if not isinstance(code, str) or not code or len(code) > 20:
        return ""
    try:
        return translation.get_supported_language_variant(code.strip())
    except LookupError:
        return ""


def channel_by_key(key: str) -> Channel | None:
    if not key or len(key) > 128:
        return None
    return Channel.objects.filter(kind=Channel.Kind.WEBCHAT, is_active=True, config__public_key=key).first()


def sole_public_key() -> str:
    """The public key of the only active web chat that has one ("" when none or several)."""
    keys = [k for k in Channel.objects.filter(kind=Channel.Kind.WEBCHAT, is_active=True, config__has_key="public_key")
            .values_list("config__public_key", flat=True)[:2] if isinstance(k, str) and k]
    return keys[0] if len(keys) == 1 else ""


def origin_allowed(channel: Channel, origin: str | None, scope=None) -> bool:
    """The page embedding the widget must be listed for this channel, by scheme, host and port
    (``"*"`` allows any site), or be this server itself (``scope``: the socket's ASGI scope)."""
    if origins.origin_listed(origin, list((channel.config or {}).get("allowed_origins", []))):
        return True
    return scope is not None and origins.origin_same_site(origin, scope)


def channel_secret(channel: Channel) -> str | None:
    name = (channel.config or {}).get("secret_env") or f"WEBCHAT_SECRET_{channel.pk}"
    return os.environ.get(str(name)) or None


def identity_signature(secret: str, customer_id: str) -> str:
    """What the embedding site's backend computes to vouch for a logged-in customer."""
    return hmac.new(secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def rate_allow(bucket: str, limit: int, window: int = 60) -> bool:
    """Fixed-window counter in the cache (Redis in production): True while under ``limit``."""
    key = f"workspace.rate.{bucket}"
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, window)
        count = 1
    return count <= limit


def _identity(value: str, defaults: dict) -> Contact:
    ident = ContactIdentity.objects.filter(kind=Channel.Kind.WEBCHAT, value=value).select_related("contact").first()
    if ident:
        return ident.contact
    try:
        with transaction.atomic():
            contact = Contact.objects.create(**defaults)
            ContactIdentity.objects.create(contact=contact, kind=Channel.Kind.WEBCHAT, value=value)
            return contact
    except IntegrityError:  # two tabs of the same visitor raced
        return ContactIdentity.objects.get(kind=Channel.Kind.WEBCHAT, value=value).contact


class WidgetAuthError(Exception):
    def __init__(self, message: str, code: str = "unauthorized"):
        super().__init__(message)
        self.message, self.code = message, code


def visitor_authenticate(channel: Channel, *, token: str | None = None, customer_id: str | None = None,
                         signature: str | None = None, name: str = "", language: str = "") -> Visitor:
    """Resolve the hello of a widget into a Visitor: verify or issue the token, READ ONLY.

    A returning visitor is bound to their existing Contact; a new one gets ``contact_id=None``
    until ``visitor_contact_ensure`` runs with their first message.
    """
    name = (name or "").strip()[:200]
    language = language_supported(language)
    if customer_id:
        secret = channel_secret(channel)
        if not secret:
            raise WidgetAuthError(_("This chat does not accept identified visitors."))
        customer_id = str(customer_id)
        if not CUSTOMER_ID_RE.match(customer_id) or not isinstance(signature, str) or \
                not hmac.compare_digest(identity_signature(secret, customer_id), signature):
            raise WidgetAuthError(_("The visitor's identity could not be verified."))
        visitor_id = f"id-{customer_id}"
        value = f"{channel.pk}:{visitor_id}"
    else:
        customer_id = ""
        visitor_id = None
        if token:
            try:
                data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
            except signing.BadSignature:
                data = None
            if isinstance(data, dict) and data.get("ch") == channel.pk and isinstance(data.get("v"), str):
                visitor_id = data["v"]
        if visitor_id is None:  # no token, a forged one, or one from another channel: a new visitor
            visitor_id = secrets.token_urlsafe(16)
        value = f"{channel.pk}:anon:{visitor_id}"
    contact_id = ContactIdentity.objects.filter(kind=Channel.Kind.WEBCHAT, value=value) \
        .values_list("contact_id", flat=True).first()
    has_identity = contact_id is not None
    if contact_id is None and customer_id:  # a customer the platform knows from elsewhere
        contact_id = Contact.objects.filter(external_ref=customer_id).values_list("pk", flat=True).first()
    fresh_token = signing.dumps({"v": visitor_id, "ch": channel.pk}, salt=TOKEN_SALT)
    return Visitor(channel_id=channel.pk, visitor_id=visitor_id, token=fresh_token, identity=value,
                   contact_id=contact_id, has_identity=has_identity, name=name, language=language,
                   customer_id=customer_id)


def visitor_contact_ensure(visitor: Visitor) -> Visitor:
    """The visitor's Contact and identity, created on their first message (idempotent, race-safe)."""
    if visitor.has_identity and visitor.contact_id:
        return visitor
    if visitor.contact_id:  # an identified visitor whose Contact exists: link it to this channel
        ident, _created = ContactIdentity.objects.get_or_create(kind=Channel.Kind.WEBCHAT, value=visitor.identity,
                                                                defaults={"contact_id": visitor.contact_id})
        return replace(visitor, contact_id=ident.contact_id, has_identity=True)
    elif visitor.customer_id:
        contact = _identity(visitor.identity, {"name": visitor.name or visitor.customer_id,
                                               "external_ref": visitor.customer_id, "language": visitor.language})
    else:
        contact = _identity(visitor.identity, {
            "name": visitor.name or _("Web visitor %(ref)s") % {"ref": visitor.visitor_id[:6]},
            "email": visitor.email, "language": visitor.language})
    return replace(visitor, contact_id=contact.pk, has_identity=True)


def visitor_profile_set(visitor: Visitor, *, name: str = "", email: str = "") -> Visitor:
    """The name and e-mail a visitor chose to give (both optional), before or during the chat.

    Before their first message nothing is written (a page view creates no Contact): the values ride
    on the visitor and the first message's Contact starts with them. Afterwards the Contact is
    updated through ``services.contact_profile_from_visitor``. Raises InvalidInput on a bad address."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    from apps.core.errors import InvalidInput

    name = " ".join((name or "").split())[:200]
    email = (email or "").strip()[:254]
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(_("That e-mail address does not look right.")) from None
    if visitor.contact_id is None:
        return replace(visitor, name=name or visitor.name, email=email or visitor.email)
    from .services import contact_profile_from_visitor

    contact_profile_from_visitor(contact_id=visitor.contact_id, name=name, email=email,
                                 identified=bool(visitor.customer_id))
    return replace(visitor, name=name or visitor.name, email=email or visitor.email)


def visitor_welcome(channel: Channel, language: str) -> dict:
    """What the widget shows when it opens, before anyone has written: a greeting (the channel's own,
    ``config["greeting"]`` as text or per language, else ours) and the wait for a person right now in
    the channel's department (routing's estimate for a chat arriving now)."""
    language = language_supported(language) or settings.LANGUAGE_CODE
    with translation.override(language):
        own = (channel.config or {}).get("greeting")
        if isinstance(own, dict):
            own = own.get(language) or ""  # none in this language: ours, translated
        greeting = own.strip() if isinstance(own, str) and own.strip() else \
            _("Hello! How can we help you today? Our virtual assistant answers at once.")
        return {"greeting": greeting[:500], "wait": _wait_line(channel, language)}


def _wait_line(channel: Channel, language: str) -> str:
    try:
        from apps.routing.selectors import expected_wait
    except ImportError:  # routing swapped out: no estimate
        return ""
    from apps.departments.models import Department

    dept = channel.default_department if channel.default_department_id else None
    if dept is None or not dept.is_active:
        dept = Department.objects.filter(is_default=True, is_active=True).first()
    if dept is None:
        return ""
    est = expected_wait(dept)
    name = department_name(dept, language)
    if not est.is_open:
        return _("%(department)s is closed right now: leave your message and a person will answer when we open.") % {
            "department": name}
    if est.minutes is None:
        return _("Nobody from %(department)s is online right now; leave your message and a person will answer "
                 "here.") % {"department": name}
    if est.minutes == 0:
        return _("If you need a person, someone from %(department)s is available now.") % {"department": name}
    return ngettext("If you need a person, the wait in %(department)s is about %(minutes)s minute.",
                    "If you need a person, the wait in %(department)s is about %(minutes)s minutes.",
                    est.minutes) % {"department": name, "minutes": est.minutes}


def visitor_refresh(visitor: Visitor) -> Visitor:
    """A visitor whose first message came by another way (a file uploaded over HTTP) has a Contact
    now: bind it, so the socket's sync and live signals see that conversation."""
    if visitor.contact_id is not None:
        return visitor
    contact_id = ContactIdentity.objects.filter(kind=Channel.Kind.WEBCHAT, value=visitor.identity) \
        .values_list("contact_id", flat=True).first()
    return replace(visitor, contact_id=contact_id, has_identity=True) if contact_id else visitor


def visitor_conversations(visitor: Visitor):
    if visitor.contact_id is None:
        return Conversation.objects.none()
    return Conversation.objects.filter(contact_id=visitor.contact_id, channel_id=visitor.channel_id)


def visitor_conversation(visitor: Visitor, pk) -> Conversation | None:
    try:
        return visitor_conversations(visitor).filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        return None


def _author_label(m: Message) -> str:
    if m.author_kind == AuthorKind.HUMAN and m.author is not None:
        return m.author.public_name
    return str(AuthorKind(m.author_kind).label)


def _client_id(m: Message, visitor: Visitor) -> str | None:
    prefix = f"widget:{visitor.visitor_id}:"
    if m.external_id and m.external_id.startswith(prefix):
        return m.external_id[len(prefix):]
    return None


def visitor_sync(visitor: Visitor, after: int = 0) -> dict:
    """Messages after ``after`` (ids only grow) and the state of the visitor's latest conversation.

    Internal notes never leave the building; bodies are plain text for the widget to render as text.
    """
    try:
        after = max(0, int(after or 0))
    except (TypeError, ValueError):
        after = 0
    if visitor.contact_id is None:  # nothing sent yet: nothing to read (and no query)
        return {"type": "messages", "messages": [], "more": False, "state": None}
    rows = list(Message.objects.filter(conversation__contact_id=visitor.contact_id,
                                       conversation__channel_id=visitor.channel_id, is_internal=False, pk__gt=after)
                .select_related("author").order_by("pk")[:SYNC_LIMIT])
    latest = visitor_conversations(visitor).select_related("department", "assignee").order_by("-created_at", "-pk").first()
    state = None
    if latest is not None:
        state = {
            "conversation": latest.pk,
            "status": latest.status,
            "department": department_name(latest.department, latest.language or visitor.language)
            if latest.department and latest.status != Status.BOT else "",
            "agent": latest.assignee.public_name if latest.assignee and latest.status in (Status.ASSIGNED, Status.IN_PROGRESS) else "",
            "can_rate": latest.status == Status.ARCHIVED and latest.csat_score is None,
            "rated": latest.csat_score is not None,
            # The widget speaks the conversation's language (detected from the customer's messages).
            "language": language_supported(latest.language),
        }
        state.update(_wait_state(latest))
    from .widget_files import attachments_for_sync

    files = attachments_for_sync(rows, visitor.contact_id)
    return {
        "type": "messages",
        "messages": [{
            "id": m.pk, "conversation": m.conversation_id, "kind": m.author_kind, "author": _author_label(m),
            "body": m.body, "at": m.created_at.isoformat(), "client_id": _client_id(m, visitor),
            **({"files": files[m.pk]} if m.pk in files else {}),
        } for m in rows],
        "more": len(rows) == SYNC_LIMIT,
        "state": state,
    }


def _wait_state(conv: Conversation) -> dict:
    """A waiting chat's place in line and expected wait (routing's one estimate, the same figure the
    customer notices give); ``wait_minutes`` is None when nobody is available to take it."""
    if conv.status not in (Status.TRANSFER, Status.UNASSIGNED) or conv.department_id is None:
        return {}
    try:
        from apps.routing.selectors import expected_wait
    except ImportError:  # routing swapped out: the widget just says "please wait"
        return {}
    est = expected_wait(conv.department, conversation=conv)
    return {"position": est.position, "wait_minutes": est.minutes, "open": est.is_open}


def open_conversation_ids(visitor: Visitor) -> list[int]:
    """Groups a widget listens on: open chats, plus the latest one (for its CSAT)."""
    if visitor.contact_id is None:
        return []
    qs = visitor_conversations(visitor)
    ids = set(qs.exclude(status=Status.ARCHIVED).values_list("pk", flat=True))
    latest = qs.order_by("-created_at", "-pk").values_list("pk", flat=True).first()
    if latest:
        ids.add(latest)
    return sorted(ids)


def ui_strings() -> dict:
    """The widget's own texts in the active language (served as JSON by ``views.widget_strings``).

    They live here, in the catalogues, so the i18n check covers them; the script keeps none.
    Placeholders use Python's ``%(name)s`` so translators see the usual format.
    """
    return {
        "open": pgettext("web chat widget", "Chat with us"),
        "close": pgettext("web chat widget", "Close chat"),
        "title": pgettext("web chat widget", "Customer service"),
        "label": pgettext("web chat widget", "Your message"),
        "send": pgettext("web chat widget", "Send"),
        "ai": pgettext("web chat widget", "Virtual assistant (AI)"),
        "human": pgettext("web chat widget", "Team member"),
        "you": pgettext("web chat widget", "You"),
        "system": pgettext("web chat widget", "Notice"),
        "connecting": pgettext("web chat widget", "Connecting…"),
        "offline": pgettext("web chat widget", "Offline: retrying…"),
        "queue": pgettext("web chat widget", "We are connecting you with a person. Please wait a moment."),
        "queue_department": pgettext(
            "web chat widget", "We are connecting you with a person (%(department)s). Please wait a moment."),
        "queue_wait": pgettext(
            "web chat widget",
            "You are number %(position)s in line to talk to a person. Expected wait: about %(minutes)s min."),
        "queue_next": pgettext(
            "web chat widget", "A person will be with you in a moment (you are number %(position)s in line)."),
        "queue_unavailable": pgettext(
            "web chat widget",
            "Nobody is available right now. You keep your place in line (number %(position)s) and a person will "
            "answer you here."),
        "queue_closed": pgettext("web chat widget", "We are closed right now: a person will answer you when we open."),
        "assigned": pgettext("web chat widget", "%(agent)s is helping you now."),
        "archived": pgettext("web chat widget", "This conversation has ended."),
        "rate_question": pgettext("web chat widget", "How did we do?"),
        "comment": pgettext("web chat widget", "Comment (optional)"),
        "rate": pgettext("web chat widget", "Send rating"),
        "thanks": pgettext("web chat widget", "Thank you for your rating!"),
        "typing": pgettext("web chat widget", "Typing…"),
        "about_you": pgettext("web chat widget", "Tell us who you are (optional)"),
        "your_name": pgettext("web chat widget", "Your name"),
        "your_email": pgettext("web chat widget", "Your e-mail"),
        "save": pgettext("web chat widget", "Save"),
        "saved": pgettext("web chat widget", "Thank you, we will use it to reach you."),
        "attach": pgettext("web chat widget", "Send a photo or PDF"),
        "uploading": pgettext("web chat widget", "Sending the file…"),
        "image": pgettext("web chat widget", "Image: %(name)s"),
        "stars": [
            pgettext("web chat widget", "1 - Very bad"),
            pgettext("web chat widget", "2 - Bad"),
            pgettext("web chat widget", "3 - OK"),
            pgettext("web chat widget", "4 - Good"),
            pgettext("web chat widget", "5 - Very good"),
        ],
        "failed": pgettext("web chat widget", "Could not send: %(reason)s"),
        "log": pgettext("web chat widget", "Messages"),
    }
