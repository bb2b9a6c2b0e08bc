"""Fitting hooks for ``evaluate_agent --leave-one-out --fit apps.agent.trigger_fitting:fit_triggers``:
the trigger thresholds fitted on the turn scores of the *other* businesses (``harness.turn_scores``
rows), reported on the one left out. What ships is one set of defaults (``AgentSettings``), chosen
the same way on all development businesses; a new business needs no labelled data.
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np

from .evaluation.harness import fit_threshold
from .triggers import sustained

SENTIMENT_CANDIDATES = [round(float(x), 2) for x in np.arange(0.0, 0.95, 0.05)]


def fit_explicit_threshold(rows: list[dict]) -> dict:
    """``explicit_request_threshold``: turns where a request for a person is due should be at or
    above it (a miss costs 1); every other turn below (a false handoff costs 2)."""
    values = [r["scores"].get("explicit_request", 0.0) for r in rows]
    good = [r["due"] == "explicit_request" for r in rows]
    return {"explicit_request_threshold": min(0.9, max(0.2, fit_threshold(values, good, cost_below=1.0,
                                                                           cost_above=2.0)))}


def _first_sustained(sentiments: list[float], threshold: float, window: int, needed: int) -> int | None:
    """The first turn the sustained rule fires on (the same rule the agent runs, opening turn included)."""
    for t in range(len(sentiments)):
        if sustained(sentiments[:t + 1], threshold=threshold, window=window, min_negative=needed, turns=t + 1)[0]:
            return t
    return None


def fit_sentiment_threshold(rows: list[dict], *, window: int = 3, needed: int = 3) -> dict:
    """``sentiment_threshold`` for the sustained rule (``needed`` of the last ``window`` turns): per
    conversation, the turn the rule would fire on; right when it is the turn where sustained
    frustration is due (+1), wrong when it fires earlier or where none is due (-2)."""
    by_conversation: dict[tuple, list[dict]] = defaultdict(list)
    for r in rows:
        by_conversation[(r["business"], r["id"])].append(r)
    conversations = [sorted(turns, key=lambda r: r["turn"]) for turns in by_conversation.values()]
    best = None
    for threshold in SENTIMENT_CANDIDATES:
        score = 0
        for turns in conversations:
            fired = _first_sustained([r["scores"].get("sentiment", 1.0) for r in turns], threshold, window, needed)
            due = next((r["turn"] for r in turns if r["due"] == "negative_sentiment"), None)
            if fired is not None and fired == due:
                score += 1
            elif fired is not None and (due is None or fired < due):
                score -= 2
        if best is None or score > best[0]:
            best = (score, threshold)
    return {"sentiment_threshold": best[1], "sentiment_window": window, "sentiment_min_negative": needed}


def fit_triggers(rows: list[dict]) -> dict:
    return fit_explicit_threshold(rows) | fit_sentiment_threshold(rows)


def diagnostic_no_low_confidence(rows: list[dict]) -> dict:
    """Diagnostic only (never shipped): confidence threshold 0, so no turn hands off on low
    confidence and the other triggers are measured apart from the answer module's calibration."""
    return {"confidence_threshold": 0.0}
