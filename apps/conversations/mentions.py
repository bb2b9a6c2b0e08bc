"""@mentions in private notes: which colleagues a note names, and which of them may be told.

The note's text is parsed here, on the server; a list sent by the browser is never trusted. Only
people who may see the conversation (``access.conversation_audience``, the same rule as every
page and live signal) are notified or offered; a mention of someone else is kept in the note as
plain text, recorded in the note's ``meta["mentions_unseen"]`` so the writer is told "cannot see
this conversation; not notified", and nothing about the chat reaches them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Q

from . import access

# "@" not glued to a word, a dot or another "@" (so "ana@example.com" is an address, not a
# mention), then a username's characters. Trailing dots and dashes are sentence punctuation
# ("ask @maria."), not part of the name.
MENTION_RE = re.compile(r"(?<![\w@.+\-])@([\w][\w.+\-]*)")
MAX_MENTIONS = 20  # a note naming more people than this is a broadcast, not a mention


def mention_usernames(text: str) -> list[str]:
    """The usernames a text mentions, in order, each once (case-insensitively), at most ``MAX_MENTIONS``."""
    seen: dict[str, str] = {}
    for match in MENTION_RE.finditer(text or ""):
        name = match.group(1).rstrip(".-+")
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    return list(seen.values())[:MAX_MENTIONS]


@dataclass
class Mentions:
    """A note's mentions: ``notify`` may see the chat and get a notice (never the writer);
    ``unseen`` were named but cannot see it (told to the writer, nobody notified); ``shown``
    are the usernames rendered as mentions in the note (who can see it, the writer included)."""

    notify: list = field(default_factory=list)
    unseen: list = field(default_factory=list)
    shown: list = field(default_factory=list)

    def meta(self) -> dict:
        """What the note stores (names as they were when written; ids for the notices)."""
        out: dict = {}
        if self.shown:
            out["mentions"] = [{"id": u.pk, "username": u.username, "name": u.public_name} for u in self.shown]
        if self.unseen:
            out["mentions_unseen"] = [{"username": u.username, "name": u.public_name} for u in self.unseen]
        return out


def mentions_resolve(*, conversation, text: str, author) -> Mentions:
    """Who ``text`` mentions in ``conversation``: unknown usernames and inactive accounts are ignored."""
    names = mention_usernames(text)
    if not names:
        return Mentions()
    User = get_user_model()
    match = Q()
    for name in names:
        match |= Q(username__iexact=name)
    people = {u.username.lower(): u for u in User.objects.filter(match, is_active=True)}
    found = [people[n.lower()] for n in names if n.lower() in people]
    if not found:
        return Mentions()
    audience = set(access.conversation_audience(conversation))
    out = Mentions()
    for user in found:
        if user.pk in audience or user.pk == author.pk:
            out.shown.append(user)
            if user.pk != author.pk:
                out.notify.append(user)
        else:
            out.unseen.append(user)
    return out


def mention_candidates(*, conversation, user, q: str = "", limit: int = 20) -> list:
    """Colleagues the "@" menu offers in ``conversation``: its audience only, without the asker,
    matching ``q`` in the username or the name."""
    User = get_user_model()
    qs = User.objects.filter(pk__in=access.conversation_audience(conversation), is_active=True).exclude(pk=user.pk)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(username__icontains=q) | Q(display_name__icontains=q) | Q(first_name__icontains=q)
                       | Q(last_name__icontains=q))
    return list(qs.order_by("username")[:limit])
