"""The copilot on OpenAI, against a local stand-in server speaking the Chat Completions wire
format (the real openai client, real HTTP); a failing server falls back to the offline copilot."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from apps.copilot.models import CopilotSuggestion

from .conftest import chat

pytestmark = pytest.mark.django_db


class StandIn:
    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self.delay = 0.0
        self.reply = "Please restart the router; if the light stays red we will send a technician."
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if outer.delay:
                    time.sleep(outer.delay)
                if outer.status != 200:
                    payload = {"error": {"message": "overloaded", "type": "server_error"}}
                else:
                    payload = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": body["model"],
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": outer.reply}}],
                               "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(outer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def openai_server(settings):
    server = StandIn()
    settings.COPILOT_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = server.url
    settings.OPENAI_API_KEY = "sk-test-copilot-key"
    settings.OPENAI_MODEL = "gpt-test"
    settings.OPENAI_TIMEOUT = 5
    settings.OPENAI_MAX_RETRIES = 0
    yield server
    server.close()


def test_reply_draft_from_the_model_grounded_in_allowed_kb_only(client, kb, openai_server):
    conv = chat(kb, text="Is there a welcome discount code? Also my ONT light is red.")
    client.force_login(kb.collab_a)
    response = client.get(reverse("copilot-suggest", args=[conv.pk]))
    assert response.status_code == 200
    row = CopilotSuggestion.objects.get(kind="reply")
    assert row.provider == "openai" and row.text == openai_server.reply
    assert row.sources and kb.extra["docs"]["sales"].pk not in {s["document_id"] for s in row.sources}
    (request,) = openai_server.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-test-copilot-key"
    assert request["body"]["model"] == "gpt-test"
    sent = json.dumps(request["body"], ensure_ascii=False)
    assert "ONT light is red" in sent and "ZEBRA" not in sent  # the Sales document never left the machine


def test_summary_and_rewrite_through_the_model(client, kb, openai_server):
    conv = chat(kb, text="Mi luz del ONT está roja", language="es")
    client.force_login(kb.collab_a)
    openai_server.reply = "Customer reports a red ONT light."
    client.post(reverse("copilot-summary", args=[conv.pk]), {"scope": "conversation"})
    assert CopilotSuggestion.objects.get(kind="summary").text == "Customer reports a red ONT light."
    openai_server.reply = "Desenchufe el router."
    client.post(reverse("copilot-rewrite", args=[conv.pk]), {"style": "translate", "body": "Unplug the router."})
    row = CopilotSuggestion.objects.get(kind="rewrite")
    assert (row.text, row.provider) == ("Desenchufe el router.", "openai")
    system = openai_server.requests[-1]["body"]["messages"][0]["content"]
    assert "Translate the agent's draft into Spanish" in system  # the customer's language


def test_server_failure_falls_back_to_the_offline_copilot(client, kb, openai_server):
    openai_server.status = 500
    conv = chat(kb, text="My ONT light is red, what should I do?")
    client.force_login(kb.collab_a)
    client.get(reverse("copilot-suggest", args=[conv.pk]))
    row = CopilotSuggestion.objects.get(kind="reply")
    assert row.provider == "local" and "red" in row.text.lower()
    assert len(openai_server.requests) == 1
    response = client.get(reverse("copilot-suggest", args=[conv.pk]))
    assert "did not answer; this is the offline version" in response.content.decode()


def test_slow_model_gives_up_after_the_copilot_timeout_without_retrying(client, kb, openai_server, settings):
    """The copilot has its own short budget (COPILOT_TIMEOUT, no retries), whatever the AI Agent's
    OPENAI_TIMEOUT / OPENAI_MAX_RETRIES say: the human gets the offline draft at once."""
    settings.OPENAI_TIMEOUT, settings.OPENAI_MAX_RETRIES = 30, 3
    settings.COPILOT_TIMEOUT, settings.COPILOT_MAX_RETRIES = 0.4, 0
    openai_server.delay = 2.0
    conv = chat(kb, text="My ONT light is red, what should I do?")
    client.force_login(kb.collab_a)
    started = time.perf_counter()
    response = client.get(reverse("copilot-suggest", args=[conv.pk]))
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert CopilotSuggestion.objects.get(kind="reply").provider == "local"
    assert len(openai_server.requests) == 1  # no retry
    assert elapsed < 1.8  # gave up before the model answered


def test_openai_chosen_but_not_configured_stays_offline(settings):
    from apps.copilot.services import provider_name

    settings.COPILOT_PROVIDER, settings.OPENAI_API_KEY, settings.OPENAI_BASE_URL = "openai", "", ""
    assert provider_name() == "local"
    settings.OPENAI_API_KEY = "sk-x"
    assert provider_name() == "openai"
