"""Regenerate the shipped answer verifier (apps/agent/answer_verifier.json) from all development data.

Run:  python bench/xquad.py --tune-features /tmp/asiste-xquad-tune-features.jsonl
      python manage.py evaluate_agent --business demo --business DIR --business DIR --leave-one-out \
          --details /tmp/turns --json
      python bench/fit_answer_verifier.py --turns /tmp/turns [--xquad FILE] [--target 0.9] --write

The model and its threshold are fitted on every business's labelled turns plus XQuAD's tuning half
(``apps.agent.evaluation.verifier``); write it, then set ``AgentSettings.confidence_threshold``'s
default (a migration) and the README to the printed threshold.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asisteclick.settings")
os.environ.setdefault("SECRET_KEY", "fit-only")
os.environ.setdefault("LOG_LEVEL", "WARNING")

if __name__ == "__main__":
    import django

    django.setup()
    from apps.agent.evaluation.verifier import main

    sys.exit(main())
