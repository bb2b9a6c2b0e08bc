"""Embeddings: the local model, and the OpenAI path against a local stand-in /v1/embeddings server."""
from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from apps.knowledge import embeddings, services, vectorstore
from apps.knowledge.models import DocumentStatus
from apps.knowledge.search import knowledge_search

DIM = 16


def fake_vector(text: str) -> list[float]:
    """Deterministic: texts sharing words get similar vectors (bag of hashed words)."""
    vector = np.zeros(DIM, dtype=np.float32)
    for word in text.lower().split():
        vector[int(hashlib.md5(word.strip("?.,!").encode()).hexdigest(), 16) % DIM] += 1.0
    return (vector * 3.0).tolist()  # deliberately not unit length


class StandIn(BaseHTTPRequestHandler):
    requests: list[dict] = []
    fail = False

    def log_message(self, *args):
        pass

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StandIn.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        if self.path != "/v1/embeddings" or StandIn.fail:
            self.send_response(500 if StandIn.fail else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "boom", "type": "server_error"}}')
            return
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for index, text in enumerate(inputs):
            vector = fake_vector(text)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        payload = json.dumps({"object": "list", "data": data, "model": body["model"],
                              "usage": {"prompt_tokens": 5, "total_tokens": 5}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def openai_server(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    StandIn.requests, StandIn.fail = [], False
    settings.EMBEDDINGS_PROVIDER = "openai"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{server.server_address[1]}/v1"
    settings.OPENAI_API_KEY = "test-key"
    settings.OPENAI_EMBEDDINGS_MODEL = "stand-in-embed"
    vectorstore.reset_for_tests()
    yield server
    server.shutdown()
    server.server_close()
    vectorstore.reset_for_tests()


def test_local_embeddings_are_unit_float32_and_multilingual():
    vectors = embeddings.embed_texts(["My internet is not working", "Mi internet no funciona",
                                      "What is the price of the TV package?"])
    assert vectors.shape == (3, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert embeddings.embed_texts([]).shape == (0, 512)


def test_openai_embeddings_wire_format(openai_server):
    vectors = embeddings.embed_texts(["router restart", "pay the bill"])
    assert vectors.shape == (2, DIM) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    request = StandIn.requests[-1]
    assert request["path"] == "/v1/embeddings" and request["auth"] == "Bearer test-key"
    assert request["body"]["model"] == "stand-in-embed" and request["body"]["input"] == ["router restart",
                                                                                         "pay the bill"]
    expected = np.asarray(fake_vector("router restart"), dtype=np.float32)
    assert np.allclose(vectors[0], expected / np.linalg.norm(expected), atol=1e-5)
    assert embeddings.embedding_space().startswith("openai_")


def test_openai_path_end_to_end_ingest_and_search(openai_server):
    document = services.document_create(title="g", filename="g.md", data=(
        b"# Restart\nunplug router wait thirty seconds\n\n# Billing\npay bill mercado pago card transfer\n"))
    document = services.document_ingest(document_id=document.pk)
    assert document.status == DocumentStatus.READY, document.error
    assert vectorstore.collection_name().startswith("kb_openai_")
    hits = knowledge_search("pay bill card", k=1)
    assert hits and hits[0].heading == "Billing"


def test_openai_failure_is_a_clear_error_and_keeps_nothing(openai_server):
    StandIn.fail = True
    document = services.document_create(title="g", filename="g.md", data=b"# A\nsome text here\n")
    document = services.document_ingest(document_id=document.pk)
    assert document.status == DocumentStatus.ERROR
    assert "embeddings service failed" in document.error
    assert document.chunks.count() == 0


def test_repeated_texts_are_embedded_once(monkeypatch):
    calls: list[list[str]] = []
    real = embeddings._embed_local

    def counting(texts):
        calls.append(list(texts))
        return real(texts)

    monkeypatch.setattr(embeddings, "_embed_local", counting)
    embeddings.memo_clear()
    first = embeddings.embed_texts(["alpha text", "beta text", "alpha text"])
    second = embeddings.embed_texts(["beta text", "gamma text"])
    assert calls == [["alpha text", "beta text"], ["gamma text"]]
    assert np.array_equal(first[0], first[2]) and np.array_equal(first[1], second[0])
