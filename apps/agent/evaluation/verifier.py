"""The answer verifier, learned: P(the selected answer holds the facts asked for) from the selection's
features (``apps.agent.compose.verifier_features``), and the threshold the agent answers at.

Training rows (no text, only numbers and a label):

- the development businesses' labelled turns (``harness.turn_scores``): the last turn of a
  conversation that should be answered with facts (label: the composed answer holds them all), and
  a turn where a low-confidence handoff is due but an answer was composed (label 0);
- business-independent: XQuAD's *tuning* half (articles 1-24; ``python bench/xquad.py
  --tune-features FILE`` writes its rows: label = the answer holds the gold span), read from
  ``XQUAD_TUNE_FEATURES`` (default ``/tmp/asiste-xquad-tune-features.jsonl``). The report half is
  never read here.

The model is an L2 logistic regression on standardised features; the businesses' rows and XQuAD's
rows weigh the same in total. **Calibration and threshold**: the verifier is fitted once per
development business left out (inner leave-one-business-out), each development business's turns
scored by the model that did not see them; a Platt calibration (a logistic regression of the label
on the logit of those held-out scores, each business weighing the same) maps the raw score to
P(the answer holds its facts) on a business the model has not seen. The agent's confidence is that
calibrated probability, and it answers when it reaches ``ANSWER_PROBABILITY`` = W / (W + 1), the
expected-utility rule for a wrong answer costing ``WRONG_ANSWER_COST`` (W) needless handoffs. The
smooth calibration replaces the former hard cut (the lowest raw threshold with >= 90% precision on
the pooled held-out scores of two businesses), which swung from 0.93 to 0.999 with a few turns and
handed off most answerable questions of a business left out. The final model is then fitted on
all the rows given; its calibration is the one fitted on the held-out scores.

- :func:`fit_verifier` is a ``--fit`` hook of ``evaluate_agent --leave-one-out`` (the default one):
  it returns ``{"confidence_threshold": t, "answer_verifier": model}``; the harness scores the
  left-out business with that model.
- ``python bench/fit_answer_verifier.py --turns DIR [--write]`` fits on every business's turn
  rows (``evaluate_agent --leave-one-out --details DIR`` writes ``DIR/turns-*.jsonl``) plus XQuAD's
  tuning half and writes ``apps/agent/answer_verifier.json`` (what ships).
"""
from __future__ import annotations

import json
import os

import numpy as np

FEATURES = ["unit_similarity", "unit_score", "overlap", "idf_overlap", "own_overlap", "hit_score", "top_hit_score",
            "hit_margin", "chunk_margin", "unit_margin", "rank", "type_asked", "type_match", "same_language",
            "question_words", "answer_chars", "unknown_terms", "unknown_names"]
# The former rule (not shipped since the calibration): the precision a raw threshold aimed at on
# held-out development turns. 0.95 answered almost nothing on the left-out businesses (0-4 of
# 72-102); 0.90 gave 91% precision on few answers (README, "Figures"). Both runs are in
# scored-configurations.jsonl.
TARGET_PRECISION = 0.90
# A wrong answer (a customer misled) costs as much as WRONG_ANSWER_COST needless handoffs; answer when
# the calibrated P(facts) >= W / (W + 1). Scored on the left-out businesses with W = 1.5, 2, 3, 4
# (README, "Answer confidence"); 3 ships.
WRONG_ANSWER_COST = 3.0
ANSWER_PROBABILITY = round(WRONG_ANSWER_COST / (WRONG_ANSWER_COST + 1.0), 6)
# Under the threshold, from calibrated P(facts) = HEDGE_COST / (HEDGE_COST + 1) (0.6), the agent answers
# with the passage and "not sure; tell me and I'll pass you to a person" instead of a handoff: a hedged
# wrong answer costs little more than a handoff (the customer is told and offered a person).
HEDGE_COST = 1.5
C = 1.0
XQUAD_DEFAULT = "/tmp/asiste-xquad-tune-features.jsonl"


def business_rows(turn_rows: list[dict]) -> list[dict]:
    """The labelled turns of the businesses: {business, features, label}."""
    out = []
    for r in turn_rows:
        features = r.get("features")
        if not features or r.get("intent") in ("greeting", "thanks"):
            continue
        if r["due"] == "" and r.get("facts_ok") is not None:
            out.append({"business": r["business"], "features": features, "label": bool(r["facts_ok"])})
        elif r["due"] == "low_confidence" and r.get("has_answer"):
            out.append({"business": r["business"], "features": features, "label": False})
    return out


def xquad_rows(path: str | None = None) -> list[dict]:
    path = path or os.environ.get("XQUAD_TUNE_FEATURES") or XQUAD_DEFAULT
    if not os.path.isfile(path):
        return []
    rows = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row.get("report"):
                continue  # never the report half
            rows.append({"business": "xquad", "features": row["features"], "label": bool(row["right"])})
    return rows


def _matrix(rows: list[dict], features: list[str]) -> np.ndarray:
    from apps.agent.compose import _transform

    return np.array([[_transform(n, float(r["features"].get(n, 0.0))) for n in features] for r in rows], dtype=float)


def fit_model(rows: list[dict], *, features: list[str] = FEATURES, c: float = C) -> dict:
    """L2 logistic regression; the businesses' rows and XQuAD's weigh the same in total."""
    from sklearn.linear_model import LogisticRegression

    x = _matrix(rows, features)
    y = np.array([r["label"] for r in rows], dtype=int)
    is_x = np.array([r["business"] == "xquad" for r in rows])
    weights = np.ones(len(rows))
    if is_x.any() and (~is_x).any():
        weights[is_x] = (~is_x).sum() / is_x.sum()
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=2000)
    model.fit((x - mean) / scale, y, sample_weight=weights)
    return {"features": list(features), "mean": [round(float(v), 6) for v in mean],
            "scale": [round(float(v), 6) for v in scale], "coef": [round(float(v), 6) for v in model.coef_[0]],
            "intercept": round(float(model.intercept_[0]), 6)}


def threshold_for_precision(scores, labels, *, target: float = TARGET_PRECISION, min_answers: int = 5) -> float:
    """The lowest threshold t whose answers (score >= t) hold their facts >= ``target`` of the time
    (with at least ``min_answers`` answers); the highest score plus a hair when none reaches it."""
    order = np.argsort(-np.asarray(scores, dtype=float))
    s = np.asarray(scores, dtype=float)[order]
    good = np.asarray(labels, dtype=bool)[order]
    best = None
    for k in range(min_answers, len(s) + 1):
        if k < len(s) and s[k] == s[k - 1]:
            continue  # a threshold cannot split ties
        if good[:k].mean() >= target:
            best = s[k - 1]
    if best is None:
        return float(min(0.999, round(float(s[0]) + 1e-4, 4))) if len(s) else 0.999
    return float(round(float(best) - 1e-6, 6))


def _logit(p):
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_calibration(scores, labels, businesses=None) -> dict:
    """Platt scaling: P(label) = sigmoid(a * logit(score) + b), fitted on held-out scores; each
    business (``businesses``, one name per score) weighs the same in total. A slope that is not
    positive (held-out scores that do not rank) falls back to the identity."""
    from sklearn.linear_model import LogisticRegression

    x = _logit(scores)[:, None]
    y = np.asarray(labels, dtype=int)
    if len(set(y.tolist())) < 2:
        return {"a": 1.0, "b": 0.0, "rows": int(len(y))}
    weights = np.ones(len(y))
    if businesses is not None:
        names = np.asarray(businesses)
        for name in set(names.tolist()):
            weights[names == name] = len(y) / (len(set(names.tolist())) * (names == name).sum())
    model = LogisticRegression(C=1e4, max_iter=2000).fit(x, y, sample_weight=weights)
    a, b = float(model.coef_[0][0]), float(model.intercept_[0])
    if a <= 0:
        return {"a": 1.0, "b": 0.0, "rows": int(len(y))}
    return {"a": round(a, 6), "b": round(b, 6), "rows": int(len(y))}


def fit(rows: list[dict], *, target: float | None = None) -> tuple[dict, float, dict]:
    """The model on all ``rows``, its calibration fitted on held-out scores of each business and the
    threshold on the calibrated probability (``ANSWER_PROBABILITY``); with a ``target`` precision, the
    former rule (no calibration; the raw threshold reaching that precision on the held-out scores)."""
    from apps.agent.compose import verifier_score

    businesses = sorted({r["business"] for r in rows if r["business"] != "xquad"})
    held_scores, held_labels, held_names = [], [], []
    for name in businesses:
        inner = fit_model([r for r in rows if r["business"] != name])
        for r in rows:
            if r["business"] == name:
                held_scores.append(verifier_score(r["features"], inner))
                held_labels.append(r["label"])
                held_names.append(name)
    model = fit_model(rows)
    if len(businesses) < 2:  # one business: its in-sample scores are all there is
        held_scores = [verifier_score(r["features"], model) for r in rows if r["business"] != "xquad"]
        held_labels = [r["label"] for r in rows if r["business"] != "xquad"]
        held_names = None
    if target is None:  # the shipped rule: calibrated probability, expected-utility threshold
        model["calibration"] = fit_calibration(held_scores, held_labels, held_names)
        threshold = ANSWER_PROBABILITY
    else:  # the former rule: a raw-score threshold for the target precision
        threshold = threshold_for_precision(held_scores, held_labels, target=target)
    info = {"rows": len(rows), "business_rows": len(held_labels), "xquad_rows": sum(r["business"] == "xquad" for r in rows),
            "held_out_positive_rate": round(float(np.mean(held_labels)), 4) if held_labels else None}
    return model, threshold, info


def fit_verifier(turn_rows: list[dict], *, target: float | None = None,
                 hedge_cost: float | None = HEDGE_COST) -> dict:
    """``--fit`` hook (the default): the verifier, its calibration, its threshold and the hedged band
    (from calibrated P(facts) = hedge_cost / (hedge_cost + 1); None: no band) from the development
    businesses' turns and XQuAD's tuning half."""
    rows = business_rows(turn_rows) + xquad_rows()
    model, threshold, info = fit(rows, target=target)
    model["threshold"] = threshold
    if hedge_cost is not None and target is None:
        model["hedge_probability"] = round(hedge_cost / (hedge_cost + 1.0), 6)
    model["fitted_on"] = info
    return {"confidence_threshold": threshold, "answer_verifier": model}


def fit_verifier_no_hedge(turn_rows: list[dict]) -> dict:
    """A scored alternative: the calibrated threshold alone, a handoff under it (run "w3")."""
    return fit_verifier(turn_rows, hedge_cost=None)


def fit_verifier_hedged(turn_rows: list[dict]) -> dict:
    """The shipped rule, by the name its run was recorded under."""
    return fit_verifier(turn_rows)


def fit_verifier_hedge_05(turn_rows: list[dict]) -> dict:
    """A scored alternative (issue 12, false handoffs; not shipped): the hedged band from calibrated
    P(facts) 0.5 (hedge cost 1) instead of 0.6."""
    return fit_verifier(turn_rows, hedge_cost=1.0)


def fit_verifier_precision_95(turn_rows: list[dict]) -> dict:
    """A scored alternative (not shipped): the threshold for 95% precision on held-out turns."""
    return fit_verifier(turn_rows, target=0.95)


def fit_verifier_precision_90(turn_rows: list[dict]) -> dict:
    """The former shipped rule (until the calibration): the raw threshold for 90% precision."""
    return fit_verifier(turn_rows, target=0.90)

