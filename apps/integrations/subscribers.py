"""How integrations plugs into the conversation core (registered in ``IntegrationsConfig.ready``).

* ``record.written`` (in the transaction): outgoing-webhook outbox rows (``webhooks.webhooks_record``)
  and the delivery row of an outgoing message on a pushed channel (``outbound.outbound_record``).
* ``message.outgoing`` (after commit, batched): deliver the messages through their channel (a task;
  one per batch of commits inside ``events.batched()``; none for web chat and API).
* Channel policies: WhatsApp, Messenger and Instagram answer the core's reply-window question.
"""
from __future__ import annotations

from apps.conversations.models import Channel
from apps.core import channel_policy, events


def _record_outbox(event, record) -> None:
    from .outbound import outbound_record
    from .webhooks import webhooks_record

    if event.extra.get("model") == "message":
        outbound_record(record)
        webhooks_record(message=record)
    else:
        webhooks_record(event=record)


class MetaWindowPolicy:
    """Meta's messaging windows (apps/integrations/windows.py) for one channel kind."""

    def reply_window_check(self, conversation, *, author_kind: str = "human") -> None:
        from .windows import reply_window_check

        reply_window_check(conversation, author_kind=author_kind)


def connect() -> None:
    from .tasks import on_message_outgoing

    events.record_written.connect_in_transaction(_record_outbox)
    events.message_outgoing.connect_batched(on_message_outgoing)
    policy = MetaWindowPolicy()
    for kind in (Channel.Kind.WHATSAPP, Channel.Kind.MESSENGER, Channel.Kind.INSTAGRAM):
        channel_policy.register(kind, policy)
