"""Seed the FibraSur knowledge base (English and Spanish) idempotently: unchanged files are skipped."""
from __future__ import annotations

from pathlib import Path

DEMO_KB = Path(__file__).resolve().parent / "demo_kb"

# file stem -> tags ("kb:<key>" is shared by the two languages of the same document)
TAGS = {
    "planes-y-precios": ["kb:plans", "plans", "prices", "sales"],
    "plans-and-prices": ["kb:plans", "plans", "prices", "sales"],
    "cobertura-por-barrio": ["kb:coverage", "coverage", "sales"],
    "coverage-by-neighbourhood": ["kb:coverage", "coverage", "sales"],
    "activacion-del-servicio": ["kb:activation", "activation", "sales"],
    "service-activation": ["kb:activation", "activation", "sales"],
    "facturacion-y-medios-de-pago": ["kb:billing", "billing", "payments", "collections"],
    "billing-and-payment-methods": ["kb:billing", "billing", "payments", "collections"],
    "como-hacer-un-reclamo": ["kb:claims", "claims"],
    "how-to-file-a-claim": ["kb:claims", "claims"],
    "reiniciar-el-router": ["kb:router-restart", "router", "technical"],
    "restarting-the-router": ["kb:router-restart", "router", "technical"],
    "luces-del-ont": ["kb:ont-lights", "ont", "los", "technical"],
    "ont-lights-and-light-check": ["kb:ont-lights", "ont", "los", "technical"],
    "visita-tecnica": ["kb:technician-visit", "technical-visit", "technical"],
    "technician-visits": ["kb:technician-visit", "technical-visit", "technical"],
    "politica-de-baja": ["kb:cancellation", "cancellation"],
    "cancellation-policy": ["kb:cancellation", "cancellation"],
    "atencion-al-cliente": ["kb:customer-service", "contact", "account", "customer-service"],
    "customer-service": ["kb:customer-service", "contact", "account", "customer-service"],
    "preguntas-frecuentes": ["kb:faq", "faq"],
    "faq": ["kb:faq", "faq"],
}


TITLES = {"faq": "Frequently asked questions", "preguntas-frecuentes": "Preguntas frecuentes"}


def demo_files() -> list[tuple[Path, str, str]]:
    """(path, language, source key) for every demo document."""
    out = []
    for language in ("es", "en"):
        for path in sorted((DEMO_KB / language).iterdir()):
            if path.suffix in {".md", ".csv"}:
                out.append((path, language, f"demo_kb/{language}/{path.name}"))
    return out


def seed(out=None) -> dict:
    from .services import document_upsert_file

    counts: dict[str, int] = {}
    for path, language, source in demo_files():
        document, action = document_upsert_file(path=path, source=source, language=language,
                                                tags=TAGS.get(path.stem, []), title=TITLES.get(path.stem, ""))
        counts[action] = counts.get(action, 0) + 1
        if action == "error" and out is not None:
            out.write(f"  knowledge: {path.name}: {document.error}\n")
    if out is not None:
        out.write("  knowledge base: " + ", ".join(f"{n} {a}" for a, n in sorted(counts.items())) + "\n")
    return counts
