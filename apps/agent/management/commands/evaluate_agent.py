"""manage.py evaluate_agent --dataset FILE [--json] [--details FILE] [--provider local|openai]"""
import json
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from apps.agent.evaluation import ScenarioError, evaluate, load_scenarios
from apps.agent.providers import provider_get


class Command(BaseCommand):
    help = ("Run scripted conversations (JSONL) against the configured KB and topics and report deflection, "
            "handoff precision/recall per trigger, routing accuracy, wrong answers and decision latency.")

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True)
        parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
        parser.add_argument("--details", help="write one JSON line per conversation (replies, sources, scores)")
        parser.add_argument("--provider", choices=["local", "openai"], default=None)

    def handle(self, *args, dataset, json: bool, details, provider, **options):
        import json as jsonlib

        try:
            rows = load_scenarios(dataset)
        except (OSError, ScenarioError) as exc:
            raise CommandError(f"{dataset}: {exc}") from exc
        if not rows:
            raise CommandError(f"{dataset}: no conversations")
        prov = provider_get(provider)
        # Warm up (model load, classifier training) outside the measured turns.
        from apps.agent.engine import embed, engine_get

        started = time.perf_counter()
        engine_get()
        embed(["warm up"])
        self.stdout.write(f"warm-up {time.perf_counter() - started:.1f}s; {len(rows)} conversations, provider {prov.name}")
        out = open(details, "w", encoding="utf-8") if details else None

        def progress(done, total, row, outcome):
            if done % 25 == 0 or done == total:
                self.stdout.write(f"  {done}/{total}")
            if outcome.wrong_answer or row["expected"]["outcome"] != outcome.outcome:
                self.stdout.write(f"  miss {row['id']}: expected {row['expected']} got "
                                  f"{outcome.outcome}/{outcome.trigger}/{outcome.department}")
        try:
            summary = evaluate(rows, provider=prov, on_progress=progress, details=out)
        finally:
            if out:
                out.close()
        self.stdout.write(f"deflection rate:      {summary['deflection_rate']}")
        self.stdout.write(f"handoff precision:    {summary['handoff_precision']}  recall: {summary['handoff_recall']}")
        for trig, row in summary["per_trigger"].items():
            self.stdout.write(f"  {trig:20s} precision {row['precision']}  recall {row['recall']}  "
                              f"(expected {row['expected']}, predicted {row['predicted']}, wrong answers {row['wrong_answers']})")
        self.stdout.write(f"routing accuracy:     {summary['routing_accuracy']} ({summary['routing_checked']} handoffs)")
        self.stdout.write(f"wrong answers where a handoff was expected: {summary['wrong_answers_where_handoff_expected']}"
                          f" (explicit/out-of-scope: {summary['wrong_answers_explicit_or_out_of_scope']})")
        self.stdout.write(f"decision latency ms:  p50 {summary['latency_ms_p50']}  p95 {summary['latency_ms_p95']}")
        if json:
            self.stdout.write(jsonlib.dumps(summary, ensure_ascii=False))
