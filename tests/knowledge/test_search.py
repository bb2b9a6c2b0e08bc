"""knowledge_search: scope by department, document and language; English and Spanish retrieval."""
from __future__ import annotations

import pytest

from apps.knowledge import demo, services
from apps.knowledge.models import Document
from apps.knowledge.search import SearchHit, knowledge_embed_query, knowledge_search


def make(title: str, text: str, departments=(), language: str = "") -> Document:
    document = services.document_create(title=title, filename=f"{title}.md", data=text.encode(),
                                        departments=departments, language=language)
    return services.document_ingest(document_id=document.pk)


@pytest.fixture
def scoped(cast):
    tech = make("tech-only", "# Internal escalation\nTechnicians reset the OLT port when the ONT light is red.",
                departments=[cast.dept_a])
    sales = make("sales-only", "# Sales playbook\nOffer the welcome discount on the router upgrade.",
                 departments=[cast.dept_b])
    everyone = make("public", "# Router restart\nUnplug the router for 30 seconds to restart it.")
    return tech, sales, everyone


def doc_ids(hits: list[SearchHit]) -> set[int]:
    return {h.document_id for h in hits}


def test_departments_filter_keeps_own_and_unrestricted(cast, scoped):
    tech, sales, everyone = scoped
    assert doc_ids(knowledge_search("router", departments=[cast.dept_a.pk], k=10)) == {tech.pk, everyone.pk}
    assert doc_ids(knowledge_search("router", departments=[cast.dept_b.pk], k=10)) == {sales.pk, everyone.pk}
    assert doc_ids(knowledge_search("router", departments=[cast.dept_a.pk, cast.dept_b.pk], k=10)) == {
        tech.pk, sales.pk, everyone.pk}
    assert doc_ids(knowledge_search("router", departments=[], k=10)) == {everyone.pk}
    assert doc_ids(knowledge_search("router", k=10)) == {tech.pk, sales.pk, everyone.pk}


def test_department_change_applies_to_next_search(cast, scoped):
    tech, _sales, everyone = scoped
    tech.departments.clear()
    assert tech.pk in doc_ids(knowledge_search("router", departments=[cast.dept_b.pk], k=10))


def test_document_ids_and_inactive(scoped):
    tech, sales, everyone = scoped
    assert doc_ids(knowledge_search("router", document_ids=[sales.pk], k=10)) == {sales.pk}
    Document.objects.filter(pk=everyone.pk).update(is_active=False)
    assert everyone.pk not in doc_ids(knowledge_search("router", k=10))
    assert knowledge_search("router", document_ids=[]) == []


def test_hit_fields_and_score_range(scoped):
    hits = knowledge_search("how do I restart the router?", k=3)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    top = hits[0]
    assert top.document_title == "public" and top.heading == "Router restart"
    assert "30 seconds" in top.text and 0.0 <= top.score <= 1.0 and top.language == "en"
    assert knowledge_search("   ") == [] and knowledge_search("router", k=0) == []


def test_query_vector_is_unit_length():
    import numpy as np

    vector = knowledge_embed_query("hola")
    assert vector.dtype == np.float32 and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4


# --- the demo knowledge base, both languages ------------------------------------------------------------

@pytest.fixture
def demo_kb(db):
    counts = demo.seed(None)
    assert counts.get("error", 0) == 0
    return {d.source.split("/")[-1]: d for d in Document.objects.all()}


QUERIES = [
    ("en", "My ONT has a red LOS light", {"ont-lights-and-light-check.md", "faq.csv"}),
    ("es", "la luz LOS del módem está en rojo", {"luces-del-ont.md", "preguntas-frecuentes.csv"}),
    ("en", "How do I file a claim?", {"how-to-file-a-claim.md"}),
    ("es", "¿Cómo hago un reclamo?", {"como-hacer-un-reclamo.md"}),
    ("en", "I want to cancel my service", {"cancellation-policy.md"}),
    ("es", "quiero dar de baja el servicio", {"politica-de-baja.md"}),
    ("en", "Can I pay with Mercado Pago?", {"billing-and-payment-methods.md", "faq.csv"}),
    ("es", "¿puedo pagar con Mercado Pago?", {"facturacion-y-medios-de-pago.md", "preguntas-frecuentes.csv"}),
    ("en", "book a technician visit", {"technician-visits.md"}),
    ("es", "necesito que venga un técnico", {"visita-tecnica.md"}),
    ("en", "how do I restart my router", {"restarting-the-router.md"}),
    ("es", "cómo reinicio el router", {"reiniciar-el-router.md"}),
]


def test_demo_kb_answers_both_languages(demo_kb):
    misses = []
    for language, query, expected in QUERIES:
        hits = knowledge_search(query, language=language, k=3)
        found = {demo_kb_name(h.document_id, demo_kb) for h in hits}
        assert all(h.language == language for h in hits)
        if not (found & expected):
            misses.append((query, found))
    assert not misses


def demo_kb_name(document_id: int, docs: dict) -> str:
    return next(name for name, doc in docs.items() if doc.pk == document_id)


def test_demo_seed_is_idempotent(demo_kb):
    chunk_total = sum(d.chunk_count for d in Document.objects.all())
    assert demo.seed(None) == {"unchanged": len(demo_kb)}
    assert sum(d.chunk_count for d in Document.objects.all()) == chunk_total
    assert {d.language for d in Document.objects.all()} == {"es", "en"}
    assert all(d.tags and d.tags[0].startswith("kb:") for d in Document.objects.all())


def test_lexical_blend_separates_plans_by_number(demo_kb):
    """The sentence encoder alone confuses "Fibra 300" and "Fibra 600"; the blend ranks the exact one."""
    hits = knowledge_search("Fibra 1000 price", language="en", k=3)
    top = hits[0]
    assert "Fibra 1000" in top.text
    assert 0.0 <= top.lexical <= 1.0 and 0.0 <= top.relevance <= 1.0
    assert [h.relevance for h in hits] == sorted((h.relevance for h in hits), reverse=True)


def test_lexical_weight_zero_is_pure_cosine(demo_kb, settings):
    from apps.knowledge.search import cache_clear

    settings.KB_LEXICAL_WEIGHT = 0
    cache_clear()
    hits = knowledge_search("router restart", k=3)
    assert all(h.lexical == 0 and abs(h.relevance - h.score) < 1e-6 for h in hits)
