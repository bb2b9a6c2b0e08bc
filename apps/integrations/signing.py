"""Signatures: Meta's X-Hub-Signature-256 (inbound) and Standard Webhooks (outbound)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time


def hub_signature(secret: str, raw_body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()


def hub_signature_valid(secret: str | None, raw_body: bytes, header: str | None) -> bool:
    """Constant-time check over the raw bytes (re-serialised JSON would not verify)."""
    if not secret or not header:
        return False
    return hmac.compare_digest(hub_signature(secret, raw_body).encode(), header.strip().encode())


def _secret_bytes(secret: str) -> bytes:
    raw = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    if not raw:
        raise ValueError("empty webhook secret")
    return base64.b64decode(raw + "=" * (-len(raw) % 4))


def standard_sign(secret: str, msg_id: str, timestamp: int, body: str | bytes) -> str:
    """``v1,`` + base64(HMAC-SHA256(secret, "id.timestamp.body")), per Standard Webhooks."""
    if isinstance(body, bytes):
        body = body.decode()
    mac = hmac.new(_secret_bytes(secret), f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def standard_headers(secret: str, msg_id: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": standard_sign(secret, msg_id, ts, body)}


def standard_verify(secret: str, headers: dict[str, str], body: str | bytes, *, tolerance: int = 300,
                    now: int | None = None) -> bool:
    """What a receiver does; used by our tests and offered to integrators as reference."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id, ts, sigs = lower.get("webhook-id"), lower.get("webhook-timestamp"), lower.get("webhook-signature")
    if not (msg_id and ts and sigs):
        return False
    try:
        ts_int = int(ts)
    except ValueError:
        return False
    current = int(time.time()) if now is None else now
    if abs(current - ts_int) > tolerance:
        return False
    expected = standard_sign(secret, msg_id, ts_int, body).split(",", 1)[1]
    for candidate in sigs.split(" "):
        version, _, value = candidate.partition(",")
        if version == "v1" and value and hmac.compare_digest(value.encode(), expected.encode()):
            return True
    return False
