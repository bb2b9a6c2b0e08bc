"""manage.py evaluate_agent: score the AI Agent on scripted conversations.

    evaluate_agent --business DIR|demo [--business ...] [--leave-one-out] [--fit module:function]
                   [--ranker module:function|none] [--json] [--details FILE|DIR] [--provider local|openai] [--record FILE [--note TEXT]]
    evaluate_agent --dataset FILE          (against the configured KB and topics, rolled back)

``--business`` installs each business (a business pack, an agent folder or ``demo``) into its own
scratch database and vector store, runs its scenarios and drops everything afterwards.
``--leave-one-out`` (two or more businesses) fits the thresholds on the others and reports each
business with what was fitted without it.
"""
import json
import os
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from apps.agent.evaluation import ScenarioError, evaluate, load_scenarios
from apps.agent.providers import provider_get


def _pct(value) -> str:
    return "   -  " if value is None else f"{100 * value:5.1f}%"


class Command(BaseCommand):
    help = ("Score the AI Agent on scripted conversations: handoff at the right turn, trigger, department, "
            "facts in the answers, reply language; per business, or leaving one business out.")

    def add_arguments(self, parser):
        parser.add_argument("--dataset", help="JSONL scenarios, run against the configured KB and topics")
        parser.add_argument("--business", action="append", default=[], metavar="DIR",
                            help="a business pack / agent folder, or 'demo' (repeatable)")
        parser.add_argument("--leave-one-out", action="store_true",
                            help="fit on the other businesses, report on each one left out")
        parser.add_argument("--fit", action="append", default=[], metavar="MODULE:FUNCTION",
                            help="fitting hook(s) for --leave-one-out (default: the confidence threshold)")
        parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
        parser.add_argument("--details", help="one JSON line per conversation (a folder with --leave-one-out)")
        parser.add_argument("--provider", choices=["local", "openai"], default=None)
        parser.add_argument("--record", help="append the configuration and its figures to this JSONL file")
        parser.add_argument("--note", default="", help="with --record: what this configuration is (kept or not, why)")
        parser.add_argument("--ranker", default="apps.agent.evaluation.ranker:fit_ranker", metavar="MODULE:FUNCTION",
                            help="--leave-one-out: the answer ranker's fitting hook ('none': the hand-set unit score)")

    def handle(self, *args, **opts):
        if bool(opts["dataset"]) == bool(opts["business"]):
            raise CommandError("give either --dataset FILE or --business DIR (one or more)")
        prov = provider_get(opts["provider"])
        if opts["dataset"]:
            return self._dataset(opts, prov)
        from apps.agent.evaluation.harness import DEFAULT_FITTERS, evaluate_business, fitter_load, leave_one_out
        from apps.agent.packs import BusinessError, business_read

        try:
            businesses = [business_read(b) for b in opts["business"]]
        except BusinessError as exc:
            raise CommandError(str(exc)) from exc
        started = time.perf_counter()
        if opts["leave_one_out"]:
            if len(businesses) < 2:
                raise CommandError("--leave-one-out needs two or more --business")
            try:
                fitters = [fitter_load(s) for s in opts["fit"]] or DEFAULT_FITTERS
            except (ValueError, ImportError, AttributeError) as exc:
                raise CommandError(f"--fit: {exc}") from exc
            if opts["details"]:
                os.makedirs(opts["details"], exist_ok=True)
            try:
                ranker_fitter = None if opts["ranker"] == "none" else fitter_load(opts["ranker"])
            except (ValueError, ImportError, AttributeError) as exc:
                raise CommandError(f"--ranker: {exc}") from exc
            report = leave_one_out(businesses, fitters=fitters, provider=prov, log=self.stdout.write,
                                   details_dir=opts["details"], ranker_fitter=ranker_fitter)
        else:
            report = {}
            for business in businesses:
                details = open(opts["details"] if len(businesses) == 1 else f"{opts['details']}.{business.name}.jsonl",
                               "w", encoding="utf-8") if opts["details"] else None
                try:
                    report[business.name] = evaluate_business(business, provider=prov, details=details,
                                                              on_progress=self._progress)["summary"]
                finally:
                    if details:
                        details.close()
        for name, summary in report.items():
            self._print(name, summary)
        result = {"mode": "leave_one_out" if opts["leave_one_out"] else "per_business", "provider": prov.name,
                  "seconds": round(time.perf_counter() - started, 1), "businesses": report}
        if opts["record"]:
            self._record(opts, result)
        if opts["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))

    def _progress(self, done, total, row, outcome, verdict=None):
        if done % 25 == 0 or done == total:
            self.stdout.write(f"  {done}/{total}")

    def _print(self, name, s):
        sc = s["scores"]
        w = self.stdout.write
        w(f"== {name}  ({s['conversations']} conversations, install {s.get('install_seconds')}s, "
          f"run {s.get('run_seconds')}s)")
        if s.get("fitted"):
            w(f"  fitted on the other businesses: {s['fitted']}")
        w(f"  settings: {s.get('settings')}")
        w(f"  fully correct {_pct(sc['correct'])}   answered with facts {_pct(sc['answered_with_facts'])} of "
          f"{sc['resolved_expected']} expected resolved   answers with facts {_pct(sc['answers_with_facts'])} of "
          f"{sc['answers_given']} given")
        w(f"  handoff on time {_pct(sc['handoff_on_time'])}  trigger {_pct(sc['trigger_ok'])}  department "
          f"{_pct(sc['department_ok'])} of {sc['handoffs_expected']}   premature {sc['premature_handoffs']}  "
          f"missed {sc['missed_handoffs']}  false handoffs {sc['false_handoffs']}  wrong answers {sc['wrong_answers']}  "
          f"silent language switches {sc['silent_language_switches']}")
        for group, blocks in sc["by"].items():
            w(f"  by {group}:")
            for key, b in blocks.items():
                w(f"    {key:24s} n={b['conversations']:3d} correct {_pct(b['correct'])}  facts "
                  f"{_pct(b['answered_with_facts'])}  on time {_pct(b['handoff_on_time'])}  trigger "
                  f"{_pct(b['trigger_ok'])}  dept {_pct(b['department_ok'])}  premature {b['premature_handoffs']}")
        w(f"  decision latency ms: p50 {s['latency_ms_p50']}  p95 {s['latency_ms_p95']}")

    def _record(self, opts, result):
        import subprocess

        from apps.agent.evaluation.runs import record

        try:
            commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                    timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            commit = ""
        line = record(result, commit=commit, note=opts.get("note") or "", argv=sys.argv[1:])
        with open(opts["record"], "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")

    def _dataset(self, opts, prov):
        dataset = opts["dataset"]
        try:
            rows = load_scenarios(dataset)
        except (OSError, ScenarioError) as exc:
            raise CommandError(f"{dataset}: {exc}") from exc
        if not rows:
            raise CommandError(f"{dataset}: no conversations")
        from apps.agent.engine import embed, engine_get

        started = time.perf_counter()
        engine_get()
        embed(["warm up"])
        self.stdout.write(f"warm-up {time.perf_counter() - started:.1f}s; {len(rows)} conversations, provider {prov.name}")
        out = open(opts["details"], "w", encoding="utf-8") if opts["details"] else None
        try:
            summary = evaluate(rows, provider=prov, on_progress=self._progress, details=out)
        finally:
            if out:
                out.close()
        summary.update(settings=None, conversations=len(rows))
        self._print(dataset, summary)
        self.stdout.write(f"deflection rate:      {summary['deflection_rate']}")
        self.stdout.write(f"handoff precision:    {summary['handoff_precision']}  recall: {summary['handoff_recall']}")
        for trig, row in summary["per_trigger"].items():
            self.stdout.write(f"  {trig:20s} precision {row['precision']}  recall {row['recall']}  "
                              f"(on the due turn, right department: {row.get('recall_on_time_and_department')})  "
                              f"(expected {row['expected']}, predicted {row['predicted']}, wrong answers {row['wrong_answers']})")
        self.stdout.write(f"routing accuracy:     {summary['routing_accuracy']} ({summary['routing_checked']} handoffs)")
        if opts["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
