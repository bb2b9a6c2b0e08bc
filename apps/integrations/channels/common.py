"""Helpers shared by the channel adapters."""
from __future__ import annotations

import os
import time
from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import pgettext

from apps.conversations.models import Channel, Contact, ContactIdentity


# Graph API error codes that mean "try again later" even when the HTTP status is 400: throttling
# (4, 17, 341, 80007, 130429, 131048, 131056), temporary errors (1, 2, 131000), service unavailable (133004).
TRANSIENT_GRAPH_CODES = {1, 2, 4, 17, 341, 80007, 130429, 131000, 131048, 131056, 133004}


class ProviderError(RuntimeError):
    """A provider answered with an error. ``permanent``: sending the same request again cannot
    succeed (a refused recipient, a bad token); anything else (5xx, throttling, timeouts) is retried."""

    def __init__(self, message: str, *, status_code: int = 0, code=None):
        super().__init__(message)
        self.status_code, self.code = status_code, code

    @property
    def permanent(self) -> bool:
        try:
            code = int(self.code)
        except (TypeError, ValueError):
            code = None
        if code in TRANSIENT_GRAPH_CODES:
            return False
        return 400 <= self.status_code < 500 and self.status_code not in (408, 409, 425, 429)


def provider_idempotent(channel: Channel) -> bool:
    """Whether the provider (or the gateway in front of it) de-duplicates on our Idempotency-Key
    header. Meta's Graph API does not, so this is off unless the channel's config says
    ``"provider_idempotency": true`` (a gateway that honours the header)."""
    return bool((channel.config or {}).get("provider_idempotency"))


def channel_secret(channel: Channel, name: str) -> str | None:
    """A secret named in the channel's config, e.g. config["app_secret_env"] = "WHATSAPP_APP_SECRET".

    Secrets never live in the database: the config only names the environment variable."""
    env_name = (channel.config or {}).get(f"{name}_env")
    if not env_name:
        return None
    return os.environ.get(env_name) or None


def graph_base_url(channel: Channel) -> str:
    """The Graph API base (a local stand-in in tests, the real one in production)."""
    return ((channel.config or {}).get("graph_base_url")
            or getattr(settings, "META_GRAPH_BASE_URL", None)
            or os.environ.get("META_GRAPH_BASE_URL")
            or "https://graph.facebook.com/v21.0").rstrip("/")


def contact_for_identities(*, kind: str, values: Iterable[str], name: str = "", phone: str = "",
                           email: str = "") -> Contact:
    """The contact known by any of ``values`` on ``kind``; created (race-safe) when new.

    All values get attached, so a contact first seen by phone (wa_id) is found later by its
    business-scoped user id and vice versa."""
    values = [v for v in dict.fromkeys(str(v) for v in values if v)]
    if not values:
        raise ValueError("a contact needs at least one identifier")
    for _attempt in range(3):
        known = list(ContactIdentity.objects.filter(kind=kind, value__in=values).select_related("contact"))
        if known:
            contact = known[0].contact
            missing = set(values) - {i.value for i in known}
            for value in missing:
                try:
                    with transaction.atomic():
                        ContactIdentity.objects.create(contact=contact, kind=kind, value=value)
                except IntegrityError:
                    pass
            return contact
        try:
            with transaction.atomic():
                contact = Contact.objects.create(name=name[:200], phone=phone[:32], email=email[:254])
                for value in values:
                    ContactIdentity.objects.create(contact=contact, kind=kind, value=value)
                return contact
        except IntegrityError:
            time.sleep(0.01)  # another delivery created it a moment ago: read it
    raise RuntimeError("could not resolve contact identity")


_CHANNEL_CACHE: dict[str, tuple[float, list[Channel]]] = {}
CHANNEL_CACHE_SECONDS = 30.0


def channel_cache_clear(**_kwargs) -> None:
    """Dropped on every Channel save/delete in this process (other processes: within 30 s)."""
    _CHANNEL_CACHE.clear()


def _active_channels(kind: str) -> list[Channel]:
    """Active channels of one kind, cached briefly: every inbound webhook needs this lookup."""
    now = time.monotonic()
    hit = _CHANNEL_CACHE.get(kind)
    if hit and hit[0] > now:
        return hit[1]
    channels = list(Channel.objects.filter(kind=kind, is_active=True))
    _CHANNEL_CACHE[kind] = (now + CHANNEL_CACHE_SECONDS, channels)
    return channels


def channels_by_config(kind: str, key: str, values: Iterable[str]) -> dict[str, Channel]:
    """Active channels of ``kind`` whose config[key] is one of ``values``, keyed by that value."""
    wanted = {str(v) for v in values}
    found: dict[str, Channel] = {}
    for ch in _active_channels(kind):
        value = str((ch.config or {}).get(key, ""))
        if value in wanted:
            found[value] = ch
    return found


def outbound_text(message) -> str:
    """The text the customer receives: an AI Agent message always says it comes from an AI.

    The label is in the conversation's language (the customer's), not the sending worker's."""
    if message.author_kind != "ai_agent":
        return message.body
    conv = message.conversation
    language = conv.language or conv.contact.language or settings.LANGUAGE_CODE
    with translation.override(language):
        label = pgettext("label before every AI Agent message on external channels", "Virtual assistant (AI)")
    return f"🤖 {label}: {message.body}"


def signal_message_changed(message) -> None:
    """A delivery status changed: the conversation's audience re-fetches the message list.

    A signal, not data (DESIGN.md invariant 4); sent after commit."""
    from apps.conversations import access
    from apps.core.realtime import signal_groups_on_commit, user_group

    conv = message.conversation
    signal_groups_on_commit([user_group(u) for u in access.conversation_audience(conv)],
                            {"what": "message", "conversation": conv.pk, "department": conv.department_id})


# --- files an agent sends (WhatsApp, Messenger, e-mail) ----------------------------------------------

def message_files(message) -> list:
    """The files of an outgoing message, read back from storage and checked against what the
    channel accepts (InvalidInput: refused for good, before anything reaches the provider)."""
    from apps.conversations.attachments import attachment_channel_check, attachment_read

    atts = list(message.attachments.order_by("pk"))
    if not atts:
        return []
    files = [(att.pk, attachment_read(att)) for att in atts]
    attachment_channel_check(message.conversation.channel.kind, [f for _pk, f in files])
    return files


def files_only(message, files: list) -> bool:
    """The message has no text of its own (its body is the automatic "📎 names" line)."""
    from apps.conversations.attachments import attachment_body

    return message.body.strip() == attachment_body([f for _pk, f in files])


def _parts_record(message, name: str, value: str) -> None:
    parts = dict((message.meta or {}).get("provider_parts") or {})
    parts[name] = value
    message.meta = {**(message.meta or {}), "provider_parts": parts}
    type(message).objects.filter(pk=message.pk).update(meta=message.meta)


def part_cached(message, name: str, make) -> str:
    """A provider-side value (an uploaded media id) kept on the message, so a retry after a later
    failure reuses it instead of uploading the file again."""
    known = ((message.meta or {}).get("provider_parts") or {}).get(name)
    if known:
        return known
    value = make()
    _parts_record(message, name, value)
    return value


def send_parts(message, parts: list, key: str) -> tuple[str, dict]:
    """Send a message that takes several provider calls (one per file, the text apart).

    ``parts``: ``[(name, call(idempotency key) -> (provider id, response))]``. A part already sent
    (saved in ``meta["provider_parts"]``) is skipped on a retry; every part but the last gets its own
    key (``key.N``); the last one carries the delivery's key and its id becomes the message's."""
    result = None
    for n, (name, call) in enumerate(parts):
        final = n == len(parts) - 1
        sent = ((message.meta or {}).get("provider_parts") or {}).get(f"sent:{name}")
        if sent and not final:
            continue
        result = call(key if final or not key else f"{key}.{n + 1}")
        if not final:
            _parts_record(message, f"sent:{name}", result[0])
    return result
