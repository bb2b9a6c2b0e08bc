"""Documents limited to departments reach a customer only through a topic of that department.

A document limited to Collections (internal notes for collectors) must never be quoted to a
customer whose question belongs to another department's topic, nor to one with no topic at all;
a customer asking a Collections topic may be answered from it.
"""
from __future__ import annotations

import pytest

from apps.agent.models import Topic, TopicExample
from apps.conversations.models import ConversationEvent

from .helpers import say, start

pytestmark = pytest.mark.django_db

SECRET = "WAIVE-7731"
INTERNAL = (f"# Collections internal notes\n\nLate payment interest can be waived by a collector with the "
            f"supervisor code {SECRET} when the customer pays the whole debt the same day.\n").encode()
PUBLIC = (b"# Paying your bill\n\nYou can pay your bill by bank transfer, debit card or at any Rapipago "
          b"office. Bills are due on the 10th of each month.\n")
QUESTION = "Can the late payment interest be waived if I pay the whole debt today?"


@pytest.fixture
def scoped(cast, kb_store):
    from apps.agent.engine import engine_invalidate
    from apps.departments.models import Department
    from apps.knowledge.services import document_create, document_ingest

    collections = Department.objects.create(name="Collections", slug="collections")
    internal = document_create(title="Collections internal notes", filename="internal.md", data=INTERNAL,
                               language="en", departments=[collections])
    public = document_create(title="Paying your bill", filename="paying.md", data=PUBLIC, language="en")
    for doc in (internal, public):
        document_ingest(document_id=doc.pk)
    topic = Topic.objects.create(slug="debts", name="Debts and late payments", department=cast.dept_b)
    for text in ("can the late payment interest be waived", "I want to pay my whole debt",
                 "how much interest do I pay for paying late", "can you forgive the interest on my debt",
                 "how do I pay my bill"):
        TopicExample.objects.create(topic=topic, text=text)
    from apps.agent.models import AgentSettings

    cfg = AgentSettings.load()  # these tests are about who may be quoted, not about confidence
    cfg.confidence_threshold = 0.5
    cfg.save()
    engine_invalidate()
    cast.extra.update(internal=internal, collections=collections, topic=topic)
    return cast


def _quoted(conv, document_id: int) -> bool:
    """Whether any bot message of ``conv`` shows the internal document (its text or as a source)."""
    for msg in conv.messages.filter(author_kind="ai_agent"):
        if SECRET in msg.body or any(s.get("document_id") == document_id for s in msg.sources or []):
            return True
    decisions = conv.events.filter(kind=ConversationEvent.Kind.AGENT_DECISION)
    chunk_ids = set(scoped_chunk_ids(document_id))
    return any(chunk_ids & set(e.payload.get("sources") or []) for e in decisions)


def scoped_chunk_ids(document_id: int) -> list[int]:
    from apps.knowledge.models import Chunk

    return list(Chunk.objects.filter(document_id=document_id).values_list("pk", flat=True))


def test_restricted_document_is_not_quoted_to_a_customer_of_another_departments_topic(scoped):
    conv = start(scoped, language="en")
    conv, _replies = say(scoped, conv, QUESTION)
    assert not _quoted(conv, scoped.extra["internal"].pk)


def test_restricted_document_is_not_quoted_without_a_topic(scoped):
    scoped.extra["topic"].delete()  # no topic at all: only unrestricted documents
    from apps.agent.engine import engine_invalidate

    engine_invalidate()
    conv = start(scoped, language="en")
    conv, _replies = say(scoped, conv, QUESTION)
    assert not _quoted(conv, scoped.extra["internal"].pk)


def test_restricted_document_answers_the_customer_of_its_own_departments_topic(scoped):
    """The control: the same question, with the topic transferring to Collections, is answered
    from the internal notes (so the tests above would see a leak if there were one)."""
    topic = scoped.extra["topic"]
    topic.department = scoped.extra["collections"]
    topic.save()
    conv = start(scoped, language="en")
    conv, replies = say(scoped, conv, QUESTION)
    assert _quoted(conv, scoped.extra["internal"].pk)
    assert any(SECRET in r.body for r in replies)
