"""Websocket origins are compared by scheme, host AND port: a page on another port of the same
host, or the same host over another scheme, is a foreign site (the host-name-only check let
``http://localhost:9999`` and ``https://127.0.0.1:1`` open staff sockets)."""
from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client

from apps.core.origins import origin_listed, origin_normalise, origin_same_site

pytestmark = pytest.mark.django_db(transaction=True)
KEY = "pk-origin-widget"


def scope(host: str, scheme: str = "ws", **headers) -> dict:
    return {"scheme": scheme, "headers": [(b"host", host.encode()),
                                          *[(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]]}


def test_origin_normalise():
    assert origin_normalise("HTTPS://Shop.Example:443/") == "https://shop.example"
    assert origin_normalise("http://localhost:80") == "http://localhost"
    assert origin_normalise("http://localhost:9999") == "http://localhost:9999"
    for bad in (None, "", "null", "file://x", "javascript:alert(1)", "http://a:b@host", "http://host/path",
                "http://host:99999", 5):
        assert origin_normalise(bad) is None, bad


@pytest.mark.parametrize("origin,allowed", [
    ("http://localhost:8000", True),
    ("http://localhost:9999", False),
    ("https://localhost:8000", False),
    ("http://127.0.0.1:8000", False),
    ("https://127.0.0.1:1", False),
    ("http://localhost", False),
    ("http://evil.example", False),
    (None, False),
])
def test_same_site_by_scheme_host_and_port(origin, allowed):
    assert origin_same_site(origin, scope("localhost:8000")) is allowed


def test_same_site_behind_a_tls_proxy_and_trusted_origins(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLOWED_HOSTS = ["chat.example"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://admin.example", "https://*.corp.example"]
    proxied = scope("chat.example", x_forwarded_proto="https")
    assert origin_same_site("https://chat.example", proxied)
    assert not origin_same_site("http://chat.example", proxied)
    assert not origin_same_site("https://chat.example:8443", proxied)
    assert origin_same_site("https://admin.example", proxied)
    assert not origin_same_site("https://admin.example:444", proxied)
    assert origin_same_site("https://eu.corp.example", proxied)
    assert not origin_same_site("http://eu.corp.example", proxied)
    # A Host that is not allowed is never "this server".
    assert not origin_same_site("https://evil.example", scope("evil.example", x_forwarded_proto="https"))


def test_widget_allowed_origins_are_exact():
    allowed = ["https://shop.example", "http://localhost:3000"]
    assert origin_listed("https://shop.example", allowed) and origin_listed("https://SHOP.example:443", allowed)
    for origin in ("http://shop.example", "https://shop.example:8443", "https://shop.example.evil.com",
                   "http://localhost:3001", "http://localhost"):
        assert not origin_listed(origin, allowed), origin
    assert origin_listed("https://anything.example", ["*"]) and not origin_listed("null", ["*"])


def _connects(path: str, origin: str, host: str = "localhost:8000", cookie: str = "") -> bool:
    from asisteclick.asgi import application

    async def run():
        headers = [(b"origin", origin.encode()), (b"host", host.encode())]
        if cookie:
            headers.append((b"cookie", cookie.encode()))
        comm = WebsocketCommunicator(application, path, headers=headers)
        ok, _ = await comm.connect()
        if ok:
            await comm.disconnect()
        return ok

    return async_to_sync(run)()


def test_staff_socket_through_the_real_asgi_app(cast):
    client = Client()
    client.force_login(cast.collab_a)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    assert _connects("/ws/staff/", "http://localhost:8000", cookie=cookie)
    for origin in ("http://localhost:9999", "https://127.0.0.1:1", "https://localhost:8000", "http://localhost",
                   "http://127.0.0.1:8000", "null"):
        assert not _connects("/ws/staff/", origin, cookie=cookie), origin


def test_widget_socket_through_the_real_asgi_app(cast):
    cast.channel.config = {"public_key": KEY, "allowed_origins": ["https://shop.example"]}
    cast.channel.save(update_fields=["config"])
    path = f"/ws/widget/?key={KEY}"
    assert _connects(path, "https://shop.example")
    assert _connects(path, "http://localhost:8000")  # this server itself (the demo page)
    for origin in ("http://shop.example", "https://shop.example:8443", "http://localhost:9999",
                   "https://127.0.0.1:1", "https://evil.example"):
        assert not _connects(path, origin), origin
