"""Copilot tests: a small knowledge base with department-limited documents and an EN/ES pair.

Not autouse: the browser test (a live-server TestCase) sets up its own store before its server forks."""
from __future__ import annotations

import pytest
from django.utils import translation

from tests.workspace.conftest import STATIC_PLAIN

TECH_TEXT = ("# Light check\nWhen the ONT light is red, restart the router and check the fibre cable. "
             "If the light stays red, a technician visit is needed.")
SALES_TEXT = "# Sales playbook\nOffer the secret welcome discount code ZEBRA-42 on the router upgrade."
PUBLIC_EN = ("# Restarting the router\nUnplug the router for thirty seconds and plug it back in. "
             "Wait two minutes until the lights are steady.")
PUBLIC_ES = ("# Reiniciar el router\nDesenchufe el router durante treinta segundos y vuelva a enchufarlo. "
             "Espere dos minutos hasta que las luces estén fijas.")


@pytest.fixture(scope="session")
def _copilot_tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("copilot_kb")


@pytest.fixture
def _env(_copilot_tmp, settings, db):
    from django.core.cache import cache

    from apps.knowledge import search, vectorstore

    settings.CHROMA_PATH = str(_copilot_tmp / "chroma")
    settings.CHROMA_URL = None
    settings.MEDIA_ROOT = str(_copilot_tmp / "media")
    settings.EMBEDDINGS_PROVIDER = "local"
    settings.AGENT_PROVIDER = "local"
    settings.COPILOT_PROVIDER = "local"
    settings.STORAGES = STATIC_PLAIN
    cache.clear()
    vectorstore.reset_for_tests()
    try:
        vectorstore.client().delete_collection(vectorstore.collection_name())
    except Exception:  # noqa: BLE001 (first test: nothing to delete)
        pass
    vectorstore.reset_for_tests()
    search.cache_clear()
    with translation.override("en"):
        yield
    search.cache_clear()
    vectorstore.reset_for_tests()


def make_doc(title: str, text: str, *, departments=(), language: str = "", tags=None):
    from apps.knowledge import services

    document = services.document_create(title=title, filename=f"{title}.md", data=text.encode(),
                                        departments=departments, language=language, tags=tags or [])
    return services.document_ingest(document_id=document.pk)


@pytest.fixture
def kb(cast, _env):
    """Technical Support-only, Sales-only, and an unrestricted EN/ES pair sharing a kb: tag."""
    from apps.copilot.models import CopilotSettings

    for dept in (cast.default, cast.dept_a, cast.dept_b):
        CopilotSettings.objects.create(department=dept, enabled=True)
    docs = {
        "tech": make_doc("tech-light", TECH_TEXT, departments=[cast.dept_a], language="en"),
        "sales": make_doc("sales-playbook", SALES_TEXT, departments=[cast.dept_b], language="en"),
        "en": make_doc("router-en", PUBLIC_EN, language="en", tags=["kb:router"]),
        "es": make_doc("router-es", PUBLIC_ES, language="es", tags=["kb:router"]),
    }
    cast.extra["docs"] = docs
    return cast


def chat(cast, *, status="assigned", department=None, assignee=None, contact=None, text="", language="en"):
    """A conversation in ``status`` whose last message is the customer's ``text``."""
    from apps.conversations.models import Conversation, Message
    from tests.factories import conversation_in

    conv = conversation_in(cast, status, department=department, assignee=assignee, contact=contact,
                           text=text or "Hello")
    Conversation.objects.filter(pk=conv.pk).update(language=language)
    if text and status in ("in_progress",):
        Message.objects.create(conversation=conv, author_kind="customer", body=text, channel=cast.channel)
    return Conversation.objects.get(pk=conv.pk)


@pytest.fixture
def client():
    """Assertions read the English messages (the project's default language is Spanish)."""
    from django.test import Client

    return Client(HTTP_ACCEPT_LANGUAGE="en")
