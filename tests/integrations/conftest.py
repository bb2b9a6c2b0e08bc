"""Fixtures for the integrations tests: wire-format fixtures (tests/fixtures/), tokens, eager Celery, stand-ins."""
from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rest_framework.test import APIClient

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"  # in the repository: see tests/fixtures/README.md


def fixture_path(*parts: str) -> Path:
    path = FIXTURES.joinpath(*parts)
    assert path.exists(), f"missing test fixture {path}"
    return path


def load_json(*parts: str):
    return json.loads(fixture_path(*parts).read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """No collectstatic in tests: the production manifest storage would fail on admin/docs pages."""
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


@pytest.fixture
def eager_celery():
    """Run tasks in-process even when REDIS_URL configured a real broker (PostgreSQL pass)."""
    from asisteclick.celery import app

    old = app.conf.task_always_eager, app.conf.task_eager_propagates
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, True
    yield app
    app.conf.task_always_eager, app.conf.task_eager_propagates = old


def token_client(user, scope="write", integration=None) -> APIClient:
    from apps.integrations.models import ApiToken

    _token, raw = ApiToken.issue(user=user, name=f"t-{user.username}", scope=scope, integration=integration)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.raw_token = raw
    return client


class StandIn:
    """A tiny local HTTP server that records requests and answers with canned JSON."""

    def __init__(self):
        self.requests: list[dict] = []
        self.responses: list[tuple[int, dict]] = []
        self.default = (200, {})
        # GET path -> (status, content type, body bytes): media files and Graph's media lookups.
        self.files: dict[str, tuple[int, str, bytes]] = {}
        # POST path ending -> [(status, JSON)] answered first, in order (e.g. "/media" uploads).
        self.routes: dict[str, list[tuple[int, dict]]] = {}
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stand_in.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                route = next((v for k, v in stand_in.routes.items() if self.path.endswith(k) and v), None)
                code, data = (route.pop(0) if route else stand_in.responses.pop(0) if stand_in.responses
                              else stand_in.default)
                out = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):  # noqa: N802
                stand_in.requests.append({"path": self.path, "headers": dict(self.headers), "body": b"",
                                          "method": "GET"})
                code, ctype, out = stand_in.files.get(self.path, (404, "application/json", b'{"error": {}}'))
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def multipart_fields(request: dict) -> dict:
    """A recorded multipart/form-data POST as {field: (file name or None, content type, bytes)}."""
    import email
    import email.policy

    head = f"Content-Type: {request['headers']['Content-Type']}\r\n\r\n".encode()
    parsed = email.message_from_bytes(head + request["body"], policy=email.policy.HTTP)
    assert parsed.is_multipart(), request["headers"]["Content-Type"]
    return {part.get_param("name", header="content-disposition"):
            (part.get_filename(), part.get_content_type(), part.get_payload(decode=True))
            for part in parsed.iter_parts()}


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.close()


def read_chunked(stream) -> bytes:
    """An HTTP/1.1 chunked request body (RFC 9112 section 7.1), read to its last chunk and trailers."""
    body = bytearray()
    while True:
        size = int(stream.readline(65537).split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailer fields
            return bytes(body)
        body += stream.read(size)
        stream.readline(65537)  # the CRLF after the chunk


@pytest.fixture
def live_server_reads_chunked_bodies(live_server, monkeypatch):
    """The live server, reading chunked request bodies as production's daphne does.

    Django's test server (a WSGI development server) does not read a body sent with
    ``Transfer-Encoding: chunked``: it leaves the chunks on the keep-alive connection, and reads
    their last line ("0") as the next request, answering it with a bare error page that the
    client takes for the reply to its next request (schemathesis reported it as a network error).
    Here the body is read and handed to the application with its length, as daphne hands it."""
    from django.core.servers.basehttp import WSGIRequestHandler

    parse_request, handle_one_request = WSGIRequestHandler.parse_request, WSGIRequestHandler.handle_one_request

    def parse_and_read_chunked(self):
        if not parse_request(self):
            return False
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = read_chunked(self.rfile)
            del self.headers["Transfer-Encoding"], self.headers["Content-Length"]
            self.headers["Content-Length"] = str(len(body))
            self._connection_rfile, self.rfile = self.rfile, io.BytesIO(body)
        return True

    def one_request(self):
        self._connection_rfile = None
        handle_one_request(self)
        if self._connection_rfile is not None:  # the next request is read from the connection again
            self.rfile = self._connection_rfile

    monkeypatch.setattr(WSGIRequestHandler, "parse_request", parse_and_read_chunked)
    monkeypatch.setattr(WSGIRequestHandler, "handle_one_request", one_request)
    return live_server
