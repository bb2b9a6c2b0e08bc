"""The hostile-input corpus: every case asserts the exact answer AND that nothing was stored."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}


def stored_counts() -> dict[str, int]:
    """Rows a hostile request could have written, to compare before and after."""
    from apps.conversations.models import Contact, ContactIdentity, Conversation, ConversationEvent, Message
    from apps.integrations.models import InboundWebhook

    return {m.__name__: m.objects.count() for m in
            (Contact, ContactIdentity, Conversation, ConversationEvent, Message, InboundWebhook)}
