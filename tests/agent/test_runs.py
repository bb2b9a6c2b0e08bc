"""Leave-one-out runs side by side (``apps.agent.evaluation.runs``, ``bench/loo_runs.py``): the figures read
from a run's JSON line, the README rows, the scored-configuration record, the conversations that changed."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from apps.agent.evaluation.runs import (conversation_diff, figures, last_json_line, read_details, record,
                                        table_rows)


def _summary(correct, *, recall_explicit=1.0, latency=(14.2, 22.4)):
    return {"scores": {"correct": correct, "answered_with_facts": 0.618, "resolved_expected": 102,
                       "answers_with_facts": 0.829, "answers_given": 76, "false_handoffs": 26, "premature_handoffs": 0,
                       "silent_language_switches": 0},
            "handoff_precision": 0.662, "routing_accuracy": 0.882, "wrong_answers_explicit_or_out_of_scope": 1,
            "per_trigger": {"explicit_request": {"recall": recall_explicit, "recall_on_time_and_department": 0.5},
                            "low_confidence": {"recall": 0.6},
                            "negative_sentiment": {"recall": 0.9}, "out_of_scope": {"recall": 1.0}},
            "latency_ms_p50": latency[0], "latency_ms_p95": latency[1], "settings": {"confidence_threshold": 0.75},
            "fitted": {"confidence_threshold": 0.75}, "ranker": {"coef": [0.6]}}


RUN = {"mode": "leave_one_out", "provider": "local", "seconds": 120.0,
       "businesses": {"FibraSur": _summary(0.692), "Pampa Pay": _summary(0.547, recall_explicit=0.722)}}


def test_the_run_is_read_from_its_last_json_line(tmp_path):
    log = tmp_path / "run.log"
    log.write_text("installing FibraSur...\n{not json\n" + json.dumps(RUN) + "\n  decision latency ms: p50 14\n")
    assert last_json_line(log) == RUN
    (tmp_path / "empty.log").write_text("no figures here\n")
    with pytest.raises(ValueError, match="no JSON line"):
        last_json_line(tmp_path / "empty.log")
    assert figures(RUN)["Pampa Pay"]["recall"]["explicit_request"] == 0.722
    # the strict recall (the due turn, the right department); runs before it was logged have none
    assert figures(RUN)["Pampa Pay"]["recall_strict"] == {"explicit_request": 0.5, "low_confidence": None,
                                                          "negative_sentiment": None, "out_of_scope": None}


def test_readme_rows_carry_every_figure_of_the_tables():
    rows = table_rows("baseline", RUN)
    assert rows[0] == ("| baseline | FibraSur | 69.2% | 61.8% of 102 | 82.9% of 76 | 26 | 66.2% | 88.2% | 100.0% | "
                       "60.0% | 90.0% | 1 | 14 / 22 ms |")
    assert rows[1].startswith("| baseline | Pampa Pay | 54.7% |") and "| 72.2% | 60.0% | 90.0% |" in rows[1]


def test_a_record_holds_what_was_run_and_its_figures():
    line = record(RUN, commit="abc1234", note="baseline", argv=["evaluate_agent", "--leave-one-out"],
                  at=datetime(2026, 12, 5, 8, 24, 14, tzinfo=timezone.utc))
    assert line["at"] == "2026-12-05T08:24:14Z" and line["commit"] == "abc1234" and line["note"] == "baseline"
    assert line["argv"] == ["evaluate_agent", "--leave-one-out"] and line["mode"] == "leave_one_out"
    fibra = line["businesses"]["FibraSur"]
    assert fibra["correct"] == 0.692 and fibra["false_handoffs"] == 26 and fibra["ranker"] == {"coef": [0.6]}
    assert fibra["per_trigger_recall"]["negative_sentiment"] == 0.9
    json.dumps(line)  # one JSON line


def _conversation(cid, correct, decisions, draft="A passage."):
    return {"id": cid, "messages": [f"question {cid}"], "expected": {"outcome": "resolved", "trigger": None},
            "verdict": {"correct": correct},
            "turns": [{"decision": d, "trigger": t, "intent": "plans", "scores": {"confidence": c},
                       "read": {"draft": draft}} for d, t, c in decisions]}


def test_the_diff_names_conversations_won_and_lost_and_counts_changed_drafts(tmp_path):
    before, after = tmp_path / "a", tmp_path / "b"
    for folder, rows in ((before, [_conversation("en-1", False, [("handoff", "low_confidence", 0.55)]),
                                   _conversation("en-2", True, [("answer", "", 0.8)]),
                                   _conversation("en-3", True, [("answer", "", 0.7)])]),
                         (after, [_conversation("en-1", True, [("answer", "", 0.62)]),
                                  _conversation("en-2", False, [("handoff", "low_confidence", 0.58)]),
                                  _conversation("en-3", True, [("answer", "", 0.7)], draft="Another passage.")])):
        folder.mkdir()
        (folder / "FibraSur.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        (folder / "turns-FibraSur.jsonl").write_text('{"not": "a conversation"}\n')  # the verifier's rows: skipped
    diff = conversation_diff(read_details(before), read_details(after))
    assert [c["id"] for c in diff["FibraSur"]["won"]] == ["en-1"]
    assert [c["id"] for c in diff["FibraSur"]["lost"]] == ["en-2"]
    assert diff["FibraSur"]["won"][0]["before"] == "han:low_confidence:0.55"
    assert diff["FibraSur"]["won"][0]["after"] == "ans:plans:0.62"
    assert diff["FibraSur"]["drafts_changed"] == 1


def test_the_diff_tells_drafts_that_gained_or_lost_their_facts_from_a_confidence_shift(tmp_path):
    """A change to two businesses' drafts refits the third one's verifier: its answers move across the
    hedge floor with no draft of their own changed. The diff names the conversations whose labelled
    turn's draft gained or lost its facts (given or not) and the mean confidence shift, so the two are
    told apart."""
    def row(cid, draft, confidence, *, correct, facts=("$19,900",), outcome="resolved"):
        conv = _conversation(cid, correct, [("answer" if correct else "handoff", "", confidence)], draft=draft)
        conv["expected"] = {"outcome": outcome, "trigger": None, "facts": list(facts)}
        return conv

    before, after = tmp_path / "a", tmp_path / "b"
    for folder, rows in ((before, [row("en-1", "Fibra 300 costs $19.900 a month.", 0.62, correct=True),
                                   row("en-2", "Installation takes 3 hours.", 0.50, correct=False),
                                   row("en-3", "Fibra 300 costs $19,900.", 0.61, correct=True),
                                   row("en-4", "Another passage.", 0.30, correct=False, facts=(), outcome="handoff")]),
                         (after, [row("en-1", "Installation takes 3 hours.", 0.62, correct=False),
                                  row("en-2", "Per month, Fibra 300 costs $19,900.", 0.52, correct=False),
                                  row("en-3", "Fibra 300 costs $19,900.", 0.57, correct=False),
                                  row("en-4", "A third passage.", 0.34, correct=False, facts=(), outcome="handoff")])):
        folder.mkdir()
        (folder / "FibraSur.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    diff = conversation_diff(read_details(before), read_details(after))["FibraSur"]
    assert diff["facts_gained"] == ["en-2"] and diff["facts_lost"] == ["en-1"]  # en-3 lost by its confidence only
    assert [c["id"] for c in diff["lost"]] == ["en-1", "en-3"]
    assert diff["confidence_shift"] == pytest.approx((0.0 + 0.02 - 0.04 + 0.04) / 4)
    assert diff["drafts_changed"] == 3


def test_the_bench_prints_the_rows_and_a_record(tmp_path, capsys):
    from bench.loo_runs import main

    log = tmp_path / "run.log"
    log.write_text(json.dumps(RUN) + "\n")
    assert main(["table", f"+ a change=x={log}"]) == 0  # the label may hold "="
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("| + a change=x | FibraSur | 69.2% |") and len(out) == 2
    assert main(["record", str(log), "--commit", "abc1234", "--note", "n", "--details", "/tmp/x"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["argv"][-2:] == ["--details", "/tmp/x"] and line["businesses"]["Pampa Pay"]["correct"] == 0.547
    assert "--leave-one-out" in line["argv"]
    # a run of one business with the shipped defaults records the command that ran it, not a leave-one-out one
    single = tmp_path / "single.log"
    single.write_text(json.dumps({**RUN, "mode": "per_business"}) + "\n")
    assert main(["record", str(single), "--business", "bench/packs/x", "--commit", "abc1234", "--note", "n"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["argv"] == ["evaluate_agent", "--business", "bench/packs/x", "--json"]


def test_evaluate_agent_record_appends_the_same_line_with_its_note(tmp_path):
    from apps.agent.management.commands.evaluate_agent import Command

    path = tmp_path / "scored.jsonl"
    path.write_text('{"earlier": true}\n')
    Command()._record({"record": str(path), "note": "+ a change (not kept)"}, RUN)
    lines = path.read_text().splitlines()
    assert json.loads(lines[0]) == {"earlier": True} and len(lines) == 2  # appended
    line = json.loads(lines[1])
    assert line["note"] == "+ a change (not kept)" and line["mode"] == "leave_one_out"
    assert line["businesses"]["FibraSur"]["handoff_precision"] == 0.662  # the full record, not a subset
    assert line["businesses"]["Pampa Pay"]["per_trigger_recall"]["explicit_request"] == 0.722


def test_the_stability_bench_measures_the_refit_against_its_own_baseline(tmp_path, monkeypatch, capsys):
    """``bench/verifier_stability.py``: for each business left out, the verifier fitted on the other
    businesses as they are (the baseline) and on bootstrap resamples of their conversations; how many of the
    left-out business's labelled turns cross the hedge floor against that baseline, ending with one JSON
    line. A folder with no turn rows is a clear error."""
    import numpy as np

    from bench.verifier_stability import main

    monkeypatch.setenv("XQUAD_TUNE_FEATURES", str(tmp_path / "none.jsonl"))  # the businesses' rows only
    rng = np.random.default_rng(1)
    folder = tmp_path / "run"
    folder.mkdir()
    assert main(["--turns", str(folder)]) == 2
    assert "no turns-*.jsonl" in capsys.readouterr().out
    for business in ("A", "B", "C"):
        lines = []
        for n in range(40):
            right = bool(n % 3)
            features = {"unit_similarity": float(rng.normal(0.5 if right else 0.3, 0.1)),
                        "idf_overlap": float(rng.normal(0.7 if right else 0.3, 0.2))}
            lines.append(json.dumps({"business": business, "id": f"{business}-{n}", "turn": 0, "due": "",
                                     "intent": "plans", "facts_ok": right, "features": features}))
        (folder / f"turns-{business}.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["--turns", str(folder), "--resamples", "4"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    result = json.loads(out[-1])
    assert result["resamples"] == 4 and sorted(result["businesses"]) == ["A", "B", "C"]
    for figures in result["businesses"].values():
        assert figures["turns"] == 40
        assert 0 <= figures["crossings_min"] <= figures["crossings_median"] <= figures["crossings_max"] <= 40
        assert figures["mean_shift_sd"] >= 0
    # the same seed, the same resamples: the figures are reproducible, and each business's printed line
    # states the figures of the JSON line
    assert main(["--turns", str(folder), "--resamples", "4"]) == 0
    again = capsys.readouterr().out.strip().splitlines()
    assert json.loads(again[-1]) == result
    for name, figures in result["businesses"].items():
        line = next(x for x in again if x.startswith(f"{name}: "))
        assert f"median {figures['crossings_median']:.0f} (range {figures['crossings_min']}-{figures['crossings_max']})" in line
