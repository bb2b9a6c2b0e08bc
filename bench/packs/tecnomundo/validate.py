#!/usr/bin/env python3
"""Consistency checker for the TecnoMundo evaluation pack.

Usage:  python3 validate.py      (from any directory)
Prints a summary and exits with status 1 if any check fails. Standard library only.
"""
import json
import re
import sys
import unicodedata
from collections import Counter
from pathlib import Path

PACK = Path(__file__).resolve().parent
KB_DIR = PACK / "kb"

CATEGORY_COUNTS = {
    "kb_answerable": 50,
    "anti_keyword": 12,
    "angry_but_answerable": 10,
    "explicit_request": 18,
    "out_of_scope": 20,
    "negative_sentiment": 15,
    "low_confidence": 15,
    "restricted_topic": 10,
}
RESOLVED = ("kb_answerable", "anti_keyword", "angry_but_answerable")
HANDOFF_TRIGGER = {
    "explicit_request": "explicit_request",
    "out_of_scope": "out_of_scope",
    "negative_sentiment": "negative_sentiment",
    "low_confidence": "low_confidence",
    "restricted_topic": "out_of_scope",   # restricted topics hand off as out_of_scope
}
SCENARIO_KEYS = ["id", "lang", "messages", "expected", "category", "note"]
EXPECTED_KEYS = ["outcome", "trigger", "department", "facts"]
LANGS = ("en", "es")
MIN_CROSS_LINGUAL_KB = 12
WORDS_MIN, WORDS_MAX = 300, 600

problems = []


def fail(msg):
    problems.append(msg)


def fold(text):
    """Unicode-normalise and case-fold, for case-insensitive substring checks."""
    return unicodedata.normalize("NFC", text).casefold()


def word_count(text):
    """Whitespace tokens that contain at least one letter or digit (table pipes don't count)."""
    return sum(1 for tok in text.split() if re.search(r"\w", tok))


def tag(note, name):
    m = re.search(r"\[" + name + r": ([^\]]+)\]", note)
    return m.group(1).strip() if m else None


# ------------------------------------------------------------------ kb/
docs = {p.name: p.read_text(encoding="utf-8") for p in sorted(KB_DIR.glob("*.md"))}
docs_folded = {name: fold(text) for name, text in docs.items()}
doc_lang = {}
if len(docs) != 16:
    fail(f"kb/: {len(docs)} documents, expected 16")
for name, text in docs.items():
    prefix = name.split("-", 1)[0]
    if prefix not in LANGS:
        fail(f"kb/{name}: file name must start with en- or es-")
    doc_lang[name] = prefix
    n = word_count(text)
    if not WORDS_MIN <= n <= WORDS_MAX:
        fail(f"kb/{name}: {n} words, expected {WORDS_MIN}-{WORDS_MAX}")
    if not text.startswith("# "):
        fail(f"kb/{name}: must start with a level-1 heading")
kb_by_lang = Counter(doc_lang.values())
if kb_by_lang["en"] != 8 or kb_by_lang["es"] != 8:
    fail(f"kb/: expected 8 English and 8 Spanish documents, got {dict(kb_by_lang)}")

# ------------------------------------------------------------------ business.json
biz = json.loads((PACK / "business.json").read_text(encoding="utf-8"))
for key in ("name", "languages", "departments", "default_department", "topics"):
    if key not in biz:
        fail(f"business.json: missing key '{key}'")
if sorted(biz.get("languages", [])) != sorted(LANGS):
    fail(f"business.json: languages should be {list(LANGS)}")
departments = [d.get("name") for d in biz["departments"]]
for d in biz["departments"]:
    if not d.get("description"):
        fail(f"business.json: department {d.get('name')} has no description")
if len(departments) != 5 or len(set(departments)) != 5:
    fail(f"business.json: expected 5 distinct departments, got {departments}")
default_dept = biz["default_department"]
if default_dept not in departments:
    fail(f"business.json: default_department {default_dept!r} is not one of the departments")

topics = {}
docs_in_topics = set()
for t in biz["topics"]:
    missing = [k for k in ("name", "department", "bot_may_answer", "examples", "kb_docs") if k not in t]
    if missing:
        fail(f"topic {t.get('name')!r}: missing {missing}")
        continue
    if t["name"] in topics:
        fail(f"topic {t['name']!r} is defined twice")
    topics[t["name"]] = t
    if t["department"] not in departments:
        fail(f"topic {t['name']!r}: unknown department {t['department']!r}")
    if not isinstance(t["bot_may_answer"], bool):
        fail(f"topic {t['name']!r}: bot_may_answer must be true or false")
    if not 10 <= len(t["examples"]) <= 15:
        fail(f"topic {t['name']!r}: {len(t['examples'])} examples, expected 10-15")
    ex_langs = {("es" if re.search(r"[¿¡áéíóúñ]", e.lower()) else "en") for e in t["examples"]}
    if ex_langs != {"en", "es"}:
        fail(f"topic {t['name']!r}: examples should mix English and Spanish")
    for doc in t["kb_docs"]:
        if doc not in docs:
            fail(f"topic {t['name']!r}: kb_docs lists missing file {doc}")
        docs_in_topics.add(doc)
if not 12 <= len(topics) <= 15:
    fail(f"business.json: {len(topics)} topics, expected 12-15")
restricted_topics = [n for n, t in topics.items() if t["bot_may_answer"] is False]
if not 2 <= len(restricted_topics) <= 3:
    fail(f"business.json: {len(restricted_topics)} topics with bot_may_answer false, expected 2-3")
for doc in docs:
    if doc not in docs_in_topics:
        fail(f"kb/{doc}: not listed in any topic's kb_docs")
topic_examples = {fold(e) for t in topics.values() for e in t["examples"]}

# ------------------------------------------------------------------ scenarios.jsonl
scenarios = []
lines = (PACK / "scenarios.jsonl").read_text(encoding="utf-8").splitlines()
for lineno, line in enumerate(lines, 1):
    try:
        scenarios.append(json.loads(line))
    except json.JSONDecodeError as exc:
        fail(f"scenarios.jsonl line {lineno}: not valid JSON ({exc})")

want_ids = [f"t{i:03d}" for i in range(1, len(scenarios) + 1)]
got_ids = [s.get("id") for s in scenarios]
for sid, n in Counter(got_ids).items():
    if n > 1:
        fail(f"duplicate id {sid}")
if got_ids != want_ids:
    fail("ids must run t001, t002, ... in file order")

per_cat_lang = Counter()
per_dept_cat = Counter()
cross = Counter()
n_facts = n_gaps = 0
for s in scenarios:
    sid = s.get("id", "?")
    if list(s.keys()) != SCENARIO_KEYS:
        fail(f"{sid}: keys {list(s.keys())}, expected {SCENARIO_KEYS}")
        continue
    exp = s["expected"]
    if not isinstance(exp, dict) or list(exp.keys()) != EXPECTED_KEYS:
        fail(f"{sid}: expected keys must be {EXPECTED_KEYS}")
        continue
    cat, lang, note, msgs, facts = s["category"], s["lang"], s["note"], s["messages"], exp["facts"]
    if lang not in LANGS:
        fail(f"{sid}: unknown lang {lang!r}")
    if cat not in CATEGORY_COUNTS:
        fail(f"{sid}: unknown category {cat!r}")
        continue
    per_cat_lang[(cat, lang)] += 1
    if not isinstance(msgs, list) or not msgs or not all(isinstance(m, str) and m.strip() for m in msgs):
        fail(f"{sid}: messages must be a non-empty list of non-empty strings")
        msgs = [m for m in msgs if isinstance(m, str)] if isinstance(msgs, list) else []
    for m in msgs:
        if fold(m) in topic_examples:
            fail(f"{sid}: message repeats a business.json topic example: {m!r}")
    if not isinstance(facts, list):
        fail(f"{sid}: facts must be a list")
        continue

    topic = tag(note, "topic")
    if topic is not None and topic not in topics:
        fail(f"{sid}: [topic: {topic}] is not a business.json topic")
        topic = None

    if cat in RESOLVED:
        if (exp["outcome"], exp["trigger"], exp["department"]) != ("resolved", None, None):
            fail(f"{sid}: {cat} must be resolved with trigger and department null")
        if not 1 <= len(facts) <= 3:
            fail(f"{sid}: resolved scenarios need 1-3 facts, found {len(facts)}")
        kb_tag = tag(note, "KB")
        if kb_tag is None:
            fail(f"{sid}: resolved scenario note lacks [KB: document]")
            continue
        cited = [d.strip() for d in kb_tag.split(",")]
        for d in cited:
            if d not in docs:
                fail(f"{sid}: [KB: ...] cites a missing document {d}")
        cited = [d for d in cited if d in docs]
        for fact in facts:
            n_facts += 1
            if not isinstance(fact, str) or not fact.strip():
                fail(f"{sid}: empty fact")
            elif not any(fold(fact) in docs_folded[d] for d in cited):
                fail(f"{sid}: fact {fact!r} not found verbatim in {cited}")
        only_other_lang = bool(cited) and all(doc_lang[d] != lang for d in cited)
        says_cross = "Cross-lingual" in note
        if only_other_lang:
            cross[cat] += 1
            if not says_cross:
                fail(f"{sid}: answerable only from the other language, but the note doesn't say 'Cross-lingual'")
        elif says_cross:
            fail(f"{sid}: note says Cross-lingual but a cited document is in the question's language")
    else:
        if exp["outcome"] != "handoff":
            fail(f"{sid}: {cat} must have outcome 'handoff'")
        if exp["trigger"] != HANDOFF_TRIGGER[cat]:
            fail(f"{sid}: {cat} needs trigger {HANDOFF_TRIGGER[cat]!r}, has {exp['trigger']!r}")
        if facts:
            fail(f"{sid}: handoff scenarios must have facts []")
        dept = exp["department"]
        if dept not in departments:
            fail(f"{sid}: unknown department {dept!r}")
        per_dept_cat[(dept, cat)] += 1
        if cat == "out_of_scope":
            if dept != default_dept:
                fail(f"{sid}: out_of_scope goes to the default department {default_dept!r}, not {dept!r}")
            if topic:
                fail(f"{sid}: out_of_scope scenarios must not name a topic")
        elif cat == "explicit_request":
            target = topics[topic]["department"] if topic else default_dept
            if dept != target:
                fail(f"{sid}: explicit_request (topic {topic}) should go to {target!r}, not {dept!r}")
        else:
            if not topic:
                fail(f"{sid}: {cat} note must name its [topic: ...]")
            else:
                if dept != topics[topic]["department"]:
                    fail(f"{sid}: department {dept!r} is not topic {topic!r}'s department "
                         f"{topics[topic]['department']!r}")
                restricted = topics[topic]["bot_may_answer"] is False
                if cat == "restricted_topic" and not restricted:
                    fail(f"{sid}: restricted_topic names {topic!r}, which the bot may answer")
                if cat in ("negative_sentiment", "low_confidence") and restricted:
                    fail(f"{sid}: {cat} names the restricted topic {topic!r}")
        if cat == "negative_sentiment" and len(msgs) < 3:
            fail(f"{sid}: negative_sentiment needs at least 3 customer turns")
        if cat == "low_confidence":
            gap = tag(note, "gap")
            if gap is None:
                fail(f"{sid}: low_confidence note lacks [gap: ...]")
            else:
                for term in (g.strip() for g in gap.split(";")):
                    if not term:
                        continue
                    n_gaps += 1
                    found_in = [d for d in docs if fold(term) in docs_folded[d]]
                    if found_in:
                        fail(f"{sid}: gap term {term!r} occurs in {found_in}")

per_cat = Counter()
for (cat, _lang), n in per_cat_lang.items():
    per_cat[cat] += n
for cat, want in CATEGORY_COUNTS.items():
    if per_cat[cat] != want:
        fail(f"category {cat}: {per_cat[cat]} scenarios, expected {want}")
if len(scenarios) != sum(CATEGORY_COUNTS.values()):
    fail(f"{len(scenarios)} scenarios, expected {sum(CATEGORY_COUNTS.values())}")
if cross["kb_answerable"] < MIN_CROSS_LINGUAL_KB:
    fail(f"{cross['kb_answerable']} cross-lingual kb_answerable scenarios, expected at least {MIN_CROSS_LINGUAL_KB}")
by_lang = Counter(s.get("lang") for s in scenarios)
if abs(by_lang["en"] - by_lang["es"]) > 0.1 * len(scenarios):
    fail(f"languages too unbalanced: {dict(by_lang)}")

# ------------------------------------------------------------------ summary
counts = [word_count(t) for t in docs.values()] or [0]
print(f"KB: {len(docs)} documents ({kb_by_lang['en']} en, {kb_by_lang['es']} es), {min(counts)}-{max(counts)} words")
print(f"business.json: {len(departments)} departments (default: {default_dept}), {len(topics)} topics, "
      f"{len(restricted_topics)} with bot_may_answer=false")
print(f"scenarios: {len(scenarios)} ({by_lang['en']} en, {by_lang['es']} es)")
print(f"  {'category':<22}{'en':>4}{'es':>4}{'total':>7}")
for cat in CATEGORY_COUNTS:
    print(f"  {cat:<22}{per_cat_lang[(cat, 'en')]:>4}{per_cat_lang[(cat, 'es')]:>4}{per_cat[cat]:>7}")
print(f"cross-lingual resolved scenarios: {dict(cross)}")
print("handoffs by department:")
for d in departments:
    row = {c: per_dept_cat[(d, c)] for c in HANDOFF_TRIGGER if per_dept_cat[(d, c)]}
    print(f"  {d:<34}{sum(row.values()):>3}  {row}")
print(f"facts checked verbatim: {n_facts}; gap terms checked absent: {n_gaps}")
if problems:
    print(f"\nFAILED: {len(problems)} problem(s)")
    for p in problems:
        print("  -", p)
    sys.exit(1)
print("\nOK: all checks passed")
