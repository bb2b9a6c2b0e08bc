"""A follow-up ("¿Y cuánto tarda?") asks about what the bot just answered: it is also searched in the
documents that answer quoted, whatever topic its own few words resemble, and a passage of those
documents is preferred (``compose.local_answer(previous_documents=...)``, ``FOLLOW_UP_SAME_DOCUMENT``;
the service passes the documents of the bot's last answer, ``services._last_answer_documents``)."""
from __future__ import annotations

import numpy as np
import pytest

from apps.agent.compose import local_answer

from .helpers import say, start

pytestmark = pytest.mark.django_db


def _document(name: str) -> int:
    from apps.knowledge.models import Document

    return next(d.pk for d in Document.objects.all() if str(d.file).endswith(name) or str(d.source).endswith(name))


def _answer(question: str, *, context: str, document_ids, previous_documents=frozenset()):
    from apps.agent.engine import embed

    vector = np.asarray(embed([question])[0], dtype=np.float32)
    return local_answer(question=question, vector=vector, language="es", document_ids=document_ids, departments=[],
                        intent_probability=0.5, embed=embed, context=context, previous_documents=previous_documents)


def test_a_follow_up_is_searched_in_the_documents_of_the_answer_it_follows(fibrasur):
    """"¿Y cuánto tarda?" after the change of account holder (customer service page), its own topic
    guessed as claims: without the previous answer's documents only the claims page is searched."""
    holder, claims = _document("atencion-al-cliente.md"), _document("como-hacer-un-reclamo.md")
    alone = _answer("¿Y cuánto tarda?", context="¿Cómo hago el cambio de titular?", document_ids=[claims])
    assert alone["hit"].document_id == claims
    followed = _answer("¿Y cuánto tarda?", context="¿Cómo hago el cambio de titular?", document_ids=[claims],
                       previous_documents=frozenset({holder}))
    assert followed["hit"].document_id == holder, followed["answer"]
    assert "5 días hábiles" in followed["answer"]
    # not a follow-up (no context): the turn's own topic alone, whatever was answered before
    fresh = _answer("¿Cuánto tarda un reclamo?", context="", document_ids=[claims], previous_documents=frozenset({holder}))
    assert fresh["hit"].document_id == claims


def test_the_service_passes_the_documents_of_the_last_answer(fibrasur, monkeypatch):
    """The turn's context carries the documents the bot's last answer quoted."""
    from apps.agent import providers

    seen = []
    original = providers.LocalProvider.analyse

    def analyse(self, ctx):
        seen.append(ctx.previous_documents)
        return original(self, ctx)

    monkeypatch.setattr(providers.LocalProvider, "analyse", analyse)
    conv = start(fibrasur, language="es")
    conv, replies = say(fibrasur, conv, "¿Cómo hago el cambio de titular del servicio?")
    conv, _ = say(fibrasur, conv, "¿Y cuánto tarda?")
    assert seen[0] == frozenset()
    quoted = {s.get("document_id") for s in replies[-1].sources}
    assert quoted and seen[1] == frozenset(quoted)
