"""The production paths against the machine's real Redis (Celery broker, channels-redis layer)."""
from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings

from apps.conversations import services
from apps.conversations.models import ConversationEvent, Status
from tests.factories import conversation_in


@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_route_task_travels_through_redis_to_a_real_worker(cast):
    """A handoff enqueues the routing task on commit; a Celery worker consuming Redis runs it."""
    from celery.contrib.testing.worker import start_worker

    from asisteclick.celery import app

    app.conf.task_always_eager = False
    app.conf.broker_url = settings.CELERY_BROKER_URL
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
        conv = conversation_in(cast, Status.BOT)
        services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            conv.refresh_from_db()
            if conv.status == Status.UNASSIGNED:
                break
            time.sleep(0.1)
    assert conv.status == Status.UNASSIGNED
    assert ConversationEvent.objects.filter(conversation=conv, kind="queued").count() == 1


@pytest.mark.redis
def test_signal_reaches_a_user_group_over_channels_redis():
    from channels.layers import get_channel_layer

    from apps.core.realtime import _send, user_group

    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisPubSubChannelLayer"

    async def scenario():
        import asyncio

        from asgiref.sync import sync_to_async

        channel = await layer.new_channel()
        await layer.group_add(user_group(4242), channel)
        await asyncio.sleep(0.2)  # let the subscription settle
        # The service-side helper, exactly as services call it after commit (from sync code).
        await sync_to_async(_send, thread_sensitive=False)(
            [user_group(4242)], {"what": "conversation", "conversation": 1, "department": 2})
        message = await asyncio.wait_for(layer.receive(channel), timeout=5)
        await layer.group_discard(user_group(4242), channel)
        return message

    message = async_to_sync(scenario)()
    assert message == {"type": "signal", "what": "conversation", "conversation": 1, "department": 2}
