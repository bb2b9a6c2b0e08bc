"""Per-channel rules the conversation core asks about without knowing the channels.

The core defines the question; the integrations app registers the answer for each channel kind
in its ``AppConfig.ready`` (DESIGN.md invariant 5). A channel kind with no registered policy has
no rule (web chat, the API).

``reply_window_check(conversation, author_kind="human")`` raises ``WindowClosed`` when a
free-form reply could no longer be delivered (WhatsApp's 24-hour service window, Meta's
messaging windows).
"""
from __future__ import annotations

from typing import Protocol


class ChannelPolicy(Protocol):
    def reply_window_check(self, conversation, *, author_kind: str = "human") -> None: ...


_POLICIES: dict[str, ChannelPolicy] = {}


def register(kind: str, policy: ChannelPolicy) -> None:
    _POLICIES[kind] = policy


def unregister(kind: str) -> None:
    _POLICIES.pop(kind, None)


def policy_for(kind: str) -> ChannelPolicy | None:
    return _POLICIES.get(kind)


def reply_window_check(conversation, *, author_kind: str = "human") -> None:
    policy = policy_for(conversation.channel.kind)
    if policy is not None:
        policy.reply_window_check(conversation, author_kind=author_kind)


