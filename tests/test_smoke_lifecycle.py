import pytest

from apps.conversations.models import ConversationEvent, Status
from tests.factories import conversation_in

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("status", [s for s, _ in Status.choices])
def test_conversation_reaches_each_state_with_events(cast, status):
    conv = conversation_in(cast, status)
    assert conv.status == status
    kinds = list(ConversationEvent.objects.filter(conversation=conv).values_list("kind", flat=True))
    assert kinds[0] == "created"
