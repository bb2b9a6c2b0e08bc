"""Provider webhooks (WhatsApp Cloud API, Messenger, Instagram) and the inbound-MIME endpoint.

Each POST: size limit -> JSON -> which channel -> signature over the RAW body (constant time)
-> store once -> 200. Processing happens in Celery (``inbound_process``), so the provider gets
its answer fast and a crash after the 200 loses nothing (the row is already stored).
"""
from __future__ import annotations

import base64

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from apps.conversations.models import Channel
from apps.core.hostile import HostileInput, control_chars_strip, json_loads_bounded

from .channels import meta as meta_channel
from .channels import whatsapp
from .channels.common import channel_secret, channels_by_config
from .inbound import inbound_store
from .signing import hub_signature_valid


def _max_bytes() -> int:
    return int(getattr(settings, "INBOUND_WEBHOOK_MAX_BYTES", 512 * 1024))


def error(status: int, code: str, message: str, fields: dict | None = None) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "fields": fields or {}}}, status=status)


def _read_body(request: HttpRequest) -> bytes | JsonResponse:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > _max_bytes():
        return error(413, "payload_too_large", _("The body is larger than %(n)d bytes.") % {"n": _max_bytes()})
    raw = request.body
    if len(raw) > _max_bytes():
        return error(413, "payload_too_large", _("The body is larger than %(n)d bytes.") % {"n": _max_bytes()})
    return raw


def _json(raw: bytes) -> dict | JsonResponse:
    try:
        payload = json_loads_bounded(raw, max_bytes=_max_bytes())
    except HostileInput as exc:
        return error(400, exc.code, exc.message)
    # Stripped, not refused: the provider would re-send the same signed body forever (and the
    # customer's message would be lost); NUL would fail the JSON column on PostgreSQL.
    payload = control_chars_strip(payload)
    if not isinstance(payload, dict):
        return error(400, "malformed_json", _("The body must be a JSON object."))
    return payload


def _verify_handshake(request: HttpRequest, channels: list[Channel]) -> HttpResponse:
    """Meta's subscription check: echo hub.challenge when hub.verify_token matches one channel."""
    mode = request.GET.get("hub.mode")
    token = request.GET.get("hub.verify_token") or ""
    challenge = request.GET.get("hub.challenge") or ""
    if mode == "subscribe" and token and any(
            constant_time_compare(channel_secret(ch, "verify_token") or "\0", token) for ch in channels):
        return HttpResponse(challenge, content_type="text/plain")
    return error(403, "verification_failed", _("The verify token does not match."))


def _signed_store(request, raw: bytes, payload: dict, channels: list[Channel]) -> JsonResponse:
    header = request.headers.get("X-Hub-Signature-256")
    for ch in channels:
        if not hub_signature_valid(channel_secret(ch, "app_secret"), raw, header):
            return error(401, "invalid_signature", _("X-Hub-Signature-256 does not match the body."))
    stored = 0
    for ch in channels:
        _pk, created = inbound_store(channel=ch, raw=raw, payload=payload)
        stored += created
    return JsonResponse({"status": "accepted" if stored else "duplicate"})


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp_webhook(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _verify_handshake(request, list(Channel.objects.filter(kind=Channel.Kind.WHATSAPP, is_active=True)))
    raw = _read_body(request)
    if isinstance(raw, JsonResponse):
        return raw
    payload = _json(raw)
    if isinstance(payload, JsonResponse):
        return payload
    try:
        ids = whatsapp.phone_number_ids(payload)
    except (ValueError, TypeError, AttributeError):
        return error(400, "invalid_payload", _("This is not a WhatsApp Cloud API webhook body."))
    if not ids:
        return error(400, "invalid_payload", _("The body names no phone number id."))
    channels = channels_by_config(Channel.Kind.WHATSAPP, "phone_number_id", ids)
    unknown = sorted(ids - set(channels))
    if unknown:
        return error(404, "unknown_phone_number_id", _("No active WhatsApp channel has phone number id %(id)s.")
                     % {"id": ", ".join(unknown)})
    return _signed_store(request, raw, payload, list(channels.values()))


def _meta_webhook(request: HttpRequest, kind: str, obj: str) -> HttpResponse:
    if request.method == "GET":
        return _verify_handshake(request, list(Channel.objects.filter(kind=kind, is_active=True)))
    raw = _read_body(request)
    if isinstance(raw, JsonResponse):
        return raw
    payload = _json(raw)
    if isinstance(payload, JsonResponse):
        return payload
    try:
        events = meta_channel.parse(payload, default_object=None)
    except (ValueError, TypeError, AttributeError):
        return error(400, "invalid_payload", _("This is not a %(obj)s messaging webhook body.") % {"obj": obj})
    if payload.get("object") != obj:
        return error(400, "invalid_payload", _("This is not a %(obj)s messaging webhook body.") % {"obj": obj})
    ids = {e.account_id for e in events if e.account_id}
    if not ids:
        return error(400, "invalid_payload", _("The body names no account id."))
    channels = channels_by_config(kind, meta_channel.ID_KEY[kind], ids)
    unknown = sorted(ids - set(channels))
    if unknown:
        return error(404, "unknown_account_id", _("No active channel has account id %(id)s.") % {"id": ", ".join(unknown)})
    return _signed_store(request, raw, payload, list(channels.values()))


@csrf_exempt
@require_http_methods(["GET", "POST"])
def messenger_webhook(request: HttpRequest) -> HttpResponse:
    return _meta_webhook(request, Channel.Kind.MESSENGER, "page")


@csrf_exempt
@require_http_methods(["GET", "POST"])
def instagram_webhook(request: HttpRequest) -> HttpResponse:
    return _meta_webhook(request, Channel.Kind.INSTAGRAM, "instagram")


@csrf_exempt
@require_http_methods(["POST"])
def email_inbound(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Raw RFC 822 posted by a mail relay, authenticated by a bearer secret named in the channel config."""
    channel = Channel.objects.filter(pk=channel_id, kind=Channel.Kind.EMAIL, is_active=True).first()
    secret = channel_secret(channel, "inbound_secret") if channel else None
    auth = request.headers.get("Authorization", "")
    if channel is None or not secret or not constant_time_compare(auth, f"Bearer {secret}"):
        return error(404 if channel is None else 401, "not_found" if channel is None else "invalid_credentials",
                     _("Unknown channel.") if channel is None else _("Missing or wrong inbound secret."))
    raw = _read_body(request)
    if isinstance(raw, JsonResponse):
        return raw
    if not raw.strip() or b":" not in raw.split(b"\n", 1)[0]:
        return error(400, "malformed_mime", _("The body is not an RFC 822 message."))
    _pk, created = inbound_store(channel=channel, raw=raw, payload={"eml_b64": base64.b64encode(raw).decode()})
    return JsonResponse({"status": "accepted" if created else "duplicate"})
