"""Answers the conversation pages need from apps above them, registered by those apps.

The conversation core does not import routing (DESIGN.md invariant 5); routing registers its
answer in ``RoutingConfig.ready``. With nothing registered the page simply lists no one.

``reassign_choices(department_id=...)``: the people an Operator may move a chat to, as dicts
with at least ``"user"`` (routing orders them: available first, with presence and load).
"""
from __future__ import annotations

from typing import Callable

_reassign_choices: Callable[..., list[dict]] | None = None


def register_reassign_choices(fn: Callable[..., list[dict]]) -> None:
    global _reassign_choices
    _reassign_choices = fn


def reassign_choices(*, department_id: int) -> list[dict]:
    return _reassign_choices(department_id=department_id) if _reassign_choices else []
