"""Each metric pinned on a small hand-built event log, written through the real services."""
from __future__ import annotations

from datetime import datetime

import pytest
from django.utils import translation

from apps.conversations import services
from apps.conversations.models import Channel
from apps.reports.rollups import reports_refresh
from apps.reports.selectors import build_report, figures, parse_filters, totals
from tests.factories import conversation_in

from .conftest import BA, office_hours

pytestmark = pytest.mark.django_db


def start(cast, text="Hola"):
    conv = services.conversation_start(contact=cast.customer, channel=cast.channel, language="es")
    services.message_receive(channel=cast.channel, contact=cast.customer, body=text, conversation=conv)
    return conv


def counters(clock):
    reports_refresh(settle_seconds=0)
    f = parse_filters({"start": "2026-03-01", "end": "2026-03-31"})
    return totals(f)


def test_bot_only_confirmed_assumed_abandoned(cast, clock):
    # confirmed: the customer rated the bot's answer
    a = start(cast)
    clock.tick(seconds=5)
    services.message_post_agent(conversation=a, body="Reiniciá el router.")
    clock.tick(minutes=2)
    services.conversation_archive(conversation=a, actor=services.AI_AGENT, resolution="resolved")
    services.conversation_rate(conversation=a, score=5)
    # assumed: the customer went quiet for the idle time (30 min default) after the answer
    b = start(cast)
    clock.tick(seconds=5)
    services.message_post_agent(conversation=b, body="Probá esto.")
    clock.tick(minutes=31)
    services.conversation_archive(conversation=b, actor=services.SYSTEM, resolution="resolved")
    # abandoned: quiet, but not long enough after the answer
    c = start(cast)
    clock.tick(seconds=5)
    services.message_post_agent(conversation=c, body="Probá esto.")
    clock.tick(minutes=5)
    services.conversation_archive(conversation=c, actor=services.SYSTEM, resolution="resolved")
    # abandoned: the customer's message was the last one
    d = start(cast)
    clock.tick(minutes=40)
    services.conversation_archive(conversation=d, actor=services.SYSTEM, resolution="resolved")
    # still with the bot: not closed, not in any deflection bucket
    start(cast)

    c_ = counters(clock)
    assert (c_["conversations"], c_["archived"], c_["bot_closed"]) == (5, 4, 4)
    assert (c_["defl_confirmed"], c_["defl_assumed"], c_["defl_abandoned"]) == (1, 1, 2)
    fig = figures(c_)
    assert fig["deflection"] == pytest.approx(0.5)
    assert c_["handed_off"] == 0 and c_["assignments"] == 0
    assert c_["resolved"] == 2  # abandoned chats are not resolved conversations
    assert c_["rated"] == 1 and fig["csat"] == 1.0


def test_assumed_idle_time_is_configurable(cast, clock, settings):
    settings.REPORTS_ASSUMED_IDLE_MINUTES = 3
    b = start(cast)
    services.message_post_agent(conversation=b, body="Probá esto.")
    clock.tick(minutes=5)
    services.conversation_archive(conversation=b, actor=services.SYSTEM, resolution="resolved")
    c_ = counters(clock)
    assert c_["defl_assumed"] == 1 and c_["defl_abandoned"] == 0


def test_handoff_then_transfer_again_is_not_a_post_handoff_resolution(cast, clock):
    conv = start(cast)
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="low_confidence")
    services.conversation_enqueue(conversation=conv)
    services.conversation_assign(conversation=conv, assignee=cast.collab_a)
    clock.tick(seconds=30)
    services.message_send_human(conversation=conv, user=cast.collab_a, body="Hola")
    services.conversation_transfer(conversation=conv, department=cast.dept_b, actor=cast.collab_a, reason="ventas")
    services.conversation_enqueue(conversation=conv)
    services.conversation_assign(conversation=conv, assignee=cast.collab_b)
    clock.tick(seconds=90)
    services.message_send_human(conversation=conv, user=cast.collab_b, body="Hola, soy de ventas")
    services.conversation_archive(conversation=conv, actor=cast.collab_b)

    # and one handed off and resolved by the first human
    conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)

    c_ = counters(clock)
    assert c_["handed_off"] == 2
    assert (c_["ph_resolved"], c_["ph_transferred"], c_["ph_reopened"]) == (1, 1, 0)
    assert figures(c_)["post_handoff_resolution"] == pytest.approx(0.5)
    assert c_["ho_low_confidence"] == 1 and c_["ho_explicit_request"] == 1
    assert c_["transfer_events"] == 1 and c_["bot_closed"] == 0
    report = build_report(parse_filters({"start": "2026-03-01", "end": "2026-03-31"}))
    by_agent = {r["id"]: r for r in report["agents"]}
    # Each human gets their own assignment's first response: 30 s for A, 90 s for B (web chat target 60 s).
    assert by_agent[cast.collab_b.pk]["frt_avg"] == pytest.approx(90)
    assert by_agent[cast.collab_b.pk]["frt_within_target"] == 0
    assert by_agent[cast.collab_a.pk]["handled"] == 2
    # CSAT/ conversations go to the final assignee; the transferred chat is B's
    assert by_agent[cast.collab_b.pk]["conversations"] == 1


def test_reopen_rate_and_reopen_outcome(cast, clock):
    conv = conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)
    conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)
    clock.tick(hours=2)
    services.conversation_reopen(conversation=conv)
    c_ = counters(clock)
    assert c_["archived_ever"] == 2 and c_["reopened"] == 1
    assert figures(c_)["reopen_rate"] == pytest.approx(0.5)
    assert c_["ph_reopened"] == 1 and c_["ph_resolved"] == 1
    assert c_["archived"] == 1  # the reopened one is open again


def test_first_response_out_of_hours_counts_business_time_only(cast, clock):
    office_hours(cast.dept_a, {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")})
    clock.at(datetime(2026, 3, 6, 17, 58, tzinfo=BA))  # Friday 17:58
    conv = start(cast)
    clock.tick(seconds=10)
    services.message_post_agent(conversation=conv, body="Te paso con soporte.")  # bot messages never count
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    services.conversation_enqueue(conversation=conv)
    services.conversation_assign(conversation=conv, assignee=cast.collab_a)   # Fri 17:58:10
    services.message_send_human(conversation=conv, user=cast.collab_a, body="Nota", is_internal=True)
    clock.at(datetime(2026, 3, 9, 9, 3, tzinfo=BA))  # Monday 09:03
    services.message_send_human(conversation=conv, user=cast.collab_a, body="Buen día")
    c_ = counters(clock)
    assert c_["frt_count"] == 1
    assert c_["frt_sum"] == 110 + 180  # 1 min 50 s on Friday + 3 min on Monday, not 63 hours


def test_csat_without_rating_is_not_a_zero(cast, clock):
    rated = conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)
    services.conversation_rate(conversation=rated, score=4)
    conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)  # no rating
    other = conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)
    services.conversation_rate(conversation=other, score=2)
    c_ = counters(clock)
    fig = figures(c_)
    assert c_["rated"] == 2 and c_["archived"] == 3
    assert fig["csat"] == pytest.approx(0.5)
    assert fig["csat_avg"] == pytest.approx(3.0)
    assert fig["csat_response"] == pytest.approx(2 / 3)


def test_reassignment_share_and_ai_token_cost(cast, clock):
    from decimal import Decimal

    from apps.reports.models import CostSettings

    conv = conversation_in(cast, "assigned", department=cast.dept_a, assignee=cast.collab_a)
    services.conversation_reassign(conversation=conv, assignee=cast.collab_ab, actor=cast.operator, reason="carga")
    services.conversation_record_decision(conversation=conv, payload={"usage": {"prompt_tokens": 1500,
                                                                                "completion_tokens": 500}})
    services.message_send_human(conversation=conv, user=cast.collab_ab, body="Hola")
    services.conversation_archive(conversation=conv, actor=cast.collab_ab)
    for _ in range(3):
        conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)
    CostSettings(operator_seats=1, operator_seat_monthly_cost=Decimal("300"), collaborator_hourly_cost=Decimal("0"),
                 platform_monthly_cost=Decimal("0"), ai_cost_per_1k_tokens=Decimal("0.5"),
                 ai_cost_per_conversation=Decimal("0.1")).save()
    reports_refresh(settle_seconds=0)
    report = build_report(parse_filters({"start": "2026-03-01", "end": "2026-03-30"}))
    c_ = report["counters"]
    assert c_["reassigned"] == 1 and figures(c_)["reassignment"] == pytest.approx(0.25)
    assert c_["ai_tokens"] == 2000 and c_["ai_untracked"] == 0  # conversation_in never posts AI messages
    cost = report["cost"]
    # 30 days = one month of one seat (300) + 2k tokens x 0.5 = 301 over 4 resolved
    assert cost["total_cost"] == Decimal("301.00")
    assert cost["cost_per_resolved"] == Decimal("75.25")
    summary = {k["key"]: k for k in report["summary"]}
    assert summary["reassignment"]["flag"] == "high"  # 25% > 5%


def bot_chat(cast, clock, *, idle_minutes=2, resolution="resolved", score=None):
    conv = start(cast)
    clock.tick(seconds=5)
    services.message_post_agent(conversation=conv, body="Reiniciá el router.")
    clock.tick(minutes=idle_minutes)
    services.conversation_archive(conversation=conv, actor=services.AI_AGENT, resolution=resolution)
    if score is not None:
        services.conversation_rate(conversation=conv, score=score)
    return conv


def test_only_a_good_rating_confirms_a_bot_deflection(cast, clock):
    bot_chat(cast, clock, score=5)                               # confirmed by a 5
    bot_chat(cast, clock, score=4)                               # confirmed by a 4
    bot_chat(cast, clock, score=1)                               # rated 1: not solved
    bot_chat(cast, clock, score=2, resolution="bot_confirmed")   # a low rating beats the bot's "confirmed"
    bot_chat(cast, clock, score=3, idle_minutes=31)              # a 3 after going quiet is not "assumed"
    bot_chat(cast, clock, resolution="customer_confirmed")       # explicit confirmation, no rating
    c_ = counters(clock)
    assert c_["bot_closed"] == 6
    assert (c_["defl_confirmed"], c_["defl_assumed"], c_["defl_abandoned"]) == (3, 0, 3)
    assert figures(c_)["deflection"] == pytest.approx(0.5)
    assert c_["resolved"] == 3  # low-rated bot chats are not resolved conversations either
    assert c_["rated"] == 5 and c_["csat_good"] == 2  # CSAT still counts every rating


def test_reassignment_is_over_conversations_a_human_handled(cast, clock):
    for _ in range(6):  # deflected by the AI Agent: no human ever involved, not in the denominator
        bot_chat(cast, clock, resolution="bot_confirmed")
    reassigned = conversation_in(cast, "in_progress", department=cast.dept_a, assignee=cast.collab_a)
    services.conversation_reassign(conversation=reassigned, assignee=cast.collab_ab, actor=cast.operator,
                                   reason="carga")
    moved = conversation_in(cast, "in_progress", department=cast.dept_a, assignee=cast.collab_a)
    services.conversation_transfer(conversation=moved, department=cast.dept_b, actor=cast.operator, reason="ventas")
    # routing's own move (system actor) is not a reassignment
    by_system = conversation_in(cast, "unassigned", department=cast.dept_a)
    services.conversation_transfer(conversation=by_system, department=cast.dept_b, actor=services.SYSTEM)
    services.conversation_enqueue(conversation=by_system)
    services.conversation_assign(conversation=by_system, assignee=cast.collab_b)
    conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)

    c_ = counters(clock)
    assert c_["conversations"] == 10
    assert c_["human_handled"] == 4
    assert c_["reassigned"] == 2  # the Operator's reassignment and the Operator's department transfer
    assert figures(c_)["reassignment"] == pytest.approx(0.5)  # not 2 / 10
    with translation.override("en"):
        report = build_report(parse_filters({"start": "2026-03-01", "end": "2026-03-31"}))
    summary = {k["key"]: k for k in report["summary"]}
    assert summary["reassignment"]["detail"] == "2 of 4"
    ai_row = next(r for r in report["agents"] if r["id"] == 0)
    assert ai_row["reassignment"] is None  # the AI Agent row has no human-handled conversations


def test_out_of_hours_move_to_backup_is_not_transferred_again(cast, clock):
    from apps.departments.models import Department
    from apps.routing.models import BusinessHours, DepartmentRouting
    from apps.routing.services import routing_conversation_arrived

    Department.objects.filter(pk=cast.dept_a.pk).update(backup=cast.dept_b)
    routing = DepartmentRouting.objects.create(department=cast.dept_a, use_schedule=True)
    for day in range(5):
        BusinessHours.objects.create(routing=routing, weekday=day, start="09:00", end="18:00")
    clock.at(datetime(2026, 3, 6, 20, 0, tzinfo=BA))  # Friday 20:00: Technical Support is closed
    conv = start(cast)
    services.conversation_escalate(conversation=conv, department=cast.dept_a, trigger="explicit_request")
    routing_conversation_arrived(conversation_id=conv.pk, now=clock.now)
    move = conv.events.filter(kind="transferred").get()
    assert (move.actor_kind, move.to_department_id) == ("system", cast.dept_b.pk)  # routing's own move
    clock.tick(minutes=1)
    services.conversation_enqueue(conversation=conv)
    services.conversation_assign(conversation=conv, assignee=cast.collab_b)
    clock.tick(seconds=40)
    services.message_send_human(conversation=conv, user=cast.collab_b, body="Hola, te ayudo desde ventas")
    services.conversation_archive(conversation=conv, actor=cast.collab_b)

    c_ = counters(clock)
    assert (c_["ph_resolved"], c_["ph_transferred"], c_["ph_other"]) == (1, 0, 0)
    assert figures(c_)["post_handoff_resolution"] == 1.0
    assert c_["transfer_events"] == 1 and c_["reassigned"] == 0 and c_["human_handled"] == 1


def test_filtered_cost_spreads_company_wide_costs_by_the_share_of_resolved(cast, clock):
    from decimal import Decimal

    from apps.reports.models import CostSettings

    with_tokens = conversation_in(cast, "in_progress", department=cast.dept_a, assignee=cast.collab_a)
    services.conversation_record_decision(conversation=with_tokens, payload={"tokens": 4000})
    services.conversation_archive(conversation=with_tokens, actor=cast.collab_a)
    for _ in range(2):
        conversation_in(cast, "archived", department=cast.dept_a, assignee=cast.collab_a)
    conversation_in(cast, "archived", department=cast.dept_b, assignee=cast.collab_b)
    CostSettings(operator_seats=1, operator_seat_monthly_cost=Decimal("300"), platform_monthly_cost=Decimal("100"),
                 ai_cost_per_1k_tokens=Decimal("1")).save()
    reports_refresh(settle_seconds=0)
    period = {"start": "2026-03-01", "end": "2026-03-30"}  # 30 days = one month of seat and platform: 400

    def cost(**extra):
        return build_report(parse_filters({**period, **extra}))["cost"]

    everything = cost()
    assert (everything["total_cost"], everything["resolved"], everything["cost_per_resolved"]) == (
        Decimal("404.00"), 4, Decimal("101.00"))
    support = cost(department=cast.dept_a.pk)  # 3 of the 4 resolved: 3/4 of the 400, plus its own AI cost
    assert support["fixed_cost_share"] == Decimal("0.75")
    assert (support["operator_cost"], support["platform_cost"], support["ai_cost"]) == (
        Decimal("225.00"), Decimal("75.00"), Decimal("4.00"))
    assert support["cost_per_resolved"] == Decimal("101.33")  # (300 + 4) / 3, not (400 + 4) / 3
    sales = cost(department=cast.dept_b.pk)
    assert (sales["total_cost"], sales["cost_per_resolved"]) == (Decimal("100.00"), Decimal("100.00"))
    # the slices add up to the whole
    assert support["total_cost"] + sales["total_cost"] == everything["total_cost"]
    nobody = cost(agent=cast.operator.pk)  # a slice with nothing resolved carries none of the fixed costs
    assert nobody["total_cost"] == Decimal("0.00") and nobody["cost_per_resolved"] is None
