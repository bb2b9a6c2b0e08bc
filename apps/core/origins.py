"""Websocket origin checks by scheme, host AND port.

Channels' ``AllowedHostsOriginValidator`` compares the host name only, so a page on
``http://localhost:9999`` (any other program on the machine, or a proxy on another port) could open
a staff socket riding the session cookie. A socket is same-origin here when its ``Origin`` is
exactly this server's origin as the browser addressed it (the scheme of the connection, or
``X-Forwarded-Proto`` behind a TLS proxy, and the ``Host`` header, which must be in
``ALLOWED_HOSTS``), or one of ``CSRF_TRUSTED_ORIGINS`` (the same rule Django's CSRF check uses).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_normalise(origin: str | None) -> str | None:
    """``scheme://host[:port]`` in lower case, the default port dropped; None if not an http(s) origin."""
    if not origin or not isinstance(origin, str):
        return None
    try:
        parts = urlsplit(origin.strip().rstrip("/").lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path or parts.query or parts.username:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def _headers(scope) -> dict[bytes, bytes]:
    return {k.lower(): v for k, v in scope.get("headers") or []}


def scope_origin(scope) -> str | None:
    """This server's own origin as the client addressed it, or None if its Host is not allowed."""
    headers = _headers(scope)
    host = headers.get(b"host", b"").decode("latin-1").strip().lower()
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    secure = scope.get("scheme") in ("wss", "https")
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        header = proxy[0].removeprefix("HTTP_").replace("_", "-").lower().encode()
        forwarded = headers.get(header, b"").decode("latin-1").split(",")[0].strip().lower()
        if forwarded:
            secure = forwarded == proxy[1]
    return origin_normalise(f"{'https' if secure else 'http'}://{host}")


def _trusted_match(origin: str, pattern: str) -> bool:
    """A CSRF_TRUSTED_ORIGINS entry: exact, or ``scheme://*.domain`` for its subdomains."""
    if "*." in pattern:
        scheme, _, rest = pattern.partition("://*.")
        o_scheme, _, o_host = origin.partition("://")
        return o_scheme == scheme.lower() and (o_host == rest.lower() or o_host.endswith("." + rest.lower()))
    return origin == origin_normalise(pattern)


def origin_same_site(origin: str | None, scope) -> bool:
    """True when ``origin`` is this server itself, or a trusted origin (CSRF_TRUSTED_ORIGINS)."""
    normalised = origin_normalise(origin)
    if normalised is None:
        return False
    if normalised == scope_origin(scope):
        return True
    return any(_trusted_match(normalised, p) for p in getattr(settings, "CSRF_TRUSTED_ORIGINS", []))


def origin_listed(origin: str | None, allowed: list) -> bool:
    """``origin`` equals an entry of ``allowed`` (scheme, host and port; ``"*"`` allows any site)."""
    if "*" in allowed:
        return origin_normalise(origin) is not None
    normalised = origin_normalise(origin)
    return normalised is not None and any(normalised == origin_normalise(str(a)) for a in allowed)


class SameOriginValidator:
    """ASGI middleware for staff sockets: refuse the handshake (HTTP 403) unless same-origin."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            origin = _headers(scope).get(b"origin", b"").decode("latin-1") or None
            if not origin_same_site(origin, scope):
                denier = WebsocketDenier()
                return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
