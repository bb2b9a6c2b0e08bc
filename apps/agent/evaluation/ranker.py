"""The answer ranker, learned: which candidate unit of the retrieved chunks becomes the answer.

Every unit of the top chunks is a candidate (``apps.agent.compose.unit_candidates``); the ranker is a
pointwise L2 logistic regression on "this candidate's passage (the unit with its neighbours) holds
every fact asked for", from the development businesses' labelled last turns
(``harness.turn_scores`` attaches each candidate's features and label to the row). Its features:
the hand-set unit score (similarity + rarity-weighted overlap + answer-type bonus + language +
retrieval score), its gap to the best candidate, and whether the unit states a figure. That small
set was chosen on the development folds (README, "Answer selection"): larger sets (20 features,
forward selection) helped the demo ISP and hurt the packs.

- :func:`fit_ranker` is what ``evaluate_agent --leave-one-out`` fits on the other businesses
  (harness.leave_one_out); ``python bench/fit_answer_verifier.py --turns DIR --write`` fits it on
  every business and writes ``apps/agent/answer_ranker.json`` (what ships) with the verifier.
"""
from __future__ import annotations

import numpy as np

FEATURES = ["hand_score", "hand_gap", "has_figure"]
C = 1.0


def candidate_groups(turn_rows: list[dict]) -> list[tuple[list[dict], np.ndarray]]:
    """(candidates' features, labels) per labelled turn with at least one candidate holding the facts."""
    out = []
    for r in turn_rows:
        cands = r.get("candidates") or []
        labels = np.array([bool(c["label"]) for c in cands], dtype=bool)
        if cands and labels.any():
            out.append(([c["features"] for c in cands], labels))
    return out


def fit_ranker(turn_rows: list[dict], *, features: list[str] = FEATURES, c: float = C) -> dict | None:
    """The ranker fitted on the turns' labelled candidates, or None when there are none."""
    from sklearn.linear_model import LogisticRegression

    groups = candidate_groups(turn_rows)
    if not groups:
        return None
    x = np.array([[float(f.get(n, 0.0)) for n in features] for feats, _labels in groups for f in feats], dtype=float)
    y = np.concatenate([labels for _feats, labels in groups]).astype(int)
    if len(set(y)) < 2:
        return None
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=3000).fit((x - mean) / scale, y)
    return {"features": list(features), "mean": [round(float(v), 6) for v in mean],
            "scale": [round(float(v), 6) for v in scale], "coef": [round(float(v), 6) for v in model.coef_[0]],
            "intercept": round(float(model.intercept_[0]), 6),
            "fitted_on": {"turns": len(groups), "candidates": int(len(y)),
                          "businesses": sorted({r["business"] for r in turn_rows if r.get("candidates")})}}
