"""A business to evaluate the agent on, read from one folder, and its installation.

Three folder formats, one :class:`Business`:

- ``demo`` (the word): FibraSur, the demo ISP: ``apps/agent/fibrasur.yaml``, the demo knowledge base
  and ``apps/agent/scenarios/fibrasur.jsonl``.
- an *agent folder*: ``agent.yaml`` (or ``.json``; the ``agent_config`` format), ``kb/`` (any files
  ``kb_ingest`` reads), optional ``kb-mapping.yaml`` (file -> departments, as ``kb_ingest
  --mapping``) and ``scenarios.jsonl``.
- a *business pack* (``business.json``, ``kb/``, ``scenarios.jsonl``, README.md): converted here to
  the agent configuration: departments by slug with their names, topics with their examples, the
  department and ``bot_may_answer``, documents linked by ``kb/<file>``; each file's language is
  its name's ``en-``/``es-`` prefix; scenarios keep ``lang`` as ``language``.

:func:`business_install` loads one into the *current* database and vector store, in the order a
new customer follows: departments, then the documents, then the topics that link them (a topic
naming a document that does not exist is an import error).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.text import slugify

from .evaluation.runner import ScenarioError, load_scenarios

APP_DIR = Path(__file__).resolve().parent


class BusinessError(ValueError):
    pass


@dataclass
class KbFile:
    path: Path
    source: str
    language: str = ""
    departments: list[str] = field(default_factory=list)  # slugs
    title: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass
class Business:
    name: str
    root: Path
    config: dict
    kb_files: list[KbFile]
    scenarios: list[dict]

    @property
    def department_names(self) -> dict[str, str]:
        return {d["slug"]: d["name"] for d in self.config.get("departments") or []}


def _language_of(name: str) -> str:
    prefix = name.split("-", 1)[0].split("_", 1)[0].lower()
    return prefix if prefix in ("en", "es") else ""


def business_read(where: str | Path) -> Business:
    """The business in folder ``where`` (or ``demo``), validated; BusinessError says what is wrong."""
    if str(where) in ("demo", "fibrasur"):
        return _demo()
    root = Path(where)
    if not root.is_dir():
        raise BusinessError(f"{where}: no such folder")
    if (root / "business.json").is_file():
        return pack_convert(root)
    for name in ("agent.yaml", "agent.yml", "agent.json"):
        if (root / name).is_file():
            return _agent_folder(root, root / name)
    raise BusinessError(f"{where}: neither a business pack (business.json) nor an agent folder (agent.yaml)")


def _scenarios(path: Path) -> list[dict]:
    if not path.is_file():
        raise BusinessError(f"{path}: missing")
    try:
        return load_scenarios(path)
    except ScenarioError as exc:
        raise BusinessError(f"{path}: {exc}") from exc


def _demo() -> Business:
    from apps.knowledge.demo import TAGS, TITLES, demo_files

    from .config import config_load_file
    from .demo import DEMO_CONFIG

    files = [KbFile(path=p, source=source, language=lang, tags=TAGS.get(p.stem, []), title=TITLES.get(p.stem, ""))
             for p, lang, source in demo_files()]
    return Business(name="FibraSur", root=APP_DIR, config=config_load_file(DEMO_CONFIG), kb_files=files,
                    scenarios=_scenarios(APP_DIR / "scenarios" / "fibrasur.jsonl"))


def _agent_folder(root: Path, config_path: Path) -> Business:
    from apps.knowledge.kb_mapping import mapping_load
    from apps.knowledge.parsers import EXTENSIONS

    from .config import ConfigError, config_load_file

    try:
        config = config_load_file(config_path)
    except ConfigError as exc:
        raise BusinessError(str(exc)) from exc
    kb = root / "kb"
    mapping = {}
    for name in ("kb-mapping.yaml", "kb-mapping.yml", "kb-mapping.json"):
        if (root / name).is_file():
            mapping = mapping_load(root / name)
    files = []
    for path in sorted(kb.rglob("*")) if kb.is_dir() else []:
        if path.is_file() and path.suffix.lower() in EXTENSIONS:
            rel = path.relative_to(kb).as_posix()
            files.append(KbFile(path=path, source=f"kb/{rel}", language=_language_of(path.name),
                                departments=list(mapping.get(rel, []))))
    if not files:
        raise BusinessError(f"{kb}: no documents")
    name = config.get("company_name") or root.name
    return Business(name=name, root=root, config=config, kb_files=files, scenarios=_scenarios(root / "scenarios.jsonl"))


def pack_convert(root: Path) -> Business:
    """A business pack as an agent configuration, its KB files and its scenarios."""
    try:
        pack = json.loads((root / "business.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BusinessError(f"{root / 'business.json'}: {exc}") from exc
    problems = [f"business.json: missing {key}" for key in ("name", "departments", "default_department", "topics")
                if key not in pack]
    if problems:
        raise BusinessError("; ".join(problems))
    departments = []
    by_name = {}
    for d in pack["departments"]:
        slug = slugify(d["name"])
        by_name[d["name"]] = slug
        departments.append({"slug": slug, "name": d["name"], "description": d.get("description", ""),
                            "is_default": d["name"] == pack["default_department"]})
    if pack["default_department"] not in by_name:
        raise BusinessError(f"business.json: default_department {pack['default_department']!r} is not a department")
    topics = []
    for t in pack["topics"]:
        if t["department"] not in by_name:
            raise BusinessError(f"business.json: topic {t['name']!r}: unknown department {t['department']!r}")
        topics.append({"slug": slugify(t["name"])[:80], "name": t["name"], "department": by_name[t["department"]],
                       "bot_may_answer": bool(t.get("bot_may_answer", True)), "examples": list(t["examples"]),
                       "documents": [f"kb/{doc}" for doc in t.get("kb_docs", [])]})
    config = {"version": 1, "company_name": pack["name"], "departments": departments,
              "settings": {"default_department": by_name[pack["default_department"]]},
              "topics": topics, "transfer_rules": []}
    kb = root / "kb"
    files = [KbFile(path=p, source=f"kb/{p.name}", language=_language_of(p.name))
             for p in sorted(kb.glob("*")) if p.is_file() and p.suffix.lower() in (".md", ".txt", ".html", ".pdf")]
    if not files:
        raise BusinessError(f"{kb}: no documents")
    scenarios = _scenarios(root / "scenarios.jsonl")
    for row in scenarios:
        row.setdefault("language", row.get("lang", ""))
    return Business(name=pack["name"], root=root, config=config, kb_files=files, scenarios=scenarios)


def business_install(business: Business, *, settings_override: dict | None = None, out=None) -> dict:
    """Load ``business`` into the current database and vector store: departments and settings, the
    knowledge base, then the topics and transfer rules. ``settings_override`` (thresholds fitted
    elsewhere) is applied last. Returns counts."""
    from apps.departments.models import Department
    from apps.knowledge.services import document_upsert_file

    from .config import config_import
    from .engine import engine_invalidate

    config = dict(business.config)
    first = {k: v for k, v in config.items() if k in ("version", "departments", "company_name")}
    config_import(first)
    documents = {"created": 0, "error": 0}
    for kb_file in business.kb_files:
        departments = list(Department.objects.filter(slug__in=kb_file.departments)) if kb_file.departments else None
        document, action = document_upsert_file(path=kb_file.path, source=kb_file.source, language=kb_file.language,
                                                departments=departments, tags=kb_file.tags or None,
                                                title=kb_file.title)
        documents[action] = documents.get(action, 0) + 1
        if action == "error" and out is not None:
            out.write(f"  {kb_file.path.name}: {document.error}\n")
    full = dict(config)
    if settings_override:
        full["settings"] = {**(config.get("settings") or {}), **settings_override}
    counts = config_import(full)
    engine_invalidate()
    return {"documents": documents, **counts}
