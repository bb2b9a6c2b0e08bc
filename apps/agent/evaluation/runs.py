"""Reading leave-one-out runs side by side (``bench/loo_runs.py``).

An ``evaluate_agent --leave-one-out --json`` run ends with one JSON line (``businesses``: each left-out
business's summary); with ``--details DIR`` it also writes one ``<business>.jsonl`` per business (every
conversation, its verdict and its turns). Every stop compares such runs the same way: a line of figures
per business, the conversations that changed between two runs, the README's table rows, and the record
of each configuration scored on the left-out businesses (``apps/agent/scenarios/scored-configurations.jsonl``).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

TRIGGERS = ("explicit_request", "low_confidence", "negative_sentiment", "out_of_scope")


def last_json_line(path: str | Path) -> dict:
    """The run's JSON line: the last line of its output that parses as a JSON object."""
    for line in reversed(Path(path).read_text(encoding="utf-8").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    raise ValueError(f"{path}: no JSON line (run evaluate_agent with --json)")


def figures(run: dict) -> dict[str, dict]:
    """Per left-out business, the figures the issues' targets are stated in."""
    out = {}
    for name, summary in run["businesses"].items():
        scores = summary["scores"]
        triggers = summary.get("per_trigger", {})
        out[name] = {
            "correct": scores["correct"],
            "answered_with_facts": scores["answered_with_facts"], "resolved_expected": scores["resolved_expected"],
            "answers_with_facts": scores["answers_with_facts"], "answers_given": scores["answers_given"],
            "false_handoffs": scores["false_handoffs"], "premature_handoffs": scores.get("premature_handoffs"),
            "silent_language_switches": scores.get("silent_language_switches"),
            "handoff_precision": summary["handoff_precision"], "routing_accuracy": summary["routing_accuracy"],
            "recall": {t: triggers[t]["recall"] for t in TRIGGERS if t in triggers},
            # the trigger on the turn it was due and to the right department (runs before stop 34 lack it)
            "recall_strict": {t: triggers[t].get("recall_on_time_and_department") for t in TRIGGERS if t in triggers},
            "wrong_answers_explicit_or_out_of_scope": summary["wrong_answers_explicit_or_out_of_scope"],
            "latency_ms_p50": summary.get("latency_ms_p50"), "latency_ms_p95": summary.get("latency_ms_p95"),
        }
    return out


def _pct(value) -> str:
    return "-" if value is None else f"{100 * float(value):.1f}%"


def summary_lines(run: dict) -> list[str]:
    """One terse line per business (for the terminal)."""
    lines = []
    for name, f in figures(run).items():
        recall = " ".join(f"{t.split('_')[0]} {_pct(v)} ({_pct(f['recall_strict'].get(t))})"
                          for t, v in f["recall"].items())
        lines.append(f"{name:14s} correct {_pct(f['correct'])}  with facts {_pct(f['answered_with_facts'])} of "
                     f"{f['resolved_expected']}  of given {_pct(f['answers_with_facts'])} of {f['answers_given']}  "
                     f"false handoffs {f['false_handoffs']}  precision {_pct(f['handoff_precision'])}  "
                     f"routing {_pct(f['routing_accuracy'])}  {recall}  person/OOS due answered "
                     f"{f['wrong_answers_explicit_or_out_of_scope']}  premature {f['premature_handoffs']}  "
                     f"p95 {f['latency_ms_p95']} ms")
    return lines


def table_rows(label: str, run: dict) -> list[str]:
    """The README's rows for one configuration: fully correct, answered with facts (of expected resolved),
    answers with facts (of given), false handoffs, handoff precision, routing, explicit / low-confidence /
    sustained recall, answers where a person or out of scope was due, decision p50 / p95."""
    rows = []
    for name, f in figures(run).items():
        recall = [_pct(f["recall"].get(t)) for t in ("explicit_request", "low_confidence", "negative_sentiment")]
        p50, p95 = f["latency_ms_p50"], f["latency_ms_p95"]
        latency = f"{p50:.0f} / {p95:.0f} ms" if p50 is not None and p95 is not None else "-"
        rows.append(f"| {label} | {name} | {_pct(f['correct'])} | {_pct(f['answered_with_facts'])} of "
                    f"{f['resolved_expected']} | {_pct(f['answers_with_facts'])} of {f['answers_given']} | "
                    f"{f['false_handoffs']} | {_pct(f['handoff_precision'])} | {_pct(f['routing_accuracy'])} | "
                    + " | ".join(recall)
                    + f" | {f['wrong_answers_explicit_or_out_of_scope']} | {latency} |")
    return rows


def record(run: dict, *, commit: str, note: str, argv: list[str], at: datetime | None = None) -> dict:
    """One line of ``scored-configurations.jsonl``: what was run, when, and its figures per business."""
    at = at or datetime.now(timezone.utc)
    businesses = {}
    for name, summary in run["businesses"].items():
        scores = summary["scores"]
        businesses[name] = {
            "settings": summary.get("settings"), "fitted": summary.get("fitted"), "correct": scores["correct"],
            "answered_with_facts": scores["answered_with_facts"], "answers_with_facts": scores["answers_with_facts"],
            "silent_language_switches": scores.get("silent_language_switches"),
            "latency_ms_p95": summary.get("latency_ms_p95"), "ranker": summary.get("ranker"),
            "false_handoffs": scores["false_handoffs"], "handoff_precision": summary["handoff_precision"],
            "routing_accuracy": summary["routing_accuracy"],
            "wrong_answers_explicit_or_out_of_scope": summary["wrong_answers_explicit_or_out_of_scope"],
            "per_trigger_recall": {t: v["recall"] for t, v in summary.get("per_trigger", {}).items()},
            "per_trigger_recall_on_time_and_department": {t: v.get("recall_on_time_and_department")
                                                           for t, v in summary.get("per_trigger", {}).items()},
        }
    return {"at": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "commit": commit, "argv": list(argv),
            "mode": run.get("mode"), "provider": run.get("provider"), "note": note, "businesses": businesses}


def read_details(folder: str | Path) -> dict[str, dict[str, dict]]:
    """{business: {conversation id: row}} from a ``--details`` folder (the ``turns-*.jsonl`` aside)."""
    out = {}
    for path in sorted(Path(folder).glob("*.jsonl")):
        if path.name.startswith("turns-"):
            continue
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        out[path.stem] = {row["id"]: row for row in rows}
    return out


def _turns(row: dict) -> str:
    return " / ".join(f"{t['decision'][:3]}:{t.get('trigger') or t.get('intent') or ''}:"
                      f"{(t.get('scores') or {}).get('confidence')}" for t in row.get("turns", []))


def _draft_holds_facts(row: dict, turn: dict) -> bool:
    """The draft the labelled (last) turn read holds every expected fact, given or not."""
    from .scoring import holds_facts

    return holds_facts(list(row["expected"].get("facts") or []), (turn.get("read") or {}).get("draft") or "")


def conversation_diff(before: dict[str, dict[str, dict]], after: dict[str, dict[str, dict]]) -> dict[str, dict]:
    """Per business, the conversations fully correct in one run and not the other (``won``: now correct,
    ``lost``: no longer), each with its expected outcome and both runs' turn decisions, and how many
    drafts (the answer each turn read) differ.

    What a change did to the answers themselves, apart from where the refitted verifier puts their
    confidence: ``facts_gained`` / ``facts_lost``, the conversations whose labelled (last) turn's draft
    now holds / no longer holds every expected fact, given or not; ``confidence_shift``, the mean change
    of the confidence over the turns both runs read (a change to two businesses' drafts refits the third
    one's verifier, and a shift of a few hundredths moves its answers across the hedge floor with no
    draft of its own changed)."""
    out = {}
    for name in sorted(set(before) & set(after)):
        a, b = before[name], after[name]
        won, lost, drafts, gained, lost_facts, shifts = [], [], 0, [], [], []
        for cid in sorted(set(a) & set(b)):
            ra, rb = a[cid], b[cid]
            turns_a, turns_b = ra.get("turns", []), rb.get("turns", [])
            for ta, tb in zip(turns_a, turns_b):
                if (ta.get("read") or {}).get("draft") != (tb.get("read") or {}).get("draft"):
                    drafts += 1
                conf_a, conf_b = (ta.get("scores") or {}).get("confidence"), (tb.get("scores") or {}).get("confidence")
                if conf_a is not None and conf_b is not None:
                    shifts.append(float(conf_b) - float(conf_a))
            last = len(ra.get("messages") or []) - 1
            if ra["expected"].get("outcome") == "resolved" and len(turns_a) > last >= 0 and len(turns_b) > last:
                had, has = _draft_holds_facts(ra, turns_a[last]), _draft_holds_facts(rb, turns_b[last])
                if has != had:
                    (gained if has else lost_facts).append(cid)
            ca, cb = ra["verdict"].get("correct"), rb["verdict"].get("correct")
            if ca == cb:
                continue
            entry = {"id": cid, "expected": f"{ra['expected'].get('outcome')}/{ra['expected'].get('trigger')}",
                     "before": _turns(ra), "after": _turns(rb), "first_message": (ra.get("messages") or [""])[0]}
            (won if cb else lost).append(entry)
        out[name] = {"won": won, "lost": lost, "drafts_changed": drafts, "facts_gained": gained,
                     "facts_lost": lost_facts,
                     "confidence_shift": round(sum(shifts) / len(shifts), 4) if shifts else 0.0}
    return out
