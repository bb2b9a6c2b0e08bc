"""Outgoing webhooks as a transactional outbox.

Why an outbox written inside the service's transaction (instead of a post-save signal or an
after-commit "fire" call): a rolled-back transition never produces an event, a committed one
always leaves a ``WebhookDelivery`` row, and the Celery task that sends it only takes the row
id. If the broker loses the enqueue, ``webhooks_sweep`` (Celery beat) finds the due row anyway.
The services call ``webhooks_record`` explicitly (no signal chains).
"""
from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core import memo

from .models import WebhookDelivery, WebhookEndpoint
from .netguard import UnsafeTarget, pinned_request
from .signing import standard_headers

log = logging.getLogger(__name__)

# ConversationEvent.kind -> public event type.
EVENT_TYPES = {
    "created": "conversation.created",
    "handoff": "conversation.handed_off",
    "assigned": "conversation.assigned",
    "picked_up": "conversation.assigned",
    "reassigned": "conversation.assigned",
    "archived": "conversation.resolved",
    "reopened": "conversation.reopened",
    "rated": "csat.submitted",
}
BACKOFF_SECONDS = (5, 30, 120, 600, 1800, 7200, 18000)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1


def _disable_after() -> int:
    return int(getattr(settings, "WEBHOOK_DISABLE_AFTER_FAILURES", 20))


def _conversation_data(conv) -> dict:
    return {"id": conv.pk, "status": conv.status, "department": conv.department_id, "assignee": conv.assignee_id,
            "channel": conv.channel_id, "contact": conv.contact_id}


def _active_endpoints() -> list[WebhookEndpoint]:
    """The active endpoints; inside a ``memo.scope()`` (one escalation sweep writes an event and a
    notice for each of hundreds of chats) read once for the whole scope, so an endpoint added or
    switched off meanwhile applies from the next sweep."""
    return memo.memoised(("integrations", "webhook_endpoints"),
                         lambda: list(WebhookEndpoint.objects.filter(is_active=True).only("id", "events")))


def webhooks_record(*, event=None, message=None) -> None:
    """Called by the conversation services inside their transaction: write outbox rows, send on commit."""
    if event is not None:
        event_type = EVENT_TYPES.get(event.kind)
        if event_type is None:
            return
        conv = event.conversation
        data = {"conversation": _conversation_data(conv),
                "event": {"id": event.pk, "kind": event.kind, "actor_kind": event.actor_kind,
                          "actor": event.actor_id, "from_status": event.from_status, "to_status": event.to_status,
                          "reason": event.reason, **({"score": event.payload.get("score")} if event.kind == "rated" else {})}}
    elif message is not None:
        if message.is_internal:
            return
        event_type = "message.created"
        data = {"conversation": _conversation_data(message.conversation),
                "message": {"id": message.pk, "author_kind": message.author_kind, "author": message.author_id,
                            "body": message.body, "created_at": message.created_at.isoformat()}}
    else:
        return
    endpoints = [e for e in _active_endpoints() if e.wants(event_type)]
    if not endpoints:
        return
    payload = {"type": event_type, "timestamp": timezone.now().isoformat(), "data": data}
    event_id = "msg_" + secrets.token_urlsafe(18)
    rows = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(endpoint_id=e.pk, event_id=event_id, event_type=event_type, payload=payload) for e in endpoints])
    ids = [r.pk for r in rows]

    def enqueue():
        from .tasks import webhook_deliver

        for pk in ids:
            webhook_deliver.delay(pk)

    transaction.on_commit(enqueue)


def _claim(delivery_id: int) -> bool:
    """Conditional UPDATE: exactly one worker sends a due delivery (duplicate tasks are harmless)."""
    now = timezone.now()
    return bool(WebhookDelivery.objects.filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING,
                                               next_attempt_at__lte=now)
                .update(status=WebhookDelivery.Status.SENDING, next_attempt_at=now + timedelta(minutes=5)))


def webhook_deliver(*, delivery_id: int) -> str:
    """One attempt. Returns the resulting status (for tests and logs)."""
    import httpx

    if not _claim(delivery_id):
        return "skipped"
    d = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    ep = d.endpoint
    if not ep.is_active:
        WebhookDelivery.objects.filter(pk=d.pk).update(status=WebhookDelivery.Status.FAILED,
                                                      last_error="endpoint disabled")
        return WebhookDelivery.Status.FAILED
    body = json.dumps(d.payload, separators=(",", ":"), ensure_ascii=False)
    headers = {"content-type": "application/json", "user-agent": "AsisteClick-Webhooks/1",
               **standard_headers(ep.secret, d.event_id, body)}
    code, error = None, ""
    try:
        url, pin_headers, extensions = pinned_request(
            ep.url, allow_private=ep.allow_private_network or getattr(settings, "WEBHOOKS_ALLOW_PRIVATE_NETWORK", False))
        with httpx.Client(timeout=10.0, follow_redirects=False) as client:
            resp = client.send(client.build_request("POST", url, content=body.encode(),
                                                    headers={**headers, **pin_headers}, extensions=extensions))
        code = resp.status_code
    except UnsafeTarget as exc:
        error = f"refused target: {exc}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    attempts = d.attempts + 1
    now = timezone.now()
    if code is not None and 200 <= code < 300:
        WebhookDelivery.objects.filter(pk=d.pk).update(status=WebhookDelivery.Status.SUCCEEDED, attempts=attempts,
                                                      last_status_code=code, last_error="", delivered_at=now)
        WebhookEndpoint.objects.filter(pk=ep.pk).update(consecutive_failures=0)
        return WebhookDelivery.Status.SUCCEEDED
    error = error or f"HTTP {code}"
    gone = code == 410
    final = gone or attempts >= MAX_ATTEMPTS or error.startswith("refused target")
    WebhookDelivery.objects.filter(pk=d.pk).update(
        status=WebhookDelivery.Status.FAILED if final else WebhookDelivery.Status.PENDING, attempts=attempts,
        last_status_code=code, last_error=error[:500],
        next_attempt_at=now if final else now + timedelta(seconds=BACKOFF_SECONDS[attempts - 1]))
    WebhookEndpoint.objects.filter(pk=ep.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    ep.refresh_from_db(fields=["consecutive_failures"])
    if gone or ep.consecutive_failures >= _disable_after():
        reason = "410 Gone" if gone else f"{ep.consecutive_failures} consecutive failed attempts"
        WebhookEndpoint.objects.filter(pk=ep.pk).update(is_active=False, disabled_at=now, disabled_reason=reason)
        log.warning("webhook endpoint %s disabled: %s", ep.pk, reason)
    elif not final:
        _schedule_retry(d.pk, BACKOFF_SECONDS[attempts - 1])
    return WebhookDelivery.Status.FAILED if final else WebhookDelivery.Status.PENDING


def _schedule_retry(delivery_id: int, countdown: int) -> None:
    from asisteclick.celery import app

    if app.conf.task_always_eager:  # in-process mode: the beat sweep retries (no recursion)
        return
    from .tasks import webhook_deliver

    webhook_deliver.apply_async((delivery_id,), countdown=countdown)


def webhooks_sweep(*, limit: int = 500) -> int:
    """Beat: re-enqueue due deliveries (lost enqueues, retries) and unstick crashed sends."""
    from .tasks import webhook_deliver

    now = timezone.now()
    WebhookDelivery.objects.filter(status=WebhookDelivery.Status.SENDING, next_attempt_at__lte=now).update(
        status=WebhookDelivery.Status.PENDING)
    ids = list(WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now,
                                              endpoint__is_active=True).values_list("pk", flat=True)[:limit])
    for pk in ids:
        webhook_deliver.delay(pk)
    return len(ids)
