"""Reads of the rollup tables: every figure on the dashboard, the API and the CSV exports.

All queries hit ``DailyRollup`` / ``OperatorActivity`` (a few thousand rows for a month), never the
conversation, message or event tables, so a 30-day report costs the same at 1k or 1M chats.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.conversations.models import Channel
from apps.departments.models import Department
from apps.departments.names import localized_name
from apps.roles.access import operators

from apps.core import report_tables
from .definitions import AI_AGENT_KEY, BENCHMARKS, COUNTERS, FRT_TARGET_SECONDS, HANDOFF_TRIGGERS, flag, frt_flag
from .models import CostSettings, DailyRollup, OperatorActivity
from .presence import presence_seconds

MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class Filters:
    start: date
    end: date  # inclusive
    department: int | None = None
    channel: int | None = None
    agent: int | None = None  # 0 = the AI Agent

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def as_query(self) -> dict:
        q = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        for name in ("department", "channel", "agent"):
            value = getattr(self, name)
            if value is not None:
                q[name] = str(value)
        return q


class BadFilter(ValueError):
    pass


def parse_filters(params) -> Filters:
    """Filters from a query dict; raises BadFilter with a readable message."""
    today = timezone.localdate()
    try:
        days = int(params.get("days") or 30)
        end = date.fromisoformat(params["end"]) if params.get("end") else today
        start = date.fromisoformat(params["start"]) if params.get("start") else end - timedelta(days=days - 1)
    except ValueError as exc:
        raise BadFilter(_("Dates must look like 2026-01-31 and the number of days must be a whole number.")) from exc
    if start > end:
        raise BadFilter(_("The start date must not be after the end date."))
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise BadFilter(_("A report covers at most %(n)d days.") % {"n": MAX_RANGE_DAYS})
    out = {}
    for name in ("department", "channel", "agent"):
        raw = params.get(name)
        if raw in (None, ""):
            out[name] = None
            continue
        try:
            out[name] = int(raw)
        except ValueError as exc:
            raise BadFilter(_("Unknown %(name)s filter.") % {"name": name}) from exc
    return Filters(start=start, end=end, **out)


def _base(f: Filters):
    qs = DailyRollup.objects.filter(day__gte=f.start, day__lte=f.end)
    if f.department is not None:
        qs = qs.filter(department_id=f.department)
    if f.channel is not None:
        qs = qs.filter(channel_id=f.channel)
    if f.agent is not None:
        qs = qs.filter(agent_id=f.agent)
    return qs


SUMS = {name: Sum(name) for name in COUNTERS}


def _clean(row: dict) -> dict:
    return {k: (v or 0) for k, v in row.items()}


def _ratio(num, den):
    return (num / den) if den else None


def figures(c: dict) -> dict:
    """Every ratio from one set of summed counters (None when the denominator is empty)."""
    ph_total = c["ph_resolved"] + c["ph_transferred"] + c["ph_reopened"] + c["ph_other"]
    return {
        "deflection": _ratio(c["defl_confirmed"] + c["defl_assumed"], c["archived"]),
        "deflection_confirmed": _ratio(c["defl_confirmed"], c["archived"]),
        "deflection_assumed": _ratio(c["defl_assumed"], c["archived"]),
        "abandoned": _ratio(c["defl_abandoned"], c["archived"]),
        "post_handoff_resolution": _ratio(c["ph_resolved"], ph_total),
        "reopen_rate": _ratio(c["reopened"], c["archived_ever"]),
        "reassignment": _ratio(c["reassigned"], c["human_handled"]),
        "csat": _ratio(c["csat_good"], c["rated"]),
        "csat_avg": _ratio(c["csat_sum"], c["rated"]),
        "csat_response": _ratio(c["rated"], c["archived"]),
        "frt_avg": _ratio(c["frt_sum"], c["frt_count"]),
        "frt_within_target": _ratio(c["frt_le_target"], c["frt_count"]),
    }


def totals(f: Filters) -> dict:
    return _clean(_base(f).aggregate(**SUMS))


def grouped(f: Filters, dim: str) -> list[dict]:
    return [_clean(r) for r in _base(f).values(dim).annotate(**SUMS).order_by(dim)]


def grouped_with_kinds(f: Filters, dim: str, kind_of: dict[int, str]) -> tuple[list[dict], dict]:
    """``grouped(f, dim)`` plus, per row, first-response (sum, count) by channel kind, from one
    query grouped by (dim, channel): a department or agent row mixes channels with different targets."""
    rows: dict[int, dict] = {}
    kinds: dict[int, dict[str, tuple[int, int]]] = {}
    for r in _base(f).values(dim, "channel_id").annotate(**SUMS).order_by(dim, "channel_id"):
        r = _clean(r)
        key = r[dim]
        acc = rows.setdefault(key, {dim: key, **{name: 0 for name in COUNTERS}})
        for name in COUNTERS:
            acc[name] += r[name]
        kind = kind_of.get(r["channel_id"], "")
        total, count = kinds.setdefault(key, {}).get(kind, (0, 0))
        kinds[key][kind] = (total + r["frt_sum"], count + r["frt_count"])
    return [rows[k] for k in sorted(rows)], kinds


def _names():
    User = get_user_model()
    departments = {d.pk: localized_name(d) for d in Department.objects.only("id", "name", "name_es", "name_en")}
    channels = {c.id: c for c in Channel.objects.all()}
    return departments, channels, User


def operator_ids() -> list[int]:
    return list(operators().values_list("id", flat=True))


def _popcount(n: int) -> int:
    return bin(n & ((1 << 64) - 1)).count("1")


def _span(lo: int, hi: int) -> int:
    bits = (hi << 48) | lo
    if not bits:
        return 0
    first = (bits & -bits).bit_length() - 1
    return bits.bit_length() - first


def operator_rows(f: Filters) -> list[dict]:
    """Utilization per Operator.

    active = 15-minute slots in which the Operator caused an event (pick up, reassign, transfer,
    archive...) or sent a message. Logged-in time = the Operator's presence sessions in the range when
    a presence model exists and they have any; otherwise (no presence model, or no session recorded
    for that person, e.g. before presence tracking began) each day's span from the first to the last
    active slot. utilization = active / logged in (at most 100%).
    """
    User = get_user_model()
    ids = [i for i in operator_ids() if f.agent is None or i == f.agent]
    users = {u.id: u for u in User.objects.filter(id__in=ids)}
    acc = {uid: {"active": 0, "span": 0} for uid in ids}
    for row in OperatorActivity.objects.filter(day__gte=f.start, day__lte=f.end, user_id__in=ids) \
            .values_list("user_id", "slots_lo", "slots_hi"):
        acc[row[0]]["active"] += _popcount(row[1]) + _popcount(row[2])
        acc[row[0]]["span"] += _span(row[1], row[2])
    tz = ZoneInfo(settings.TIME_ZONE)
    presence = presence_seconds(ids, datetime.combine(f.start, time.min, tz),
                                datetime.combine(f.end + timedelta(days=1), time.min, tz))
    rows = []
    for uid in sorted(ids, key=lambda i: users[i].public_name.lower()):
        active_h = acc[uid]["active"] * 0.25
        from_presence = bool(presence and presence.get(uid))
        logged_h = (presence[uid] / 3600) if from_presence else acc[uid]["span"] * 0.25
        util = min(1.0, active_h / logged_h) if logged_h else None
        rows.append({"agent_id": uid, "name": users[uid].public_name, "active_hours": round(active_h, 2),
                     "logged_in_hours": round(logged_h, 2), "utilization": util,
                     "utilization_flag": flag(util, "utilization"),
                     "logged_in_source": "presence" if from_presence else "activity_span"})
    return rows


def _filtered(f: Filters) -> bool:
    return f.department is not None or f.channel is not None or f.agent is not None


def cost(f: Filters, c: dict) -> dict:
    """Cost per resolved conversation for the filtered slice.

    Seats, the platform and presence-based Collaborator hours are company-wide: with a department,
    channel or agent filter the slice carries its share of them, i.e. its resolved conversations /
    all resolved conversations of the period (nothing when the period resolved none). Costs the
    rollups attribute exactly (AI tokens and conversations, Collaborator handling time) are the
    slice's own.
    """
    s = CostSettings.current()
    months = Decimal(f.days) / Decimal(30)
    if _filtered(f):
        resolved_all = totals(Filters(start=f.start, end=f.end))["resolved"]
        share = Decimal(c["resolved"]) / Decimal(resolved_all) if resolved_all else Decimal(0)
    else:
        resolved_all, share = c["resolved"], Decimal(1)
    seats = s.operator_seats if s.operator_seats is not None else len(operator_ids())
    operator_cost = Decimal(seats) * s.operator_seat_monthly_cost * months * share
    from .presence import presence_model
    secs = {}
    if presence_model() is not None:
        tz = ZoneInfo(settings.TIME_ZONE)
        ops = set(operator_ids())
        User = get_user_model()
        collab_ids = list(User.objects.filter(is_active=True).exclude(id__in=ops).values_list("id", flat=True))
        secs = presence_seconds(collab_ids, datetime.combine(f.start, time.min, tz),
                                datetime.combine(f.end + timedelta(days=1), time.min, tz)) or {}
    if sum(secs.values()):  # company-wide logged-in hours: the slice's share
        hours, hours_source = Decimal(str(round(sum(secs.values()) / 3600, 2))) * share, "presence"
    else:  # no presence recorded: the slice's own assignment spans
        hours, hours_source = Decimal(str(round(c["handling_seconds"] / 3600, 2))), "handling_time"
    hours = hours.quantize(Decimal("0.01"))
    collaborator_cost = hours * s.collaborator_hourly_cost
    platform = s.platform_monthly_cost * months * share
    ai = Decimal(c["ai_tokens"]) / Decimal(1000) * s.ai_cost_per_1k_tokens + \
        Decimal(c["ai_untracked"]) * s.ai_cost_per_conversation
    total = operator_cost + collaborator_cost + platform + ai
    q = Decimal("0.01")
    return {
        "currency": s.currency, "days": f.days, "operator_seats": seats,
        "fixed_cost_share": share.quantize(Decimal("0.0001")), "resolved_all": resolved_all,
        "operator_cost": operator_cost.quantize(q),
        "collaborator_hours": hours, "collaborator_hours_source": hours_source,
        "collaborator_cost": collaborator_cost.quantize(q), "platform_cost": platform.quantize(q),
        "ai_tokens": c["ai_tokens"], "ai_conversations_without_usage": c["ai_untracked"], "ai_cost": ai.quantize(q),
        "total_cost": total.quantize(q), "resolved": c["resolved"],
        "cost_per_resolved": (total / c["resolved"]).quantize(q) if c["resolved"] else None,
    }


def build_report(f: Filters) -> dict:
    """Everything the dashboard, the CSV exports and the API show, from ~6 indexed queries."""
    departments, channels, User = _names()
    c = totals(f)
    fig = figures(c)
    by_channel = grouped(f, "channel_id")
    by_kind: dict[str, dict] = {}
    for row in by_channel:
        kind = channels[row["channel_id"]].kind if row["channel_id"] in channels else ""
        k = by_kind.setdefault(kind, {"frt_sum": 0, "frt_count": 0, "frt_le_target": 0})
        k["frt_le_target"] += row["frt_le_target"]
        k["frt_sum"] += row["frt_sum"]
        k["frt_count"] += row["frt_count"]
    frt_web = _ratio(by_kind.get("webchat", {}).get("frt_sum", 0), by_kind.get("webchat", {}).get("frt_count", 0))
    frt_wa = _ratio(by_kind.get("whatsapp", {}).get("frt_sum", 0), by_kind.get("whatsapp", {}).get("frt_count", 0))
    operators = operator_rows(f)
    util_num = sum(r["active_hours"] for r in operators)
    util_den = sum(r["logged_in_hours"] for r in operators)
    utilization = min(1.0, util_num / util_den) if util_den else None
    costs = cost(f, c)

    def kpi(key, label, value, kind, bench_key=None, bench_label="", detail=""):
        return {"key": key, "label": label, "value": value, "kind": kind, "benchmark": bench_label,
                "flag": flag(value, bench_key) if bench_key else "", "detail": detail}

    def of(n, total):
        return _("%(n)s of %(total)s") % {"n": f"{n:,}", "total": f"{total:,}"}

    ph_total = c["ph_resolved"] + c["ph_transferred"] + c["ph_reopened"] + c["ph_other"]

    summary = [
        kpi("deflection", _("AI deflection rate"), fig["deflection"], "pct", "deflection", _("healthy 60–75%"),
            of(c["defl_confirmed"] + c["defl_assumed"], c["archived"])),
        kpi("deflection_confirmed", _("… confirmed by the customer"), fig["deflection_confirmed"], "pct",
            detail=of(c["defl_confirmed"], c["archived"])),
        kpi("deflection_assumed", _("… assumed (customer went quiet)"), fig["deflection_assumed"], "pct",
            detail=of(c["defl_assumed"], c["archived"])),
        kpi("abandoned", _("Abandoned with the AI Agent"), fig["abandoned"], "pct", detail=of(c["defl_abandoned"], c["archived"])),
        kpi("post_handoff_resolution", _("Post-handoff resolution"), fig["post_handoff_resolution"], "pct",
            detail=of(c["ph_resolved"], ph_total)),
        kpi("reopen_rate", _("Reopen rate"), fig["reopen_rate"], "pct", detail=of(c["reopened"], c["archived_ever"])),
        kpi("frt_webchat", _("First response, web chat"), frt_web, "seconds", "frt_webchat", _("healthy < 1 min"),
            _("%(n)s first responses") % {"n": f'{by_kind.get("webchat", {}).get("frt_count", 0):,}'}),
        kpi("frt_whatsapp", _("First response, WhatsApp"), frt_wa, "seconds", "frt_whatsapp", _("healthy < 5 min"),
            _("%(n)s first responses") % {"n": f'{by_kind.get("whatsapp", {}).get("frt_count", 0):,}'}),
        kpi("csat", _("CSAT (share of 4–5)"), fig["csat"], "pct", "csat", _("healthy > 85%"),
            _("%(n)s ratings") % {"n": f'{c["rated"]:,}'}),
        kpi("csat_avg", _("CSAT average (1–5)"), fig["csat_avg"], "number"),
        kpi("utilization", _("Operator utilization"), utilization, "pct", "utilization", _("healthy 60–80%")),
        kpi("reassignment", _("Reassigned conversations"), fig["reassignment"], "pct", "reassignment",
            _("healthy < 5%"), of(c["reassigned"], c["human_handled"])),
        kpi("cost_per_resolved", _("Cost per resolved conversation"), costs["cost_per_resolved"], "money",
            detail=f'{costs["currency"]} · ' + _("%(n)s resolved") % {"n": f'{c["resolved"]:,}'}),
    ]

    kind_of = {pk: ch.kind for pk, ch in channels.items()}

    def dim_rows(rows, dim, name_of, frt_kinds, human_rows=False, flag_deflection=True):
        """One table row per dimension value, each figure with its benchmark flag ('' = no figure or
        no benchmark). Deflection is the AI Agent's figure: a person's row has none. A department's
        deflection is not held to the benchmark: conversations count under their final department, so
        a department that only receives handoffs shows 0% and the bot's entry department shows its
        own closures only (see README)."""
        out = []
        for row in rows:
            fr = figures(row)
            deflection = None if human_rows and row[dim] != AI_AGENT_KEY else fr["deflection"]
            out.append({"id": row[dim], "name": name_of(row[dim]), "conversations": row["conversations"],
                        "archived": row["archived"], "resolved": row["resolved"], "handed_off": row["handed_off"],
                        "deflection": deflection,
                        "deflection_flag": flag(deflection, "deflection") if flag_deflection else "",
                        "post_handoff_resolution": fr["post_handoff_resolution"],
                        "reopen_rate": fr["reopen_rate"], "handled": row["handled"],
                        "frt_avg": fr["frt_avg"], "frt_within_target": fr["frt_within_target"],
                        "frt_flag": frt_flag(frt_kinds.get(row[dim], {})),
                        "rated": row["rated"], "csat": fr["csat"], "csat_flag": flag(fr["csat"], "csat"),
                        "csat_avg": fr["csat_avg"], "reassignment": fr["reassignment"],
                        "reassignment_flag": flag(fr["reassignment"], "reassignment")})
        return out

    agent_rows, agent_kinds = grouped_with_kinds(f, "agent_id", kind_of)
    users = {u.id: u.public_name for u in User.objects.filter(id__in=[r["agent_id"] for r in agent_rows])}
    agents = dim_rows(agent_rows, "agent_id",
                      lambda a: _("AI Agent") if a == AI_AGENT_KEY else users.get(a, f"#{a}"), agent_kinds,
                      human_rows=True)
    agents.sort(key=lambda r: (r["id"] != AI_AGENT_KEY, -r["conversations"]))

    series = []
    for row in grouped(f, "day"):
        fr = figures(row)
        series.append({"day": row["day"], "conversations": row["conversations"], "handed_off": row["handed_off"],
                       "deflected": row["defl_confirmed"] + row["defl_assumed"], "archived": row["archived"],
                       "deflection": fr["deflection"], "rated": row["rated"], "csat": fr["csat"],
                       "frt_avg": fr["frt_avg"]})

    dept_rows, dept_kinds = grouped_with_kinds(f, "department_id", kind_of)
    triggers = [{"trigger": key, "name": str(label), "handoffs": c["ho_" + key]}
                for key, label in HANDOFF_TRIGGERS.items()]
    deflection = [
        {"outcome": "confirmed", "name": _("Confirmed"), "conversations": c["defl_confirmed"]},
        {"outcome": "assumed", "name": _("Assumed (customer quiet)"), "conversations": c["defl_assumed"]},
        {"outcome": "abandoned", "name": _("Abandoned or rated 1–3"), "conversations": c["defl_abandoned"]},
        {"outcome": "human", "name": _("Handled by a human"), "conversations": c["archived"] - c["bot_closed"]},
    ]
    post_handoff = [
        {"outcome": "resolved", "name": _("Resolved by the human"), "conversations": c["ph_resolved"]},
        {"outcome": "transferred", "name": _("Transferred again"), "conversations": c["ph_transferred"]},
        {"outcome": "reopened", "name": _("Reopened"), "conversations": c["ph_reopened"]},
        {"outcome": "other", "name": _("Closed otherwise"), "conversations": c["ph_other"]},
    ]
    return {
        "filters": f, "counters": c, "figures": fig, "summary": summary, "timeseries": series,
        "departments": dim_rows(dept_rows, "department_id",
                                lambda d: departments.get(d, _("No department (AI Agent)") if d == 0 else f"#{d}"),
                                dept_kinds, flag_deflection=False),
        "channels": dim_rows(by_channel, "channel_id", lambda ch: str(channels[ch].name) if ch in channels else f"#{ch}",
                             {r["channel_id"]: {kind_of.get(r["channel_id"], ""): (r["frt_sum"], r["frt_count"])}
                              for r in by_channel}),
        "agents": agents, "operators": operators, "triggers": triggers, "deflection": deflection,
        "post_handoff": post_handoff, "cost": costs, "labels": report_tables.table("labels", f),
        "knowledge_gaps": report_tables.table("knowledge_gaps", f),
        "frt_targets": FRT_TARGET_SECONDS, "benchmarks": BENCHMARKS,
    }


TABLES = ("summary", "timeseries", "departments", "channels", "agents", "operators", "triggers", "deflection",
          "post_handoff", "cost", "labels", "knowledge_gaps")


def table_rows(report: dict, name: str) -> list[dict]:
    """A report table as a list of flat dicts (CSV and API)."""
    if name == "summary":
        return [{k: r[k] for k in ("key", "label", "value", "benchmark", "flag", "detail")} for r in report["summary"]]
    if name == "cost":
        return [report["cost"]]
    return report[name]
