"""Offline evaluation of the agent on scripted conversations (``manage.py evaluate_agent``).

Each JSONL line: ``{"id": "...", "messages": ["customer turn", ...], "expected": {"outcome":
"resolved"|"handoff", "trigger": ..., "department": ...}}``. Every conversation runs through the
real services and the configured provider, KB and topics, inside a transaction that is rolled back,
so an evaluation leaves nothing behind. A handoff is expected on the *last* customer turn; an
answer given on that turn (or a conversation that ends resolved) counts as a wrong answer.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from apps.conversations import services as conv_services
from apps.conversations.models import Channel, Contact, Conversation, Status

from ..models import TRIGGERS


class ScenarioError(ValueError):
    pass


class _Rollback(Exception):
    pass


class _Recorder:
    """The provider, recording what it read of each turn for the details: the draft answer the
    decision saw (given or not) and every candidate passage of its selection (evaluation only:
    why a conversation was handed off, ``bench/handoff_causes.py``)."""

    def __init__(self, provider):
        self.provider = provider
        self.name = getattr(provider, "name", "")
        self.last: dict = {}

    def __getattr__(self, name):
        return getattr(self.provider, name)

    def analyse(self, ctx):
        from ..compose import candidates_capture

        self.last = {}
        with candidates_capture() as candidates:
            analysis = self.provider.analyse(ctx)
        self.last = {"draft": analysis.answer, "topic": analysis.topic_slug,
                     "candidates": [c["text"] for c in candidates]}
        return analysis


def _check_row(row: dict, number: int, seen: set) -> None:
    """Every field of a scenario line, with the line number in the error."""
    def fail(message: str):
        raise ScenarioError(f"line {number}: {message}")

    if not isinstance(row, dict):
        fail("must be a JSON object")
    messages, expected = row.get("messages"), row.get("expected")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, str) and m.strip() for m in messages):
        fail("messages must be a non-empty list of texts")
    if not isinstance(expected, dict) or expected.get("outcome") not in ("resolved", "handoff"):
        fail("expected.outcome must be resolved or handoff")
    row_id = row.get("id", f"line-{number}")
    if not isinstance(row_id, str) or not row_id.strip():
        fail("id must be a non-empty text")
    if row_id in seen:
        fail(f"duplicate id {row_id!r}")
    seen.add(row_id)
    language = row.get("language", row.get("lang", ""))
    if language not in ("", "en", "es"):
        fail(f"language must be en or es, not {language!r}")
    trigger = expected.get("trigger")
    if trigger is not None and trigger not in TRIGGERS:
        fail(f"expected.trigger must be one of {', '.join(TRIGGERS)} or null, not {trigger!r}")
    if expected["outcome"] == "resolved" and (trigger or expected.get("department")):
        fail("a resolved conversation has no trigger and no department")
    department = expected.get("department")
    if department is not None and not (isinstance(department, str) and department.strip()):
        fail("expected.department must be a department's slug or name, or null")
    facts = expected.get("facts", [])
    if not isinstance(facts, list) or not all(isinstance(f, str) and f.strip() for f in facts):
        fail("expected.facts must be a list of non-empty texts")
    if facts and expected["outcome"] == "handoff":
        fail("expected.facts belong to resolved conversations (a handoff has none)")
    if not isinstance(row.get("category", ""), str):
        fail("category must be a text")


def load_scenarios(path) -> list[dict]:
    """The scenario lines of ``path``, each validated (ScenarioError names the line and field)."""
    rows, seen = [], set()
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip() or line.lstrip().startswith("//"):
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ScenarioError(f"line {number}: not JSON: {exc}") from exc
            _check_row(row, number, seen)
            row.setdefault("id", f"line-{number}")
            if "language" not in row and "lang" in row:
                row["language"] = row["lang"]
            rows.append(row)
    return rows


@dataclass
class Outcome:
    outcome: str
    trigger: str
    department: str
    wrong_answer: bool
    turns: list[dict]


def run_scenario(row: dict, *, provider=None) -> Outcome:
    from ..compose import declares_quote
    from ..services import agent_handle_message
    from .scoring import reply_language_ok

    from ..providers import provider_get

    recorder = _Recorder(provider or provider_get())
    turns: list[dict] = []
    result_holder: dict = {}
    try:
        with transaction.atomic():
            channel = Channel.objects.create(name="evaluation", kind=Channel.Kind.API)
            contact = Contact.objects.create(name="Evaluation customer", external_ref=row.get("customer_ref", "FS-0000001"),
                                             language=row.get("language", ""))
            conv = conv_services.conversation_start(contact=contact, channel=channel)
            outcome, trigger, department = "resolved", "", ""
            last_decision = ""
            for text in row["messages"]:
                conv = Conversation.objects.get(pk=conv.pk)
                if conv.status != Status.BOT:
                    break
                msg, _created = conv_services.message_receive(channel=channel, contact=contact, body=text,
                                                              conversation=conv)
                recorder.last = {}
                result = agent_handle_message(conversation_id=conv.pk, message_id=msg.pk, provider=recorder)
                reply = "\n".join(result.replies)
                language = row.get("language", "")
                turns.append({"customer": text, "decision": result.decision, "trigger": result.trigger,
                              "department": result.department, "intent": result.intent, "replies": result.replies,
                              "sources": result.sources, "scores": result.scores, "latency_ms": result.latency_ms,
                              "language_ok": result.decision != "answer" or reply_language_ok(
                                  reply, language, declared_quote=declares_quote(reply, language)),
                              "read": recorder.last})
                last_decision = result.decision
                if result.decision in ("handoff", "collect"):
                    outcome, trigger, department = "handoff", result.trigger, result.department
                    if result.decision == "handoff":
                        break
            result_holder.update(outcome=outcome, trigger=trigger, department=department,
                                 last=last_decision, answered_last=len(turns) == len(row["messages"])
                                 and last_decision == "answer")
            raise _Rollback
    except _Rollback:
        pass
    expected = row["expected"]
    wrong = expected["outcome"] == "handoff" and (result_holder["outcome"] == "resolved" or result_holder["answered_last"])
    return Outcome(result_holder["outcome"], result_holder["trigger"], result_holder["department"], wrong, turns)


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def evaluate(rows: list[dict], *, provider=None, on_progress=None, details=None,
             department_names: dict[str, str] | None = None) -> dict:
    from .scoring import department_matches, scenario_score, summarise

    outcomes, verdicts = [], []
    for i, row in enumerate(rows):
        out = run_scenario(row, provider=provider)
        outcomes.append(out)
        verdict = scenario_score(row, out.turns, department_names=department_names)
        verdicts.append(verdict)
        if details is not None:
            details.write(json.dumps({"id": row["id"], "language": row.get("language", ""),
                                      "category": row.get("category", ""), "messages": row["messages"],
                                      "expected": row["expected"],
                                      "actual": {"outcome": out.outcome, "trigger": out.trigger,
                                                 "department": out.department, "wrong_answer": out.wrong_answer},
                                      "verdict": verdict, "turns": out.turns}, ensure_ascii=False) + "\n")
        if on_progress:
            on_progress(i + 1, len(rows), row, out, verdict)
    n = len(rows)
    resolved = sum(1 for o in outcomes if o.outcome == "resolved")
    exp_resolved = [i for i, r in enumerate(rows) if r["expected"]["outcome"] == "resolved"]
    exp_handoff = [i for i, r in enumerate(rows) if r["expected"]["outcome"] == "handoff"]
    per_trigger = {}
    for trig in TRIGGERS + ("agent_error",):
        predicted = [i for i, o in enumerate(outcomes) if o.outcome == "handoff" and o.trigger == trig]
        expected = [i for i in exp_handoff if rows[i]["expected"].get("trigger") == trig]
        tp = len(set(predicted) & set(expected))
        # the measure: this trigger, on the turn it was due, to the right department
        strict = sum(1 for i in expected if verdicts[i]["trigger_ok"] and verdicts[i]["department_ok"])
        if predicted or expected:
            per_trigger[trig] = {"expected": len(expected), "predicted": len(predicted), "correct": tp,
                                 "precision": _ratio(tp, len(predicted)), "recall": _ratio(tp, len(expected)),
                                 "recall_on_time_and_department": _ratio(strict, len(expected)),
                                 "wrong_answers": sum(1 for i in expected if outcomes[i].wrong_answer)}
    routed = [i for i in exp_handoff if outcomes[i].outcome == "handoff" and rows[i]["expected"].get("department")]
    routing_ok = sum(1 for i in routed if department_matches(rows[i]["expected"]["department"], outcomes[i].department,
                                                                 department_names))
    handoff_tp = sum(1 for i in exp_handoff if outcomes[i].outcome == "handoff")
    latencies = [t["latency_ms"] for o in outcomes for t in o.turns]
    return {
        "scores": summarise(rows, verdicts),
        "conversations": n,
        "turns": len(latencies),
        "deflection_rate": _ratio(resolved, n),
        "resolved_when_expected": _ratio(sum(1 for i in exp_resolved if outcomes[i].outcome == "resolved"),
                                         len(exp_resolved)),
        "handoff_precision": _ratio(handoff_tp, sum(1 for o in outcomes if o.outcome == "handoff")),
        "handoff_recall": _ratio(handoff_tp, len(exp_handoff)),
        "per_trigger": per_trigger,
        "routing_accuracy": _ratio(routing_ok, len(routed)),
        "routing_checked": len(routed),
        "wrong_answers_where_handoff_expected": sum(1 for i in exp_handoff if outcomes[i].wrong_answer),
        "wrong_answers_explicit_or_out_of_scope": sum(
            1 for i in exp_handoff if outcomes[i].wrong_answer
            and rows[i]["expected"].get("trigger") in ("explicit_request", "out_of_scope")),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 2) if latencies else None,
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 2) if latencies else None,
    }
