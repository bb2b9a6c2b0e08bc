"""Backend actions against a local stand-in CRM speaking JSON over HTTP, and the demo CRM."""
from __future__ import annotations

import pytest

from apps.agent.tools import NotIdentified, ToolError, _demo_crm, tool_run

from .helpers import say, start
from .standins import StandIn

pytestmark = pytest.mark.django_db


def test_invoice_status_from_crm_with_token(fibrasur, settings):
    fibrasur.customer.external_ref = "FS-0012345"
    fibrasur.customer.save()
    with StandIn(lambda r: (200, {"number": "FS-778899", "status": "due", "amount": "19900", "currency": "ARS",
                                  "due_date": "2026-12-10"}, 0)) as crm:
        settings.AGENT_CRM_URL, settings.AGENT_CRM_TOKEN = crm.url, "crm-token-123"
        conv = start(fibrasur, contact=fibrasur.customer, language="en")
        conv, replies = say(fibrasur, conv, "Is my last invoice paid?")
    assert crm.requests[0]["path"] == "/customers/FS-0012345/invoice"
    assert crm.requests[0]["headers"]["authorization"] == "Bearer crm-token-123"
    assert replies[-1].body == "Your latest invoice FS-778899 is due (amount 19900 ARS), due on 2026-12-10."
    assert conv.events.filter(kind="agent_decision").last().payload["action"] == "invoice_status"


def test_crm_failure_hands_off_with_agent_error(fibrasur, settings):
    fibrasur.customer.external_ref = "FS-0012345"
    fibrasur.customer.save()
    with StandIn(lambda r: (503, {"error": "down"}, 0)) as crm:
        settings.AGENT_CRM_URL = crm.url
        conv = start(fibrasur, contact=fibrasur.customer, language="es")
        conv, _ = say(fibrasur, conv, "¿Está paga mi última factura?")
    assert conv.handoff["trigger"] == "agent_error"
    assert conv.department.slug == "collections"


def test_unidentified_customer_gets_no_lookup(fibrasur, settings):
    with StandIn(lambda r: (200, {"status": "paid"}, 0)) as crm:
        settings.AGENT_CRM_URL = crm.url
        conv = start(fibrasur, contact=fibrasur.other_customer, language="en")  # no external_ref
        conv, replies = say(fibrasur, conv, "Is my last invoice paid?")
    assert crm.requests == []
    assert conv.status == "bot"
    assert "couldn't identify your account" in replies[-1].body


def test_demo_crm_is_deterministic_and_tool_refuses_unknown_actions(fibrasur):
    assert _demo_crm("FS-1", "order") == _demo_crm("FS-1", "order")
    conv = start(fibrasur, contact=fibrasur.other_customer)
    with pytest.raises(NotIdentified):
        tool_run("order_status", conversation=conv)
    with pytest.raises(ToolError):
        tool_run("delete_account", conversation=conv)
