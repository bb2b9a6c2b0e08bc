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


@pytest.mark.redis
def test_a_worker_takes_its_queues_in_the_order_of_its_list():
    """The broker settings make a worker drain its -Q list in order (handoffs before the outbound
    backlog), not round robin: three messages wait on each of two queues; all of the first
    queue's come first (round robin would alternate)."""
    import uuid

    from kombu import Consumer, Exchange, Producer, Queue

    from asisteclick.celery import app

    tag = uuid.uuid4().hex[:8]
    exchange = Exchange(f"order-test-{tag}", type="direct")
    first, second = (Queue(f"order-{name}-{tag}", exchange, routing_key=name) for name in ("first", "second"))
    got: list[str] = []
    with app.connection_for_read() as conn:
        assert conn.transport_options.get("queue_order_strategy") == "priority"
        channel = conn.channel()
        producer = Producer(channel, exchange)
        for q in (first, second):
            q(channel).declare()
        for i in range(3):  # the backlog first, then the urgent ones
            producer.publish({"q": "second", "i": i}, routing_key="second")
        for i in range(3):
            producer.publish({"q": "first", "i": i}, routing_key="first")

        def on_message(body, message):
            got.append(body["q"])
            message.ack()

        with Consumer(channel, [first, second], callbacks=[on_message], prefetch_count=1):
            deadline = time.monotonic() + 20
            while len(got) < 6 and time.monotonic() < deadline:
                conn.drain_events(timeout=2)
        for q in (first, second):
            q(channel).delete()
    assert got == ["first"] * 3 + ["second"] * 3
