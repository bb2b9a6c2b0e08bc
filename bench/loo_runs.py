"""Leave-one-out runs side by side: figures, changed conversations, README rows, scored-configuration records.

Run:  python manage.py evaluate_agent --business demo --business DIR --business DIR --leave-one-out --json \
          --details /tmp/a > /tmp/a.log
      python bench/loo_runs.py summary /tmp/a.log [/tmp/b.log ...]       # a line of figures per business
      python bench/loo_runs.py diff /tmp/a /tmp/b                        # conversations won / lost, drafts changed,
                                                                         # drafts that gained / lost their facts
      python bench/loo_runs.py table "baseline=/tmp/a.log" "+ change=/tmp/b.log"   # the README's table rows
      python bench/loo_runs.py record /tmp/b.log --commit SHA --note TEXT --details /tmp/b \
          >> apps/agent/scenarios/scored-configurations.jsonl            # one line per configuration scored

``LOG`` is the saved output of ``evaluate_agent --json`` (its last JSON line is read). The logic lives in
``apps.agent.evaluation.runs``. ``summary`` and ``diff`` end with ONE JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def main(argv=None) -> int:
    import django

    django.setup()
    from apps.agent.evaluation.runs import (conversation_diff, figures, last_json_line, read_details, record,
                                            summary_lines, table_rows)

    parser = argparse.ArgumentParser(description="Compare leave-one-out runs of evaluate_agent.")
    sub = parser.add_subparsers(dest="command", required=True)
    p_summary = sub.add_parser("summary", help="a line of figures per business, per run")
    p_summary.add_argument("logs", nargs="+")
    p_diff = sub.add_parser("diff", help="conversations fully correct in one run and not the other")
    p_diff.add_argument("before")
    p_diff.add_argument("after")
    p_table = sub.add_parser("table", help="README table rows: LABEL=LOG ...")
    p_table.add_argument("runs", nargs="+", metavar="LABEL=LOG")
    p_record = sub.add_parser("record", help="one scored-configurations.jsonl line")
    p_record.add_argument("log")
    p_record.add_argument("--commit", required=True)
    p_record.add_argument("--note", required=True)
    p_record.add_argument("--details", default="", help="the run's --details folder (for its argv)")
    p_record.add_argument("--business", action="append", default=[],
                          help="the run's --business arguments (default: demo and the two packs)")
    args = parser.parse_args(argv)

    if args.command == "summary":
        out = {}
        for log in args.logs:
            run = last_json_line(log)
            print(f"{log} ({run.get('seconds')} s)")
            for line in summary_lines(run):
                print(f"  {line}")
            out[log] = figures(run)
        print(json.dumps(out, ensure_ascii=False))
    elif args.command == "diff":
        if not Path(args.before).is_dir() or not Path(args.after).is_dir():
            parser.error("diff takes two --details folders")
        result = conversation_diff(read_details(args.before), read_details(args.after))
        for name, changes in result.items():
            print(f"== {name}: +{len(changes['won'])} -{len(changes['lost'])}, drafts changed {changes['drafts_changed']}, "
                  f"drafts that gained their facts {changes['facts_gained']}, lost them {changes['facts_lost']}, "
                  f"mean confidence shift {changes['confidence_shift']:+.3f}")
            for sign, key in (("+", "won"), ("-", "lost")):
                for c in changes[key]:
                    print(f"  {sign} {c['id']} [{c['expected']}] {c['before']}  ->  {c['after']} | {c['first_message'][:70]}")
        print(json.dumps({name: {"won": [c["id"] for c in ch["won"]], "lost": [c["id"] for c in ch["lost"]],
                                 "drafts_changed": ch["drafts_changed"], "facts_gained": ch["facts_gained"],
                                 "facts_lost": ch["facts_lost"], "confidence_shift": ch["confidence_shift"]}
                          for name, ch in result.items()}))
    elif args.command == "table":
        for item in args.runs:
            label, _, log = item.rpartition("=")
            if not label:
                parser.error(f"{item!r}: expected LABEL=LOG")
            for row in table_rows(label, last_json_line(log)):
                print(row)
    else:
        log = Path(args.log)
        businesses = args.business or ["demo", "../shared/data/business-packs/vitalia",
                                       "../shared/data/business-packs/pampapay"]
        run = last_json_line(log)
        run_argv = ["evaluate_agent"] + [x for b in businesses for x in ("--business", b)]
        run_argv += ["--leave-one-out", "--json"] if run.get("mode") == "leave_one_out" else ["--json"]
        if args.details:
            run_argv += ["--details", args.details]
        at = datetime.fromtimestamp(log.stat().st_mtime, timezone.utc)
        print(json.dumps(record(run, commit=args.commit, note=args.note, argv=run_argv, at=at),
                         ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
