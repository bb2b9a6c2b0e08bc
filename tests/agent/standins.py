"""Local stand-in servers speaking real wire formats: the Chat Completions API and a CRM."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class StandIn:
    """A tiny HTTP server in a thread; ``reply(request) -> (status, body_dict, delay_s)``."""

    def __init__(self, reply):
        self.reply = reply
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                request = {"method": self.command, "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                           "json": json.loads(raw) if raw else None}
                outer.requests.append(request)
                status, body, delay = outer.reply(request)
                if delay:
                    time.sleep(delay)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def chat_completion(content: str) -> dict:
    """A Chat Completions response body, as the API sends it."""
    return {"id": "chatcmpl-standin", "object": "chat.completion", "created": int(time.time()), "model": "stand-in",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}}


def model_json(**fields) -> str:
    base = {"answer": "", "confidence": 0.0, "intent": "out_of_scope", "sentiment": 0.0, "wants_human": False,
            "action": ""}
    return json.dumps({**base, **fields})
