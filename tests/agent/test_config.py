"""manage.py agent_config export/import: round trip (JSON and YAML), every error reported with its
path, and a bad file changes nothing."""
from __future__ import annotations

import json

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.agent.config import config_export
from apps.agent.models import AgentSettings, Topic, TransferRule

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_round_trip(fibrasur, tmp_path, suffix):
    path = tmp_path / f"bot{suffix}"
    TransferRule.objects.create(order=1, topic=Topic.objects.get(slug="plans"), trigger="explicit_request",
                                department=fibrasur.extra["depts"]["sales"])
    call_command("agent_config", "export", str(path))
    before = config_export()
    # change everything, then load the file back
    Topic.objects.filter(slug="claims").delete()
    TransferRule.objects.all().delete()
    cfg = AgentSettings.load()
    cfg.confidence_threshold, cfg.messages = 0.9, {}
    cfg.save()
    call_command("agent_config", "import", str(path))
    assert config_export() == before
    claims = next(t for t in before["topics"] if t["slug"] == "claims")
    assert "demo_kb/en/how-to-file-a-claim.md" in claims["documents"]
    assert Topic.objects.get(slug="claims").documents.count() == 2  # linked by source path
    assert before["transfer_rules"][0]["topic"] == "plans"
    assert before["messages"] == {} and before["departments"][0]["slug"]


def test_bad_file_reports_every_error_with_path_and_changes_nothing(fibrasur, tmp_path, capsys):
    before = config_export()
    bad = {
        "version": 1,
        "departments": [{"slug": "new-dept", "name": "New"}, {"slug": "Bad Slug", "name": ""}],
        "settings": {"confidence_threshold": 1.5, "sentiment_window": "three", "nonsense": 1},
        "topics": [
            {"slug": "ok-topic", "name": "OK", "department": "new-dept", "examples": ["hello there"]},
            {"slug": "ok-topic", "name": "Dup", "department": "ghost", "examples": [],
             "collect": [{"key": "acct", "prompt_en": "?", "prompt_es": "?", "pattern": "([a-z"}],
             "action": "format_disk"},
        ],
        "transfer_rules": [{"topic": "missing", "trigger": "keyword", "department": "ghost"}],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("agent_config", "import", str(path))
    err = capsys.readouterr().err
    for expected in ["departments[1].slug", "departments[1].name", "settings.confidence_threshold",
                     "settings.sentiment_window", "settings.nonsense", "topics[1].slug: duplicate",
                     "topics[1].department: unknown department 'ghost'", "topics[1].examples",
                     "topics[1].collect[0].pattern", "topics[1].action", "transfer_rules[0].topic",
                     "transfer_rules[0].trigger", "transfer_rules[0].department"]:
        assert expected in err, expected
    assert config_export() == before  # "new-dept" was valid but nothing was applied


def test_invalid_yaml_changes_nothing(fibrasur, tmp_path):
    before = config_export()
    path = tmp_path / "broken.yaml"
    path.write_text("topics: [\n  - slug: x\n  name: : :\n")
    with pytest.raises(CommandError):
        call_command("agent_config", "import", str(path))
    assert config_export() == before


def test_unknown_document_is_an_import_error_and_changes_nothing(cast, kb_store, tmp_path, capsys):
    """A topic naming a document that is not in the knowledge base is an error at import (not a
    silent "whole knowledge base"); ingest first, then the same file imports and links it."""
    from apps.agent.providers import topic_document_ids
    from apps.knowledge.services import document_create, document_ingest

    doc = {"version": 1, "departments": [{"slug": "customer-service", "name": "Customer Service", "is_default": True}],
           "topics": [{"slug": "hours", "name": "Opening hours", "examples": ["when are you open"],
                       "documents": ["kb/hours.md"]}]}
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(CommandError):
        call_command("agent_config", "import", str(path))
    assert "topics[0].documents[0]: unknown document 'kb/hours.md'" in capsys.readouterr().err
    assert not Topic.objects.filter(slug="hours").exists()
    created = document_create(title="Hours", filename="hours.md", data=b"# Hours\n\nOpen 9 to 18.", source="kb/hours.md")
    document_ingest(document_id=created.pk)
    call_command("agent_config", "import", str(path))
    assert topic_document_ids(Topic.objects.get(slug="hours")) == [created.pk]


def test_partial_file_changes_only_its_sections(fibrasur, tmp_path):
    """A file with only ``settings`` changes the thresholds and nothing else: topics, transfer
    rules, messages and department names stay."""
    TransferRule.objects.create(order=1, topic=Topic.objects.get(slug="plans"), trigger="explicit_request",
                                department=fibrasur.extra["depts"]["sales"])
    cfg = AgentSettings.load()
    cfg.messages = {**(cfg.messages or {}), "greeting": {"en": "Hello from FibraSur!"}}
    cfg.save()
    before = config_export()
    assert before["topics"] and before["transfer_rules"]
    path = tmp_path / "thresholds.yaml"
    path.write_text("version: 1\nsettings:\n  confidence_threshold: 0.61\n")
    call_command("agent_config", "import", str(path))
    after = config_export()
    assert after["settings"]["confidence_threshold"] == 0.61
    assert after["topics"] == before["topics"]
    assert after["transfer_rules"] == before["transfer_rules"]
    assert after["messages"] == before["messages"]
    assert after["departments"] == before["departments"]  # names per language kept too


def test_partial_file_with_rules_only_checks_topics_in_the_database(fibrasur, tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"transfer_rules": [
        {"topic": "claims", "trigger": "negative_sentiment", "department": "technical-support"}]}))
    topics_before = config_export()["topics"]
    call_command("agent_config", "import", str(path))
    rules = list(TransferRule.objects.select_related("topic", "department"))
    assert [(r.topic.slug, r.trigger, r.department.slug) for r in rules] == \
        [("claims", "negative_sentiment", "technical-support")]
    assert config_export()["topics"] == topics_before
    path.write_text(json.dumps({"transfer_rules": [{"topic": "ghost", "department": "sales"}]}))
    with pytest.raises(CommandError):
        call_command("agent_config", "import", str(path))
    assert TransferRule.objects.count() == 1


def test_present_empty_lists_remove_all_topics_and_rules(fibrasur, tmp_path):
    TransferRule.objects.create(order=1, trigger="explicit_request", department=fibrasur.extra["depts"]["sales"])
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"topics": [], "transfer_rules": []}))
    call_command("agent_config", "import", str(path))
    assert Topic.objects.count() == 0 and TransferRule.objects.count() == 0


def test_names_per_language_go_to_the_admin_fields_and_come_back_on_export(fibrasur, tmp_path):
    """`names` of departments and topics fill the per-language fields every page reads (not the
    messages' JSON), a language left out is emptied, and export gives them back."""
    from apps.departments.models import Department

    support = Department.objects.get(slug="technical-support")
    assert support.name_es == "Soporte Técnico"  # from fibrasur.yaml
    assert Topic.objects.get(slug="connectivity").name_es == "Sin internet y equipos"
    assert "departments" not in (AgentSettings.load().messages or {})
    exported = config_export()
    row = next(d for d in exported["departments"] if d["slug"] == "technical-support")
    assert row["names"] == {"es": "Soporte Técnico"}
    topic = next(t for t in exported["topics"] if t["slug"] == "connectivity")
    assert topic["names"] == {"es": "Sin internet y equipos"}

    path = tmp_path / "names.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "departments": [
        {"slug": "technical-support", "name": "Technical Support", "names": {"en": "Tech Support"}}]}))
    call_command("agent_config", "import", str(path))
    support.refresh_from_db()
    assert (support.name_es, support.name_en) == ("", "Tech Support")


def test_unknown_language_in_names_is_an_import_error(fibrasur, tmp_path, capsys):
    path = tmp_path / "bad-names.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "departments": [
        {"slug": "sales", "name": "Sales", "names": {"fr": "Ventes", "es": ""}}],
        "topics": [{"slug": "t1", "name": "T", "names": "Tema", "examples": ["hola"]}]}))
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("agent_config", "import", str(path))
    err = capsys.readouterr().err
    assert "departments[0].names.fr: unknown language 'fr' (one of " in err
    assert "departments[0].names.es: must be a non-empty string" in err
    assert "topics[0].names: must map language codes to names" in err
    from apps.departments.models import Department

    assert Department.objects.get(slug="sales").name_es == "Ventas"  # unchanged


def test_names_left_in_the_messages_by_an_earlier_version_move_to_the_fields(fibrasur):
    """Migration agent 0009's function: JSON names fill empty fields only, and the entry goes."""
    from importlib import import_module

    from django.apps import apps as django_apps

    from apps.departments.models import Department

    Department.objects.filter(slug="sales").update(name_es="", name_en="")
    Department.objects.filter(slug="collections").update(name_es="Cobros")  # set in the admin: wins
    cfg = AgentSettings.load()
    cfg.messages = {"handoff": {"en": "To {department}."},
                    "departments": {"sales": {"es": "Comercial", "en": "Sales team"},
                                    "collections": {"es": "Cobranzas"}, "ghost": {"es": "Nadie"}}}
    cfg.save()
    migration = import_module("apps.agent.migrations.0009_department_names_to_fields")
    migration.to_fields(django_apps, None)
    sales, collections = Department.objects.get(slug="sales"), Department.objects.get(slug="collections")
    assert (sales.name_es, sales.name_en) == ("Comercial", "Sales team")
    assert collections.name_es == "Cobros"
    assert AgentSettings.load().messages == {"handoff": {"en": "To {department}."}}
