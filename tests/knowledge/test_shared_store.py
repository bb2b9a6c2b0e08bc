"""Several processes share one vector store through the chromadb server (`chroma run`, CHROMA_URL):
a document ingested by another process (a Celery worker in production) is found at once by this
one (a web process), without a restart, and a replaced document's old text is gone."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from apps.knowledge import search, vectorstore
from apps.knowledge.search import knowledge_search

ROOT = Path(__file__).resolve().parents[2]
CHROMA = shutil.which("chroma") or str(Path(sys.executable).with_name("chroma"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path, settings):
    if not Path(CHROMA).exists():
        pytest.skip("the chroma command (chromadb package) is not installed")
    port = _free_port()
    proc = subprocess.Popen([CHROMA, "run", "--host", "127.0.0.1", "--port", str(port), "--path",
                             str(tmp_path / "chroma-server")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the chroma server did not start")
        settings.CHROMA_URL = url
        vectorstore.reset_for_tests()
        search.cache_clear()
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        vectorstore.reset_for_tests()
        search.cache_clear()


def _ingest_in_another_process(url: str, file: Path) -> None:
    """``manage.py kb_ingest`` in a separate process, on this test's database and the same server."""
    db = connection.settings_dict
    env = {**os.environ, "CHROMA_URL": url, "MEDIA_ROOT": str(file.parent / "media"), "LOG_LEVEL": "WARNING"}
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        env.pop("DATABASE_URL", None)
        env["SQLITE_PATH"] = db["NAME"]
    result = subprocess.run([sys.executable, "manage.py", "kb_ingest", str(file), "--language", "en"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.django_db(transaction=True)
def test_a_document_ingested_by_another_process_is_found_here_at_once(cast, chroma_server, tmp_path):
    assert knowledge_search("How long does the router take to restart?") == []  # this process has a (empty) cache
    doc = tmp_path / "router.md"
    doc.write_text("# Router restart\nUnplug the router for 30 seconds to restart it.\n")
    _ingest_in_another_process(chroma_server, doc)
    hits = knowledge_search("How long does the router take to restart?")
    assert hits and "30 seconds" in hits[0].text
    # The other process replaces the document: the old text is gone here too.
    doc.write_text("# Router restart\nHold the reset button for 10 seconds to restart it.\n")
    _ingest_in_another_process(chroma_server, doc)
    texts = [h.text for h in knowledge_search("How long does the router take to restart?", k=10)]
    assert any("10 seconds" in t for t in texts) and not any("30 seconds" in t for t in texts)
