"""Backend actions: status lookups against the operation's CRM, for the identified customer only.

The tool interface is deliberately small and explicit. The customer a lookup runs for is taken
from the conversation's contact (its ``external_ref``), never from the model's output or the
customer's text: "show me the order of customer 1234" still looks up the chat's own customer.

``settings.AGENT_CRM_URL`` set: ``GET {url}/customers/{ref}/{resource}`` with an optional bearer
token (``AGENT_CRM_TOKEN``), JSON answer ``{"status": ..., "number": ..., "detail": ..., ...}``.
Not set: an in-process demo CRM for the seeded ISP (FibraSur), deterministic per customer.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings

log = logging.getLogger(__name__)

RESOURCES = {"invoice_status": "invoice", "order_status": "order", "ticket_status": "ticket"}


class ToolError(RuntimeError):
    pass


class NotIdentified(ToolError):
    """The chat's customer is not identified: no lookup is possible."""


@dataclass(frozen=True)
class ToolResult:
    action: str
    customer_ref: str
    data: dict


def _demo_crm(ref: str, resource: str) -> dict:
    seed = int(hashlib.sha256(f"{ref}:{resource}".encode()).hexdigest()[:8], 16)
    if resource == "invoice":
        paid = seed % 3 != 0
        return {"number": f"FS-{seed % 900000 + 100000}", "status": "paid" if paid else "due",
                "amount": f"{(seed % 30 + 20) * 1000}", "currency": "ARS", "due_date": f"2026-12-{seed % 20 + 5:02d}"}
    if resource == "order":
        states = ["scheduled", "installed", "in_progress"]
        return {"number": f"OR-{seed % 90000 + 10000}", "status": states[seed % 3],
                "date": f"2026-12-{seed % 20 + 3:02d}"}
    states = ["open", "in_progress", "resolved"]
    return {"number": f"TK-{seed % 90000 + 10000}", "status": states[seed % 3]}


def _http_crm(ref: str, resource: str) -> dict:
    import httpx

    url = settings.AGENT_CRM_URL.rstrip("/") + f"/customers/{quote(ref, safe='')}/{resource}"
    headers = {"Accept": "application/json"}
    token = getattr(settings, "AGENT_CRM_TOKEN", "")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = httpx.get(url, headers=headers, timeout=float(getattr(settings, "AGENT_CRM_TIMEOUT", 5)))
    except httpx.HTTPError as exc:
        raise ToolError(f"CRM unreachable: {exc}") from exc
    if response.status_code == 404:
        raise ToolError("customer not found in the CRM")
    if response.status_code != 200:
        raise ToolError(f"CRM answered {response.status_code}")
    try:
        data = response.json()
    except ValueError as exc:
        raise ToolError("CRM answered with something that is not JSON") from exc
    if not isinstance(data, dict):
        raise ToolError("CRM answer is not an object")
    return {str(k): str(v)[:200] for k, v in data.items() if isinstance(v, (str, int, float))}


def tool_run(action: str, *, conversation) -> ToolResult:
    """Run ``action`` for the conversation's own customer. Authorization is decided here, by the
    conversation, never by whoever asked for the lookup."""
    if action not in RESOURCES:
        raise ToolError(f"unknown action {action!r}")
    ref = (conversation.contact.external_ref or "").strip()
    if not ref:
        raise NotIdentified("the customer of this conversation is not identified")
    resource = RESOURCES[action]
    data = _http_crm(ref, resource) if getattr(settings, "AGENT_CRM_URL", "") else _demo_crm(ref, resource)
    return ToolResult(action=action, customer_ref=ref, data=data)


STATUS_WORDS = {
    "es": {"paid": "pagada", "due": "pendiente de pago", "scheduled": "agendada", "installed": "instalada",
           "in_progress": "en curso", "open": "abierto", "resolved": "resuelto"},
}


def tool_describe(result: ToolResult, language: str) -> str:
    """A plain-text sentence for the customer."""
    d = result.data
    status = d.get("status", "")
    if language == "es":
        status = STATUS_WORDS["es"].get(status, status)
        if result.action == "invoice_status":
            text = f"Tu última factura {d.get('number', '')} está {status}"
            if d.get("amount"):
                text += f" (importe {d.get('amount')} {d.get('currency', '')}".rstrip() + ")"
            if d.get("due_date"):
                text += f", vence el {d['due_date']}"
            return text + "."
        if result.action == "order_status":
            return f"Tu orden {d.get('number', '')} está {status}" + (f" ({d['date']})." if d.get("date") else ".")
        return f"Tu reclamo {d.get('number', '')} está {status}."
    status = status.replace("_", " ")
    if result.action == "invoice_status":
        text = f"Your latest invoice {d.get('number', '')} is {status}"
        if d.get("amount"):
            text += f" (amount {d.get('amount')} {d.get('currency', '')}".rstrip() + ")"
        if d.get("due_date"):
            text += f", due on {d['due_date']}"
        return text + "."
    if result.action == "order_status":
        return f"Your order {d.get('number', '')} is {status}" + (f" ({d['date']})." if d.get("date") else ".")
    return f"Your ticket {d.get('number', '')} is {status}."
