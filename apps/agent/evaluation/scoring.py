"""Scoring of evaluated conversations: facts in the reply, the reply's language, the handoff turn.

Pure functions on plain data (no database), so the rules are tested on their own:

- :func:`fact_present`: a fact is in a reply when it appears case- and accent-insensitively, with
  thousands separators and spacing in numbers ignored (``ARS 6,500`` = ``ARS 6.500``), or when a
  faithful English/Spanish rendering of it does (``90 días`` = ``90 days``, ``31 March`` = ``31 de
  marzo``): amounts, phone numbers, codes and names stay as they are, only the words around them
  are translated, through a small glossary of the words facts are made of (units of time, months,
  a handful of nouns). A word the glossary does not know must appear as written.
- :func:`scenario_score`: one conversation's verdict. A handoff is due on the last customer turn;
  one on an earlier turn is *premature* (wrong even with the right trigger), none at all is a miss.
  A resolved conversation is correct when no turn hands off and the last answer holds every fact.
- :func:`reply_language_ok`: an answer is in the customer's language, or says in the customer's
  language that what follows is quoted from a document in the other one (never a silent switch).
"""
from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

# English <-> Spanish phrases that facts are made of. Longest phrases are tried first.
GLOSSARY: list[tuple[str, str]] = [
    ("last day of the month", "ultimo dia del mes"), ("business days", "dias habiles"),
    ("business day", "dia habil"), ("working days", "dias habiles"), ("calendar days", "dias corridos"),
    ("calendar days", "dias calendario"), ("day before", "dia anterior"), ("day after", "dia siguiente"),
    ("days", "dias"), ("day", "dia"), ("hours", "horas"), ("hour", "hora"), ("minutes", "minutos"),
    ("minute", "minuto"), ("seconds", "segundos"), ("weeks", "semanas"), ("week", "semana"),
    ("months", "meses"), ("month", "mes"), ("years", "anos"), ("year", "ano"), ("pairs", "pares"),
    ("pair", "par"), ("devices", "dispositivos"), ("device", "dispositivo"), ("free", "gratis"),
    ("free", "sin cargo"), ("per month", "por mes"), ("per month", "mensual"), ("per year", "por ano"),
    ("per day", "por dia"), ("up to", "hasta"), ("and", "y"), ("or", "o"), ("of", "de"),
    ("monday", "lunes"), ("tuesday", "martes"), ("wednesday", "miercoles"), ("thursday", "jueves"),
    ("friday", "viernes"), ("saturday", "sabado"), ("sunday", "domingo"),
    ("january", "enero"), ("february", "febrero"), ("march", "marzo"), ("april", "abril"), ("may", "mayo"),
    ("june", "junio"), ("july", "julio"), ("august", "agosto"), ("september", "septiembre"),
    ("october", "octubre"), ("november", "noviembre"), ("december", "diciembre"),
    ("children", "hijos"), ("students", "estudiantes"), ("prepaid account", "cuenta prepago"),
]
_MONTHS_ES = "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre".split()


def fold(text: str) -> str:
    """Lowercase, no accents, numbers without thousands separators, one space between words."""
    text = unicodedata.normalize("NFKD", (text or "").lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.replace("\u00a0", " ").replace("’", "'")
    # thousands separators: 1.000.000 / 1,000,000 / 1 000 000 -> 1000000
    text = re.sub(r"(?<=\d)[.,\s](?=\d{3}(?!\d))", "", text)
    text = re.sub(r"(?<=\d)[.,\s](?=\d{3}(?!\d))", "", text)
    text = re.sub(r"(?<=\d),(?=\d)", ".", text)      # decimal comma
    text = re.sub(r"(?<=\d)\s+%", "%", text)
    text = re.sub(r"[^\w%+:@./-]+", " ", text)
    return " ".join(text.split())


def _bounded(needle: str, haystack: str) -> bool:
    """``needle`` in ``haystack`` not glued to more letters or digits ("25" is not in "250"), but
    for a plural ending of its last word ("electronic prescription" is in "Only electronic
    prescriptions are accepted")."""
    if not needle:
        return False
    end = ""
    if needle[-1].isalpha():
        end = r"(?:e?s)?(?![\w])"
    elif needle[-1].isalnum():
        end = r"(?![\w])"
    pattern = (r"(?<![\w])" if needle[0].isalnum() else "") + re.escape(needle) + end
    return re.search(pattern, haystack) is not None


def _variants(fact: str) -> set[str]:
    """The folded fact and its glossary renderings in the other language."""
    folded = fold(fact)
    out = {folded}
    # "31 march" <-> "31 de marzo"
    for en, es in GLOSSARY:
        for src, dst in ((en, es), (es, en)):
            for current in list(out):
                if _bounded(src, current):
                    out.add(re.sub(r"(?<![\w])" + re.escape(src) + r"(?![\w])", dst, current))
    for current in list(out):
        for month in _MONTHS_ES:
            out.add(re.sub(rf"\b(\d+) {month}\b", rf"\1 de {month}", current))
            out.add(re.sub(rf"\b(\d+) de {month}\b", rf"\1 {month}", current))
    return out


def fact_present(fact: str, reply: str) -> bool:
    haystack = fold(reply)
    return any(_bounded(v, haystack) for v in _variants(fact))


def facts_present(facts: list[str], reply: str) -> list[bool]:
    return [fact_present(f, reply) for f in facts]


def holds_facts(facts: list[str], text: str) -> bool:
    """``text`` holds every one of ``facts`` (and there is at least one, and some text)."""
    return bool(facts) and bool(text) and all(facts_present(facts, text))


# --- language --------------------------------------------------------------------------------------

_GLOSS = re.compile(r"\([^()]*\)")


def reply_language(text: str) -> str:
    """The reply's language, glosses in parentheses aside: "an issuer of prepaid cards (emisor de
    tarjetas de pago) supervised by the Comisión para el Mercado Financiero" is English."""
    from apps.agent.language import detect_language

    lang, _confidence = detect_language(_GLOSS.sub(" ", text or ""))
    return lang


def reply_language_ok(reply: str, customer_language: str, *, declared_quote: bool = False) -> bool:
    """The reply speaks the customer's language. A reply that quotes a passage in the other
    language passes only when it declares it (``declared_quote``: the composer's notice, in the
    customer's language, precedes the quote); the notice itself is then what is checked."""
    if not reply.strip() or not customer_language:
        return True
    if declared_quote:
        notice = reply.split("\n", 1)[0]
        return reply_language(notice) in (customer_language, "")
    return reply_language(reply) in (customer_language, "")


# --- one conversation ------------------------------------------------------------------------------

def department_matches(expected: str | None, actual_slug: str, names: dict[str, str] | None = None) -> bool:
    """Departments are compared by slug or by name (packs name them, the agent reports slugs)."""
    if not expected:
        return True
    from django.utils.text import slugify

    names = names or {}
    return actual_slug in (expected, slugify(expected)) or fold(names.get(actual_slug, "")) == fold(expected)


def handoff_turn(turns: list[dict]) -> int | None:
    """The turn the conversation was handed off on: the first ``handoff``, or the first ``collect``
    (asking the customer number before handing off is already the handoff decision). A collection
    that ends in a handoff ("I want to cancel" -> "What is your customer number?" -> "FS-0012345" ->
    handoff) completes on the turn the handoff is made: a scenario whose last customer turn is the
    datum expects the handoff there. A collection the conversation never finishes counts from its
    first turn."""
    start = next((i for i, t in enumerate(turns) if t["decision"] in ("handoff", "collect")), None)
    if start is None or turns[start]["decision"] == "handoff":
        return start
    end = start
    while end + 1 < len(turns) and turns[end + 1]["decision"] == "collect":
        end += 1
    return end + 1 if end + 1 < len(turns) and turns[end + 1]["decision"] == "handoff" else start


def scenario_score(row: dict, turns: list[dict], *, department_names: dict[str, str] | None = None) -> dict:
    """Verdict for one conversation. ``turns``: what the agent did on each customer turn it saw,
    ``{"decision": answer|handoff|collect, "trigger", "department", "replies", "language_ok"}``."""
    expected = row["expected"]
    n_messages = len(row["messages"])
    handoff_at = handoff_turn(turns)
    answers = [t for t in turns if t["decision"] == "answer"]
    silent_switches = sum(1 for t in answers if not t.get("language_ok", True))
    out = {"handoff_turn": handoff_at, "silent_language_switches": silent_switches,
           "premature_handoff": handoff_at is not None and handoff_at < n_messages - 1}
    if expected["outcome"] == "handoff":
        on_time = handoff_at == n_messages - 1
        got = turns[handoff_at] if handoff_at is not None else {}
        trigger_ok = on_time and (not expected.get("trigger") or got.get("trigger") == expected["trigger"])
        department_ok = on_time and department_matches(expected.get("department"), got.get("department", ""),
                                                        department_names)
        last = turns[-1] if turns else {}
        out.update(handoff_on_time=on_time, trigger_ok=trigger_ok, department_ok=department_ok,
                   missed_handoff=handoff_at is None,
                   wrong_answer=handoff_at is None and len(turns) == n_messages and last.get("decision") == "answer",
                   facts_ok=None, answered=False)
        out["correct"] = bool(on_time and trigger_ok and department_ok and silent_switches == 0)
    else:
        facts = list(expected.get("facts") or [])
        last_reply = "\n".join(turns[-1]["replies"]) if turns and turns[-1]["decision"] == "answer" else ""
        answered = handoff_at is None and bool(last_reply)
        found = facts_present(facts, last_reply) if answered else [False] * len(facts)
        facts_ok = answered and all(found)
        out.update(handoff_on_time=None, trigger_ok=None, department_ok=None, missed_handoff=False,
                   wrong_answer=False, answered=answered, facts_ok=facts_ok if facts else answered,
                   facts_found=found)
        out["correct"] = bool(answered and out["facts_ok"] and silent_switches == 0)
    return out


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def summarise(rows: list[dict], verdicts: list[dict]) -> dict:
    """Totals and breakdowns (category, language, expected trigger) of a run."""
    def block(indices: list[int]) -> dict:
        exp_res = [i for i in indices if rows[i]["expected"]["outcome"] == "resolved"]
        exp_hand = [i for i in indices if rows[i]["expected"]["outcome"] == "handoff"]
        answered = [i for i in exp_res if verdicts[i]["answered"]]
        return {
            "conversations": len(indices),
            "correct": _ratio(sum(1 for i in indices if verdicts[i]["correct"]), len(indices)),
            "resolved_expected": len(exp_res),
            "answered_with_facts": _ratio(sum(1 for i in exp_res if verdicts[i]["facts_ok"]), len(exp_res)),
            "answers_given": len(answered),
            "answers_with_facts": _ratio(sum(1 for i in answered if verdicts[i]["facts_ok"]), len(answered)),
            "false_handoffs": sum(1 for i in exp_res if verdicts[i]["handoff_turn"] is not None),
            "handoffs_expected": len(exp_hand),
            "handoff_on_time": _ratio(sum(1 for i in exp_hand if verdicts[i]["handoff_on_time"]), len(exp_hand)),
            "trigger_ok": _ratio(sum(1 for i in exp_hand if verdicts[i]["trigger_ok"]), len(exp_hand)),
            "department_ok": _ratio(sum(1 for i in exp_hand if verdicts[i]["department_ok"]), len(exp_hand)),
            "premature_handoffs": sum(1 for i in indices if verdicts[i]["premature_handoff"]),
            "missed_handoffs": sum(1 for i in exp_hand if verdicts[i]["missed_handoff"]),
            "wrong_answers": sum(1 for i in exp_hand if verdicts[i]["wrong_answer"]),
            "silent_language_switches": sum(verdicts[i]["silent_language_switches"] for i in indices),
        }

    groups: dict[str, dict[str, list[int]]] = {"category": defaultdict(list), "language": defaultdict(list),
                                               "trigger": defaultdict(list)}
    for i, row in enumerate(rows):
        groups["category"][row.get("category") or row["expected"]["outcome"]].append(i)
        groups["language"][row.get("language") or "?"].append(i)
        groups["trigger"][row["expected"].get("trigger") or "none"].append(i)
    summary = block(list(range(len(rows))))
    summary["by"] = {name: {key: block(idx) for key, idx in sorted(g.items())} for name, g in groups.items()}
    return summary
