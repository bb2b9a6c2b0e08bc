"""Bot configuration as code: export/import departments, topics (examples, KB links, data to
collect), transfer rules, thresholds and messages as one JSON/YAML document (README_AGENT.md).

Import validates the whole document first and reports every error with its path
(``topics[2].department: unknown department "foo"``); only a valid document is applied, inside one
transaction, so a bad file changes nothing.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from apps.departments.models import Department

from .models import ACTIONS, TRIGGERS, AgentSettings, Topic, TopicExample, TopicField, TransferRule

SCHEMA_VERSION = 1
THRESHOLDS = {  # name: (type, minimum, maximum)
    "confidence_threshold": (float, 0.0, 1.0),
    "out_of_scope_threshold": (float, 0.0, 1.0),
    "explicit_request_threshold": (float, 0.0, 1.0),
    "sentiment_threshold": (float, -1.0, 1.0),
    "sentiment_window": (int, 1, 50),
    "sentiment_min_negative": (int, 1, 50),
    "collect_max_attempts": (int, 1, 10),
}
ACTION_NAMES = {a for a, _l in ACTIONS}
RULE_TRIGGERS = set(TRIGGERS) | {"agent_error", ""}


class ConfigError(Exception):
    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


# --- files -------------------------------------------------------------------------------------

def config_load_file(path: str | Path) -> dict:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from exc
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError, with line numbers
        raise ConfigError([f"{path}: not valid {'YAML' if path.suffix.lower() in ('.yaml', '.yml') else 'JSON'}: {exc}"]) from exc
    if not isinstance(data, dict):
        raise ConfigError(["(root): must be a mapping with departments, topics, settings..."])
    return data


def config_write_file(data: dict, path: str | Path) -> None:
    path = Path(path)
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8")
    else:
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


# --- export ------------------------------------------------------------------------------------

def config_export() -> dict:
    cfg = AgentSettings.load()
    messages = dict(cfg.messages or {})
    dept_names = messages.pop("departments", {})
    departments = []
    for d in Department.objects.order_by("pk"):
        row = {"slug": d.slug, "name": d.name, "is_default": d.is_default, "active": d.is_active}
        if d.description:
            row["description"] = d.description
        names = _names_of(d, dept_names.get(d.slug))
        if names:
            row["names"] = names
        departments.append(row)
    settings_ = {name: getattr(cfg, name) for name in THRESHOLDS}
    settings_["default_department"] = cfg.default_department.slug if cfg.default_department_id else None
    if cfg.out_of_scope_examples:
        settings_["out_of_scope_examples"] = cfg.out_of_scope_examples
    topics = []
    for t in Topic.objects.order_by("slug").prefetch_related("examples", "required_fields", "documents"):
        docs = [d.source or d.title for d in t.documents.order_by("pk")]
        docs += [r for r in (t.document_refs or []) if r not in docs]
        row = {"slug": t.slug, "name": t.name, "department": t.department.slug if t.department_id else None,
               "bot_may_answer": t.bot_may_answer, "active": t.is_active, "action": t.action,
               "examples": [e.text for e in t.examples.order_by("pk")],
               "collect": [{"key": f.key, "label": f.label, "prompt_en": f.prompt_en, "prompt_es": f.prompt_es,
                            "pattern": f.pattern} for f in t.required_fields.all()]}
        names = _names_of(t)
        if names:
            row["names"] = names
        if t.description:
            row["description"] = t.description
        if docs or not t.answers_from_kb:  # no key: the whole knowledge base
            row["documents"] = docs if t.answers_from_kb else []
        topics.append(row)
    rules = [{"order": r.order, "topic": r.topic.slug if r.topic_id else None, "trigger": r.trigger,
              "language": r.language, "department": r.department.slug, "active": r.is_active}
             for r in TransferRule.objects.select_related("topic", "department").order_by("order", "pk")]
    return {"version": SCHEMA_VERSION, "company_name": cfg.company_name or None, "departments": departments,
            "settings": settings_, "messages": messages,
            "topics": topics, "transfer_rules": rules}


# --- validation ----------------------------------------------------------------------------------

def _str(errors, path, value, *, required=True, max_len=200, allow_empty=False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (not value.strip() and not allow_empty):
        errors.append(f"{path}: must be a non-empty string")
        return ""
    if len(value) > max_len:
        errors.append(f"{path}: longer than {max_len} characters")
    return value.strip()


def _names(errors, path, value, *, max_len: int) -> dict:
    """``names: {es: ..., en: ...}``: the name per language of the admin's per-language fields."""
    from apps.departments.names import LANGUAGE_CODES

    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{path}: must map language codes to names")
        return {}
    out = {}
    for code, name in value.items():
        if code not in LANGUAGE_CODES:
            errors.append(f"{path}.{code}: unknown language {code!r} (one of {', '.join(LANGUAGE_CODES)})")
            continue
        name = _str(errors, f"{path}.{code}", name, max_len=max_len)
        if name:
            out[code] = name
    return out


def _bool(errors, path, value, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        errors.append(f"{path}: must be true or false")
        return default
    return value


def _list(errors, path, value) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"{path}: must be a list")
        return []
    return value


def _out_of_scope_examples(errors, path, value) -> dict:
    """``{mode: extend|replace, examples: [texts]}``: this business's own off-topic examples, beside
    (extend) or instead of (replace) the built-in ones. None/{} = the built-in ones only."""
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - {"mode", "examples"}:
        errors.append(f"{path}: must be a mapping with mode (extend or replace) and examples")
        return {}
    mode = value.get("mode", "extend")
    if mode not in ("extend", "replace"):
        errors.append(f"{path}.mode: must be extend or replace")
    examples = value.get("examples") or []
    if not isinstance(examples, list) or not all(isinstance(e, str) and e.strip() for e in examples):
        errors.append(f"{path}.examples: must be a list of non-empty texts")
        examples = []
    if mode == "replace" and len(examples) < 5:
        errors.append(f"{path}.examples: replacing the built-in examples needs at least 5")
    return {"mode": mode, "examples": [e.strip()[:500] for e in examples]}


def config_validate(data: dict) -> tuple[list[str], dict]:
    """Return (errors, normalised document)."""
    errors: list[str] = []
    if not isinstance(data, dict):
        return ["(root): must be a mapping"], {}
    allowed = {"version", "company_name", "departments", "settings", "messages", "topics", "transfer_rules"}
    for key in data:
        if key not in allowed:
            errors.append(f"{key}: unknown section (expected one of {', '.join(sorted(allowed))})")
    if data.get("version", SCHEMA_VERSION) != SCHEMA_VERSION:
        errors.append(f"version: unsupported {data.get('version')!r} (this version reads {SCHEMA_VERSION})")
    company_name = None
    if data.get("company_name") is not None:
        company_name = _str(errors, "company_name", data.get("company_name"), max_len=120)

    departments, dept_slugs = [], set(Department.objects.values_list("slug", flat=True))
    seen = set()
    for i, row in enumerate(_list(errors, "departments", data.get("departments"))):
        path = f"departments[{i}]"
        if not isinstance(row, dict):
            errors.append(f"{path}: must be a mapping")
            continue
        slug = _str(errors, f"{path}.slug", row.get("slug"), max_len=100)
        if slug and slug != slugify(slug):
            errors.append(f"{path}.slug: {slug!r} is not a slug (lowercase letters, digits, hyphens)")
        if slug in seen:
            errors.append(f"{path}.slug: duplicate {slug!r}")
        seen.add(slug)
        names = _names(errors, f"{path}.names", row.get("names"), max_len=100)
        departments.append({"slug": slug, "name": _str(errors, f"{path}.name", row.get("name"), max_len=100),
                            "description": _str(errors, f"{path}.description", row.get("description"),
                                                required=False, max_len=5000, allow_empty=True),
                            "is_default": _bool(errors, f"{path}.is_default", row.get("is_default"), False),
                            "active": _bool(errors, f"{path}.active", row.get("active"), True), "names": names})
    if sum(1 for d in departments if d["is_default"]) > 1:
        errors.append("departments: more than one department has is_default: true")
    known_depts = dept_slugs | seen
    # a department may be named by slug or by name (its name in this file, else in the database)
    by_name = {name.casefold(): slug for slug, name in Department.objects.values_list("slug", "name")}
    by_name.update({d["name"].casefold(): d["slug"] for d in departments if d["name"]})

    def dept_ref(path, value, required=True):
        if value is None and not required:
            return None
        if isinstance(value, str) and value not in known_depts and value.strip().casefold() in by_name:
            return by_name[value.strip().casefold()]
        if not isinstance(value, str) or value not in known_depts:
            errors.append(f"{path}: unknown department {value!r} (a slug or a name of a department)")
            return None
        return value

    settings_in = data.get("settings") or {}
    settings_out: dict = {}
    if not isinstance(settings_in, dict):
        errors.append("settings: must be a mapping")
        settings_in = {}
    for key, value in settings_in.items():
        path = f"settings.{key}"
        if key == "default_department":
            settings_out[key] = dept_ref(path, value, required=False)
            continue
        if key == "out_of_scope_examples":
            settings_out[key] = _out_of_scope_examples(errors, path, value)
            continue
        if key not in THRESHOLDS:
            errors.append(f"{path}: unknown setting")
            continue
        kind, low, high = THRESHOLDS[key]
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (kind is float or isinstance(value, int))
        if not ok or not low <= value <= high:
            errors.append(f"{path}: must be {'an integer' if kind is int else 'a number'} from {low} to {high}")
            continue
        settings_out[key] = kind(value)
    if settings_out.get("sentiment_min_negative", 0) > settings_out.get("sentiment_window", 10 ** 6):
        errors.append("settings.sentiment_min_negative: cannot exceed settings.sentiment_window")

    messages = data.get("messages") or {}
    if not isinstance(messages, dict):
        errors.append("messages: must be a mapping")
        messages = {}
    for key, texts in messages.items():
        if not isinstance(texts, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in texts.items()):
            errors.append(f"messages.{key}: must map language codes to texts")

    # A section that is missing (or null) leaves that part of the configuration as it is; a present
    # list replaces it, so an explicit empty list removes every topic / transfer rule.
    present = {key for key in ("departments", "settings", "messages", "topics", "transfer_rules")
               if data.get(key) is not None}
    topics, topic_slugs = [], set()
    for i, row in enumerate(_list(errors, "topics", data.get("topics"))):
        path = f"topics[{i}]"
        if not isinstance(row, dict):
            errors.append(f"{path}: must be a mapping")
            continue
        slug = _str(errors, f"{path}.slug", row.get("slug"), max_len=80)
        if slug and slug != slugify(slug):
            errors.append(f"{path}.slug: {slug!r} is not a slug")
        if slug in topic_slugs:
            errors.append(f"{path}.slug: duplicate {slug!r}")
        topic_slugs.add(slug)
        action = row.get("action") or ""
        if action not in ACTION_NAMES:
            errors.append(f"{path}.action: unknown action {action!r} (one of {', '.join(sorted(a for a in ACTION_NAMES if a))})")
        examples = []
        for j, ex in enumerate(_list(errors, f"{path}.examples", row.get("examples"))):
            text = ex.get("text") if isinstance(ex, dict) else ex
            lang = ex.get("language", "") if isinstance(ex, dict) else ""
            examples.append((_str(errors, f"{path}.examples[{j}]", text, max_len=500), lang if isinstance(lang, str) else ""))
        if not examples:
            errors.append(f"{path}.examples: a topic needs at least one example utterance")
        # documents: missing = the whole knowledge base; [] = none (always hand off); else each one
        # must exist (by source path or title): a typo is an error, not a silent "whole KB".
        documents = []
        for j, doc in enumerate(_list(errors, f"{path}.documents", row.get("documents"))):
            ref = doc.get("source") or doc.get("title") if isinstance(doc, dict) else doc
            ref = _str(errors, f"{path}.documents[{j}]", ref, max_len=300)
            if ref and not _document_exists(ref):
                errors.append(f"{path}.documents[{j}]: unknown document {ref!r} (ingest it first with kb_ingest; "
                              f"name it by its source path or title)")
            documents.append(ref)
        fields, keys = [], set()
        for j, f in enumerate(_list(errors, f"{path}.collect", row.get("collect"))):
            fpath = f"{path}.collect[{j}]"
            if not isinstance(f, dict):
                errors.append(f"{fpath}: must be a mapping")
                continue
            key = _str(errors, f"{fpath}.key", f.get("key"), max_len=50)
            if key in keys:
                errors.append(f"{fpath}.key: duplicate {key!r}")
            keys.add(key)
            pattern = f.get("pattern") or ""
            if not isinstance(pattern, str):
                errors.append(f"{fpath}.pattern: must be a string")
                pattern = ""
            try:
                re.compile(pattern)
            except re.error as exc:
                errors.append(f"{fpath}.pattern: not a valid regular expression ({exc})")
            fields.append({"key": key, "label": _str(errors, f"{fpath}.label", f.get("label") or key, max_len=100),
                           "prompt_en": _str(errors, f"{fpath}.prompt_en", f.get("prompt_en"), max_len=300),
                           "prompt_es": _str(errors, f"{fpath}.prompt_es", f.get("prompt_es"), max_len=300),
                           "pattern": pattern[:300]})
        topics.append({"slug": slug, "name": _str(errors, f"{path}.name", row.get("name"), max_len=120),
                       "names": _names(errors, f"{path}.names", row.get("names"), max_len=120),
                       "description": _str(errors, f"{path}.description", row.get("description"), required=False,
                                           max_len=5000, allow_empty=True),
                       "department": dept_ref(f"{path}.department", row.get("department"), required=False),
                       "bot_may_answer": _bool(errors, f"{path}.bot_may_answer", row.get("bot_may_answer"), True),
                       "active": _bool(errors, f"{path}.active", row.get("active"), True),
                       "action": action if action in ACTION_NAMES else "", "examples": examples,
                       "documents": documents, "answers_from_kb": row.get("documents") != [], "collect": fields})

    rule_topics = topic_slugs if "topics" in present else set(Topic.objects.values_list("slug", flat=True))
    rules = []
    for i, row in enumerate(_list(errors, "transfer_rules", data.get("transfer_rules"))):
        path = f"transfer_rules[{i}]"
        if not isinstance(row, dict):
            errors.append(f"{path}: must be a mapping")
            continue
        topic = row.get("topic")
        if topic is not None and topic not in rule_topics:
            errors.append(f"{path}.topic: unknown topic {topic!r} (topics must be in this file)"
                          if "topics" in present else f"{path}.topic: unknown topic {topic!r}")
        trigger = row.get("trigger") or ""
        if trigger not in RULE_TRIGGERS:
            errors.append(f"{path}.trigger: unknown trigger {trigger!r} (one of {', '.join(sorted(t for t in RULE_TRIGGERS if t))})")
        order = row.get("order", i)
        if not isinstance(order, int) or isinstance(order, bool) or order < 0:
            errors.append(f"{path}.order: must be a whole number >= 0")
            order = i
        rules.append({"order": order, "topic": topic, "trigger": trigger, "language": str(row.get("language") or "")[:10],
                      "department": dept_ref(f"{path}.department", row.get("department")),
                      "active": _bool(errors, f"{path}.active", row.get("active"), True)})
    return errors, {"departments": departments, "settings": settings_out, "messages": messages,
                    "topics": topics, "transfer_rules": rules, "present": present, "company_name": company_name}


def _name_fields(names: dict) -> dict:
    """``{"name_es": ..., "name_en": ...}`` for every language: a language the file does not name is
    emptied (the plain name is read then), so the file stays the whole configuration."""
    from apps.departments.names import LANGUAGE_CODES

    return {f"name_{code}": names.get(code, "") for code in LANGUAGE_CODES}


def _names_of(obj, legacy: dict | None = None) -> dict:
    """The per-language names of a department or topic, for export (legacy message entries under them)."""
    from apps.departments.names import LANGUAGE_CODES

    names = {code: value for code, value in (legacy or {}).items() if code in LANGUAGE_CODES and value}
    names.update({code: getattr(obj, f"name_{code}") for code in LANGUAGE_CODES
                  if (getattr(obj, f"name_{code}", "") or "").strip()})
    return names


def _document_exists(ref: str) -> bool:
    from apps.knowledge.models import Document

    return Document.objects.filter(source=ref).exists() or Document.objects.filter(title=ref).exists()


# --- import ------------------------------------------------------------------------------------

def config_import(data: dict) -> dict:
    """Validate then apply ``data``; raises ConfigError (nothing changed) listing every problem."""
    errors, doc = config_validate(data)
    if errors:
        raise ConfigError(errors)
    from apps.knowledge.models import Document

    counts = {"departments": 0, "topics": 0, "examples": 0, "rules": 0, "documents_linked": 0,
              "documents_pending": 0}
    present = doc["present"]
    with transaction.atomic():
        cfg = AgentSettings.load()
        # Names per language go to the departments' own fields (the admin's "name in Spanish" ...),
        # the one place every page and every customer message reads them from; departments are never
        # deleted, so departments not in this file keep theirs. (Before, they lived in the messages'
        # "departments" entry: migration agent 0009 moved them; that entry is no longer written.)
        legacy_names: dict = dict((cfg.messages or {}).get("departments") or {})
        if any(d["is_default"] for d in doc["departments"]):
            Department.objects.filter(is_default=True).exclude(
                slug__in=[d["slug"] for d in doc["departments"] if d["is_default"]]).update(is_default=False)
        for d in doc["departments"]:
            Department.objects.update_or_create(slug=d["slug"], defaults={
                "name": d["name"], "description": d["description"], "is_default": d["is_default"],
                "is_active": d["active"], **_name_fields(d["names"])})
            legacy_names.pop(d["slug"], None)
            counts["departments"] += 1
        depts = {d.slug: d for d in Department.objects.all()}

        for key, value in doc["settings"].items():
            if key == "default_department":
                cfg.default_department = depts.get(value) if value else None
            else:
                setattr(cfg, key, value)
        messages = doc["messages"] if "messages" in present else \
            {k: v for k, v in (cfg.messages or {}).items() if k != "departments"}
        cfg.messages = {**messages, **({"departments": legacy_names} if legacy_names else {})}
        if doc["company_name"] is not None:
            cfg.company_name = doc["company_name"]
        cfg.save()

        if "topics" in present:
            Topic.objects.exclude(slug__in=[t["slug"] for t in doc["topics"]]).delete()
        for t in doc["topics"]:
            topic, _created = Topic.objects.update_or_create(slug=t["slug"], defaults={
                "name": t["name"], **_name_fields(t["names"]), "description": t["description"],
                "bot_may_answer": t["bot_may_answer"],
                "is_active": t["active"], "action": t["action"], "answers_from_kb": t["answers_from_kb"],
                "department": depts.get(t["department"]) if t["department"] else None})
            topic.examples.all().delete()
            TopicExample.objects.bulk_create([TopicExample(topic=topic, text=text, language=lang)
                                              for text, lang in t["examples"]])
            topic.required_fields.all().delete()
            TopicField.objects.bulk_create([TopicField(topic=topic, order=n, **f) for n, f in enumerate(t["collect"])])
            linked, pending = [], []
            for ref in t["documents"]:
                found = Document.objects.filter(source=ref).first() or Document.objects.filter(title=ref).first()
                (linked if found else pending).append(found or ref)
            topic.documents.set(linked)
            topic.document_refs = list(t["documents"])
            topic.save(update_fields=["document_refs"])
            counts["topics"] += 1
            counts["examples"] += len(t["examples"])
            counts["documents_linked"] += len(linked)
            counts["documents_pending"] += len(pending)
        if "transfer_rules" in present:
            TransferRule.objects.all().delete()
        topics = {t.slug: t for t in Topic.objects.all()}
        for r in doc["transfer_rules"]:
            TransferRule.objects.create(order=r["order"], topic=topics.get(r["topic"]) if r["topic"] else None,
                                        trigger=r["trigger"], language=r["language"],
                                        department=depts[r["department"]], is_active=r["active"])
            counts["rules"] += 1
    from .engine import engine_invalidate

    engine_invalidate()
    return counts
