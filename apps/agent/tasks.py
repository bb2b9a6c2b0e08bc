"""Thin, restart-safe tasks of the AI Agent (DESIGN.md invariant 3): ids in, a service call out."""
from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=True)
def agent_reconcile_task() -> dict:
    from .reconcile import agent_reconcile

    return agent_reconcile()
