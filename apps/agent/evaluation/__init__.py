"""Offline evaluation of the AI Agent (``manage.py evaluate_agent``).

- :mod:`.runner`: scripted conversations through the real services, rolled back afterwards.
- :mod:`.scoring`: facts in the reply, reply language, the handoff turn, breakdowns.
- :mod:`.harness`: a business (see :mod:`apps.agent.packs`) in its own scratch database and vector
  store; per-turn raw scores; leave-one-business-out with pluggable fitting hooks.
"""
from .runner import Outcome, ScenarioError, evaluate, load_scenarios, run_scenario

__all__ = ["Outcome", "ScenarioError", "evaluate", "load_scenarios", "run_scenario"]
