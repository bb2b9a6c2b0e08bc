"""The handoff summary a person reads first: one or two sentences, not the customer's messages joined.

"<topic>: <facts collected>. Already tried: <what the customer says they did>. Asks: “<their question>”"

Written in the operation's language (the team reads it), quoting the customer as they wrote. The
"already tried" part comes from what the customer said ("ya reinicié el router", "I already
restarted it"), so whoever takes over does not ask for it again.
"""
from __future__ import annotations

import re

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from apps.conversations.models import AuthorKind, Conversation

# "ya reinicié el router", "ya probé desenchufarlo", "I already restarted it", "I've tried rebooting".
TRIED = re.compile(
    r"\b(?:ya\s+(?:lo\s+|la\s+)?(?:reinici\w*|prob\w*|desenchuf\w*|apagu\w*|cambi\w*|revis\w*|hic\w*|intent\w*|pagu\w*|reset\w*)"
    r"|(?:i\s+)?(?:have\s+|'ve\s+)?already\s+(?:\w+\s+){0,1}(?:restart\w*|reboot\w*|tri\w*|unplug\w*|reset\w*|check\w*|paid|chang\w*)"
    r"|i(?:'ve|\s+have)\s+(?:tried|restarted|rebooted|unplugged|reset|checked))[^.,;!?\n]{0,80}",
    re.IGNORECASE)
MAX_QUOTE = 180


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def already_tried(texts: list[str]) -> list[str]:
    """What the customer says they already did, as they said it (first mention of each, in order)."""
    found: list[str] = []
    for text in texts:
        for match in TRIED.finditer(text):
            part = _clip(match.group(0).strip(" ,;"), 100)
            if part.lower() not in (f.lower() for f in found):
                found.append(part)
    return found[:3]


def _question(texts: list[str]) -> str:
    """The customer's question: their last message that asks something, else the first one that
    states something (the problem: "my internet is not working", not "hola" or "I want a human")."""
    for text in reversed(texts):
        if "?" in text:
            return text
    return next((t for t in texts if len(t.split()) >= 4), texts[-1] if texts else "")


def handoff_summary(conversation: Conversation, *, topic_name: str = "", collected: dict | None = None,
                    not_in_pages: list[str] | None = None, override: bool = False) -> str:
    """``not_in_pages``: what the customer asks about that no help page mentions (``compose.unknown_subjects``):
    the reason the bot did not answer, so whoever takes over does not look for it in the help pages.
    ``override``: the message tried to change the assistant's instructions (``policy.overrides_instructions``);
    said first, so whoever takes over reads what it asks for (a refund, another customer's data) as such."""
    texts = [t for t in conversation.messages.filter(author_kind=AuthorKind.CUSTOMER, is_internal=False)
             .exclude(meta__has_key="attachments_only").order_by("created_at", "id").values_list("body", flat=True)
             if t and t.strip()]
    with translation.override(settings.LANGUAGE_CODE):
        facts = ", ".join(f"{str(k).replace('_', ' ')} {v}" for k, v in (collected or {}).items() if v)
        head = topic_name or _("Customer request")
        first = f"{head}: {facts}." if facts else f"{head}."
        parts = [first]
        if override:
            parts.insert(0, _("Tried to override the assistant's instructions; nothing was done."))
        tried = already_tried(texts)
        if tried:
            parts.append(_("Already tried: %(things)s.") % {"things": "; ".join(tried)})
        question = _question(texts)
        if question:
            parts.append(_("Asks: “%(question)s”") % {"question": _clip(question, MAX_QUOTE)})
        if not_in_pages:
            parts.append(_("Not in the help pages: %(things)s.") % {"things": ", ".join(not_in_pages[:3])})
        return " ".join(parts)[:1000]
