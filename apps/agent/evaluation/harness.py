"""Evaluation across businesses: scratch installs, per-turn raw scores, leave one business out.

- :func:`scratch_environment`: a fresh database (Django's test-database machinery: in-memory on
  SQLite, ``<name>_eval_<pid>`` on PostgreSQL) and a fresh vector store and media folder in a
  temporary directory, all dropped afterwards. Nothing of a real installation is touched.
- :func:`turn_scores`: what the provider thinks of every customer turn of every scenario (no
  decision, no writes), with what was due on that turn: an answer (``""``) or a trigger. These rows
  are what a fitting hook sees.
- :func:`evaluate_business`: install a business in a scratch environment and score it.
- :func:`leave_one_out`: for each business, fit on the other businesses' turn rows (every hook in
  ``fitters``: ``fitter(rows) -> {setting: value}``), then score the left-out business with the
  fitted settings. What is fitted never sees the business it is reported on.

A fitting hook is any callable taking the dev businesses' turn rows (see :func:`turn_scores`) and
returning ``AgentSettings`` fields; ``--fit module:function`` plugs one into ``evaluate_agent``.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable

import numpy as np

from ..compose import candidates_capture, ranker_use, verifier_use

Fitter = Callable[[list[dict]], dict]


@contextlib.contextmanager
def scratch_environment():
    """A throwaway database, vector store and media root for the duration of the block."""
    from django.db import connections
    from django.test.utils import override_settings

    from apps.knowledge import search

    from ..engine import engine_invalidate

    tmp = tempfile.mkdtemp(prefix="asiste_eval_")
    conn = connections["default"]
    old_name = conn.settings_dict["NAME"]
    test_settings = conn.settings_dict.setdefault("TEST", {})
    saved_test_name = test_settings.get("NAME")
    if conn.vendor != "sqlite":
        test_settings["NAME"] = f"{old_name}_eval_{os.getpid()}"
    try:
        with override_settings(CHROMA_PATH=os.path.join(tmp, "chroma"), CHROMA_URL=None,
                               MEDIA_ROOT=os.path.join(tmp, "media"), CELERY_TASK_ALWAYS_EAGER=True):
            conn.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
            search.cache_clear()
            engine_invalidate()
            try:
                yield tmp
            finally:
                conn.creation.destroy_test_db(old_name, verbosity=0, keepdb=False)
                search.cache_clear()
                engine_invalidate()
    finally:
        if saved_test_name is None:
            test_settings.pop("NAME", None)
        else:
            test_settings["NAME"] = saved_test_name
        shutil.rmtree(tmp, ignore_errors=True)


# --- per-turn raw scores ---------------------------------------------------------------------------

def due_on_turn(row: dict, index: int) -> str:
    """What the agent should do on customer turn ``index``: "" (answer) or the expected trigger,
    which is due on the last turn only (earlier turns are answered)."""
    expected = row["expected"]
    if expected["outcome"] == "handoff" and index == len(row["messages"]) - 1:
        return expected.get("trigger") or "handoff"
    return ""


def turn_scores(business, *, provider=None) -> list[dict]:
    """Every customer turn of every scenario through the provider (installed business required)."""
    from ..engine import config_get
    from ..language import detect_language
    from ..policy import source_documents
    from ..providers import TurnContext, provider_get
    from .scoring import facts_present

    provider = provider or provider_get()
    rows = []
    for row in business.scenarios:
        language = row.get("language") or ""
        topic_slug = ""
        history: list[dict] = []
        previous_documents: frozenset = frozenset()
        for index, text in enumerate(row["messages"]):
            detected, confidence = detect_language(text)
            if detected and detected != language and (not language or confidence >= 0.5):
                language = detected
            ctx = TurnContext(conversation_id=0, text=text, language=language or "es", history=list(history),
                              topic_slug=topic_slug, previous_documents=previous_documents)
            with candidates_capture() as candidates:
                analysis = provider.analyse(ctx)
            topic = config_get().topics.get(analysis.topic_slug) if analysis.topic_slug else None
            if topic is not None:
                topic_slug = topic.slug
            due = due_on_turn(row, index)
            facts = row["expected"].get("facts") or []
            last = index == len(row["messages"]) - 1
            labelled = last and facts and not due
            rows.append({
                "candidates": [{"features": {k: round(float(v), 5) for k, v in c["features"].items()},
                                "label": all(facts_present(facts, c["text"]))} for c in candidates]
                if labelled else None,
                "business": business.name, "id": row["id"], "turn": index, "last": last,
                "language": row.get("language", ""), "category": row.get("category", ""), "due": due,
                "expected_department": row["expected"].get("department"),
                "intent": analysis.intent, "topic": analysis.topic_slug,
                "bot_may_answer": topic.bot_may_answer if topic is not None else None,
                "has_answer": bool(analysis.answer), "scores": analysis.scores(),
                "features": analysis.extra.get("verifier_features"),
                "facts_ok": (all(facts_present(facts, analysis.answer)) if analysis.answer else False)
                if (last and facts and not due) else None,
            })
            history += [{"role": "customer", "text": text}, {"role": "agent", "text": analysis.answer}]
            # as the service reads the bot's last answer's documents (``services._last_answer_documents``)
            previous_documents = source_documents(analysis.sources) if analysis.answer else previous_documents
    return rows


# --- fitting hooks ---------------------------------------------------------------------------------

def fit_threshold(values: list[float], good_above: list[bool], *, cost_below: float = 1.0,
                  cost_above: float = 1.0, default: float = 0.5) -> float:
    """The threshold t minimising the cost of errors when "value >= t" means the good side:
    ``cost_below`` per good item below t, ``cost_above`` per bad item at or above t. Ties: the
    middle of the best interval (a margin on both sides)."""
    if not values:
        return default
    v = np.asarray(values, dtype=float)
    good = np.asarray(good_above, dtype=bool)
    candidates = np.unique(np.concatenate([v, v + 1e-6, [0.0, 1.0]]))
    costs = np.array([cost_below * np.sum(good & (v < t)) + cost_above * np.sum(~good & (v >= t))
                      for t in candidates])
    best = np.flatnonzero(costs == costs.min())
    lo = candidates[best[0]]
    # the middle of the first contiguous run of best candidates
    run_end = best[0]
    while run_end + 1 < len(candidates) and costs[run_end + 1] == costs.min():
        run_end += 1
    hi = candidates[run_end]
    return float(round((lo + hi) / 2, 4))


def fit_confidence_threshold(rows: list[dict]) -> dict:
    """``confidence_threshold`` from turns where only low confidence decides: an answer due with its
    facts found should be given (a false handoff costs 1), a low-confidence handoff due or an
    answer without its facts should not (a wrong answer costs 2: a customer misled is worse than
    one passed to a person)."""
    values, good = [], []
    for r in rows:
        if r["due"] not in ("", "low_confidence") or r["intent"] in ("greeting", "thanks"):
            continue
        if r["due"] == "" and r["facts_ok"] is None:
            continue  # an earlier turn of a multi-turn case, or no facts to check
        values.append(r["scores"].get("confidence", 0.0))
        good.append(r["due"] == "" and bool(r["facts_ok"]))
    return {"confidence_threshold": fit_threshold(values, good, cost_below=1.0, cost_above=2.0)}


def fit_answer_verifier(rows: list[dict]) -> dict:
    """The learned answer verifier and its threshold (``apps.agent.evaluation.verifier``)."""
    from .verifier import fit_verifier

    return fit_verifier(rows)


DEFAULT_FITTERS: list[Fitter] = [fit_answer_verifier]


def fitter_load(spec: str) -> Fitter:
    module, _sep, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"{spec!r}: expected module.path:function")
    return getattr(importlib.import_module(module), name)


def fit_all(rows: list[dict], fitters: list[Fitter]) -> dict:
    settings: dict = {}
    for fitter in fitters:
        settings.update(fitter(rows) or {})
    return settings


# --- runs ------------------------------------------------------------------------------------------

def _warm_up():
    """What a worker does when it starts (model, classifier, the KB's answer units), so the
    measured decision latency is that of a running worker, not of its first message."""
    from ..compose import units_warm
    from ..engine import embed, engine_get
    from ..rare_words import frequencies

    engine_get()
    embed(["warm up"])
    units_warm()
    frequencies()


def evaluate_business(business, *, provider=None, settings_override: dict | None = None, details=None,
                      on_progress=None, scratch: bool = True, with_turn_scores: bool = False) -> dict:
    """Install ``business`` (in a scratch environment unless ``scratch`` is False) and score it."""
    from ..packs import business_install
    from .runner import evaluate

    context = scratch_environment() if scratch else contextlib.nullcontext()
    with context:
        started = time.perf_counter()
        installed = business_install(business, settings_override=settings_override)
        _warm_up()
        install_s = time.perf_counter() - started
        rows = turn_scores(business, provider=provider) if with_turn_scores else None
        started = time.perf_counter()
        summary = evaluate(business.scenarios, provider=provider, details=details, on_progress=on_progress,
                           department_names=business.department_names)
        summary["business"] = business.name
        summary["install_seconds"] = round(install_s, 1)
        summary["run_seconds"] = round(time.perf_counter() - started, 1)
        summary["documents"] = installed["documents"]
        from ..models import AgentSettings
        from ..config import THRESHOLDS

        cfg = AgentSettings.load()
        summary["settings"] = {name: getattr(cfg, name) for name in THRESHOLDS}
    return {"summary": summary, "turn_rows": rows}


def business_turn_rows(business, *, provider=None, rankers: dict | None = None) -> dict:
    """Install ``business`` once and score its turns under each ranker of ``rankers`` ({label:
    model}; a model ``{"none": True}`` is the hand-set unit score)."""
    from ..packs import business_install

    rankers = rankers or {"": None}
    out = {}
    with scratch_environment():
        business_install(business)
        _warm_up()
        for label, model in rankers.items():
            with ranker_use(model):
                out[label] = turn_scores(business, provider=provider)
    return out


HAND = {"none": True}


def leave_one_out(businesses: list, *, fitters: list[Fitter] | None = None, provider=None, log=None,
                  details_dir: str | None = None, ranker_fitter: Fitter | None = None) -> dict:
    """Fit on all businesses but one, report on that one; for each in turn.

    With ``ranker_fitter`` (the answer ranker, ``apps.agent.evaluation.ranker.fit_ranker``): every
    business's turns are first scored with the hand-set unit score (the candidates and their labels
    the ranker learns from); then, for each business A and each other business B, A's turns are
    scored again under the ranker fitted on neither A nor B: those rows are what the other hooks
    (the verifier) see when B is left out, so nothing fitted for B has seen B. B is then run end to
    end with the ranker fitted on the others and the hooks' settings."""
    fitters = DEFAULT_FITTERS if fitters is None else fitters
    say = log or (lambda text: None)
    names = [b.name for b in businesses]
    candidates_of: dict[str, list[dict]] = {}
    rows_for: dict[str, dict[str, list[dict]]] = {n: {} for n in names}  # rows_for[left out][business]

    def ranker_without(*excluded: str):
        rows = [r for n in names if n not in excluded for r in candidates_of[n]]
        return ranker_fitter(rows) or HAND

    if ranker_fitter is not None:
        for business in businesses:
            started = time.perf_counter()
            candidates_of[business.name] = business_turn_rows(business, provider=provider, rankers={"": HAND})[""]
            say(f"candidates (hand-set score): {business.name} ({time.perf_counter() - started:.0f}s)")
    for business in businesses:
        started = time.perf_counter()
        if ranker_fitter is None:
            rows = business_turn_rows(business, provider=provider)[""]
            for other in names:
                rows_for[other][business.name] = rows
            shipped_rows = rows
        else:
            rankers = {other: ranker_without(business.name, other) for other in names if other != business.name}
            rankers["__all__"] = ranker_without()
            scored = business_turn_rows(business, provider=provider, rankers=rankers)
            for other in names:
                if other != business.name:
                    rows_for[other][business.name] = scored[other]
            shipped_rows = scored["__all__"]
        if details_dir:  # the raw per-turn scores (under the ranker fitted on every business): what ships is fitted on them
            with open(os.path.join(details_dir, f"turns-{business.name}.jsonl"), "w", encoding="utf-8") as handle:
                for row in shipped_rows:
                    handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        say(f"turn scores: {business.name}, {len(shipped_rows)} turns ({time.perf_counter() - started:.0f}s)")
    report = {}
    for business in businesses:
        dev = [r for name, rows in rows_for[business.name].items() if name != business.name for r in rows]
        fitted = fit_all(dev, fitters)
        verifier = fitted.pop("answer_verifier", None)
        ranker = ranker_without(business.name) if ranker_fitter is not None else None
        say(f"left out {business.name}: fitted on {len(dev)} turns of the others: {fitted}"
            + (f", verifier {verifier.get('fitted_on')}" if verifier else "")
            + (f", ranker {ranker.get('coef')} on {ranker.get('fitted_on')}" if ranker else ""))
        details = open(os.path.join(details_dir, f"{business.name}.jsonl"), "w", encoding="utf-8") \
            if details_dir else None
        try:
            with verifier_use(verifier), ranker_use(ranker):
                result = evaluate_business(business, provider=provider, settings_override=fitted, details=details)
        finally:
            if details:
                details.close()
        result["summary"]["fitted"] = fitted
        if verifier:
            result["summary"]["verifier"] = verifier
        if ranker:
            result["summary"]["ranker"] = ranker
        report[business.name] = result["summary"]
    if ranker_fitter is not None and details_dir:
        with open(os.path.join(details_dir, "answer_ranker.json"), "w", encoding="utf-8") as handle:
            json.dump(ranker_without(), handle, indent=1)
    return report
