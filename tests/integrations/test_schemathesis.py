"""Schema fuzzing with schemathesis against a live server: no 5xx on generated input, and its
object-level authorization check (two Collaborators of different departments as peers, plus an
Operator for the operations they may not use) finds nothing. Bounded by --max-time."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from apps.conversations.models import Status
from tests.factories import conversation_in

from .conftest import token_client

SCHEMATHESIS = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))


def peer_objects(cast) -> None:
    """collab_a owns chats of one customer in Technical Support, collab_b of another in Sales.

    Bot-only filler chats first, so the peers' ids do not collide with the small ids of
    departments, channels and users (schemathesis decides ownership by where a value appears)."""
    from apps.conversations import services
    from apps.conversations.models import Contact

    for n in range(12):  # one filler customer each (one open chat per customer and channel)
        services.conversation_start(contact=Contact.objects.create(name=f"Filler {n}"), channel=cast.channel)
    conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_a, assignee=cast.collab_a)
    conversation_in(cast, Status.UNASSIGNED, department=cast.dept_a)
    conversation_in(cast, Status.IN_PROGRESS, department=cast.dept_b, assignee=cast.collab_b,
                    contact=cast.other_customer)
    conversation_in(cast, Status.UNASSIGNED, department=cast.dept_b, contact=Contact.objects.create(name="Otto Too"))


def _all_ids(client, path: str) -> set[int]:
    ids, url = set(), f"{path}?limit=200"
    while url:
        resp = client.get(url)
        assert resp.status_code in (200, 403), (path, resp.status_code)
        if resp.status_code == 403:
            return set()
        body = resp.json()
        ids |= {row["id"] for row in body["results"]}
        url = body.get("next")
    return ids


@pytest.mark.django_db
def test_every_detail_operation_hides_the_other_peers_objects(cast):
    """The deterministic half of the object-level check, driven by the schema itself: every GET
    operation with an {id} is replayed by the other peer for each object only the owner lists;
    it must answer 404 (or 403 for a function the peer may not use at all)."""
    peer_objects(cast)
    from rest_framework.test import APIClient

    browser = APIClient()
    browser.force_login(cast.operator)
    schema = browser.get("/api/schema/?format=json").json()
    detail_ops = [p for p, item in schema["paths"].items() if "{id}" in p and "get" in item]
    assert "/api/v1/conversations/{id}/" in detail_ops and "/api/v1/contacts/{id}/" in detail_ops
    clients = {"collab_a": token_client(cast.collab_a), "collab_b": token_client(cast.collab_b)}
    checked = 0
    for owner, peer in (("collab_a", "collab_b"), ("collab_b", "collab_a")):
        for path in detail_ops:
            collection = path.split("{id}")[0]
            owned = _all_ids(clients[owner], collection) - _all_ids(clients[peer], collection)
            for obj_id in owned:
                url = path.replace("{id}", str(obj_id))
                assert clients[owner].get(url).status_code == 200, url
                code = clients[peer].get(url).status_code
                assert code in (403, 404), f"{peer} read {owner}'s {url}: {code}"
                checked += 1
    assert checked >= 8  # conversations, their messages, contacts, departments for both peers


def _schemathesis(base_url: str, tmp_path: Path, name: str, extra: list[str]) -> subprocess.Popen:
    cmd = [SCHEMATHESIS, *extra[:2], "run", str(tmp_path / "schema.json"), "--url", base_url,
           "--max-examples", "8", "--max-time", "25", "--workers", "1", "--seed", "1234",
           "--no-color", "--warnings", "off",
           # NUL bytes in generated strings (PostgreSQL refuses them: they must be a 400, not a 500).
           "--generation-allow-x00", "true",
           # Revoking the token under test would only turn the rest of the run into 401s.
           "--exclude-operation-id", "v1_tokens_destroy", *extra[2:]]
    return subprocess.Popen(cmd, stdout=open(tmp_path / f"{name}.log", "w"), stderr=subprocess.STDOUT,
                            env={**os.environ, "SCHEMATHESIS_HOOKS": os.environ.get("ST_HOOKS", "")}, cwd=tmp_path)


@pytest.mark.django_db(transaction=True)
def test_schemathesis_finds_no_5xx_and_no_object_level_leak(live_server_reads_chunked_bodies, cast, tmp_path,
                                                            monkeypatch):
    """Two bounded runs in parallel: the peers (collab_a, collab_b: the WFC document holds only
    them, so every read is made by a peer and replayed by the other) with the object-level
    authorization check over the conversation operations, and an Operator run over every
    operation for "no 5xx". (Checked: replacing the visibility lookup of the conversation
    viewset with a plain ``get`` makes this test fail with an ObjectLevelAuthorizationViolation;
    with an Operator identity in the WFC document the check never runs, because every read then
    escalates to the Operator, who is not a peer.) Schemathesis sends some bodies chunked: the
    server reads them as daphne does (Django's test server alone answered the last chunk as a
    request, a rare "Network Error" in CI)."""
    live_server = live_server_reads_chunked_bodies
    assert Path(SCHEMATHESIS).exists(), "schemathesis is in the dev extra: `python3 run.py install` installs it"
    from apps.integrations.api.base import ApiThrottle

    monkeypatch.setattr(ApiThrottle, "rate", "100000/min")
    peer_objects(cast)
    tokens = {name: token_client(getattr(cast, name)).raw_token for name in ("collab_a", "collab_b", "operator")}
    # One schema file for both runs (the served one, fetched once).
    schema = token_client(cast.operator).get("/api/schema/?format=json")
    assert schema.status_code == 200
    (tmp_path / "schema.json").write_bytes(schema.content)
    wfc = {"auth": [{"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {tokens[name]}"}]}
                    for name in ("collab_a", "collab_b")]}
    (tmp_path / "auth.json").write_text(json.dumps(wfc))
    (tmp_path / "schemathesis.toml").write_text(
        f'[auth.wfc]\npath = "{tmp_path / "auth.json"}"\npeers = ["collab_a", "collab_b"]\n')
    runs = {
        "peers": _schemathesis(live_server.url, tmp_path, "peers", [
            "--config-file", str(tmp_path / "schemathesis.toml"),
            "--checks", "not_a_server_error,object_level_authorization", "--phases", "fuzzing,stateful",
            # The peers focus on the objects they own; the Operator run covers every operation.
            "--include-path-regex", "^/api/v1/conversations/"]),
        "operator": _schemathesis(live_server.url, tmp_path, "operator", [
            "--config-file", str(tmp_path / "none.toml"),
            "--checks", "not_a_server_error", "--phases", "coverage,fuzzing",
            "-H", f"Authorization: Bearer {tokens['operator']}"]),
        # A Collaborator of the other department over every operation: refusals are 4xx, never 5xx.
        "collab_b": _schemathesis(live_server.url, tmp_path, "collab_b", [
            "--config-file", str(tmp_path / "none.toml"),
            "--checks", "not_a_server_error", "--phases", "coverage,fuzzing",
            "-H", f"Authorization: Bearer {tokens['collab_b']}"]),
    }
    (tmp_path / "none.toml").write_text("")
    failures = []
    for name, proc in runs.items():
        code = proc.wait(timeout=90)
        out = (tmp_path / f"{name}.log").read_text()
        if os.environ.get("ST_DEBUG"):
            Path(f"/tmp/st_{name}.txt").write_text(out)
        if code != 0 or "No issues found" not in out:
            failures.append(f"--- {name} (exit {code}) ---\n{out[-5000:]}")
    assert not failures, "\n".join(failures)
