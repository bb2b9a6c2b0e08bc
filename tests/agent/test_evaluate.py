"""manage.py evaluate_agent: figures, --json last line, --details audit lines, nothing left behind."""
from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.conversations.models import Conversation, Message

pytestmark = pytest.mark.django_db


def test_evaluate_agent_reports_and_leaves_nothing(fibrasur, tmp_path):
    dataset = tmp_path / "set.jsonl"
    rows = [
        {"id": "a", "messages": ["How do I file a claim?"], "expected": {"outcome": "resolved"}},
        {"id": "b", "messages": ["quiero hablar con un humano"],
         "expected": {"outcome": "handoff", "trigger": "explicit_request", "department": "Customer Service"}},
        {"id": "c", "messages": ["what's the weather tomorrow?"],
         "expected": {"outcome": "handoff", "trigger": "out_of_scope", "department": "customer-service"}},
        # the right trigger to the wrong department: a hit of the trigger's recall, not of the strict one
        {"id": "d", "messages": ["quiero hablar con un humano"],
         "expected": {"outcome": "handoff", "trigger": "explicit_request", "department": "Sales"}},
    ]
    dataset.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    details = tmp_path / "details.jsonl"
    # the report is under test here, not the answer verifier: the claim question is answered
    from apps.agent.models import AgentSettings

    cfg = AgentSettings.load()
    cfg.confidence_threshold = 0.05
    cfg.save()
    before = (Conversation.objects.count(), Message.objects.count())
    out = StringIO()
    call_command("evaluate_agent", "--dataset", str(dataset), "--json", "--details", str(details), stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["conversations"] == 4
    assert summary["deflection_rate"] == pytest.approx(1 / 4, abs=1e-3)
    assert summary["per_trigger"]["explicit_request"]["recall"] == 1.0
    assert summary["per_trigger"]["explicit_request"]["recall_on_time_and_department"] == 0.5
    assert summary["per_trigger"]["out_of_scope"]["recall_on_time_and_department"] == 1.0
    assert summary["routing_accuracy"] == pytest.approx(2 / 3, abs=1e-3)  # by name (packs) or by slug; d is wrong
    assert summary["wrong_answers_explicit_or_out_of_scope"] == 0
    assert summary["latency_ms_p95"] > 0
    audit = [json.loads(line) for line in details.read_text().splitlines()]
    assert [a["id"] for a in audit] == ["a", "b", "c", "d"]
    assert audit[0]["turns"][0]["sources"] and audit[0]["turns"][0]["replies"]
    assert (Conversation.objects.count(), Message.objects.count()) == before


def test_evaluate_agent_rejects_a_bad_dataset(fibrasur, tmp_path):
    dataset = tmp_path / "bad.jsonl"
    dataset.write_text('{"messages": [], "expected": {"outcome": "maybe"}}\n')
    with pytest.raises(CommandError, match="line 1"):
        call_command("evaluate_agent", "--dataset", str(dataset))
