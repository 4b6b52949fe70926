"""Unit cost from measured units: $ per 1M input / output tokens, per image, per audio- and
video-minute, GPU-seconds per unit, trend, and the daily series (for anomaly detection).

Cost is the service's effective cost (amortised commitments) per day from the billing
rollups; units are the inference servers' own counters summed per day
(:mod:`ingest.prometheus.serving`). A day counts only when it has both. ``coverage`` is the
share of the service's GPU-seconds on deployments whose servers measured the unit: below 1,
part of the cost bought capacity whose units were not counted, so the unit cost is high by
that much and says so. Token costs are split by the rule in :mod:`costmodels.unit_economics`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter

import pandas as pd
from django.db.models import F, Sum
from django.db.models.functions import TruncDate

from costmodels.unit_economics import split_token_cost, trend_pct_per_week
from planner.billing import reports
from planner.usage.models import ServiceServingTargets, ServingEndpoint, UsageSample

AMOUNTS = (
    "input_tokens",
    "output_tokens",
    "images",
    "audio_seconds",
    "video_seconds",
    "prefill_seconds",
    "decode_seconds",
)
#: unit label -> (amount field, units per amount)
MEDIA_UNITS = {
    "image": ("images", 1.0),
    "audio-minute": ("audio_seconds", 1 / 60),
    "video-minute": ("video_seconds", 1 / 60),
}


@dataclass
class UnitCost:
    """One measured unit cost of a service over a range. ``metric`` names the counter(s)."""

    unit: str
    usd_per_unit: float | None
    units: float
    cost_usd: float
    gpu_seconds_per_unit: float | None
    metric: str
    rule: str = ""
    coverage: float | None = None
    trend_pct_per_week: float | None = None
    series: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    return lo, dt.datetime.combine(end, dt.time.min, tzinfo=dt.UTC) + dt.timedelta(days=1)


def _cost_series(days: dict) -> pd.Series:
    return pd.Series({d: float(v) for d, v in days.items()}, dtype=float).sort_index()


def daily_cost(service, start: dt.date, end: dt.date) -> pd.Series:
    """Effective cost (USD) attributed to the service per day (shared-node share included)."""
    return _cost_series(reports.view(start, end, service=service.slug).daily().get(None, {}))


def daily_amounts(service, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Per day: measured amounts, GPU-seconds in total and on measuring deployments."""
    return daily_amounts_by_service([service.pk], start, end).get(service.pk, pd.DataFrame())


def daily_amounts_by_service(service_ids, start: dt.date, end: dt.date) -> dict[int, pd.DataFrame]:
    """{service id: :func:`daily_amounts` frame} for many services in two grouped queries
    (services without samples in the range are left out)."""
    lo, hi = _bounds(start, end)
    gpu_s = F("replicas") * F("deployment__gpu_count") * F("step_seconds")
    samples = UsageSample.objects.filter(
        deployment__service_id__in=list(service_ids), ts__gte=lo, ts__lt=hi
    ).annotate(day=TruncDate("ts"))
    rows = list(
        samples.values("deployment__service_id", "day")
        .annotate(gpu_seconds=Sum(gpu_s), **{a: Sum(a) for a in AMOUNTS})
        .order_by("deployment__service_id", "day")
    )
    measured = {
        (r["deployment__service_id"], r["day"]): r["measured_gpu_seconds"]
        for r in samples.filter(deployment__serving_endpoint__isnull=False)
        .exclude(deployment__serving_endpoint__stack="")
        .values("deployment__service_id", "day")
        .annotate(measured_gpu_seconds=Sum(gpu_s))
        .order_by()
    }
    out = {}
    for service_id, group in groupby(rows, key=itemgetter("deployment__service_id")):
        frame = pd.DataFrame(list(group)).drop(columns="deployment__service_id")
        frame["measured_gpu_seconds"] = [measured.get((service_id, d)) for d in frame["day"]]
        out[service_id] = frame.set_index("day").astype(float)
    return out


def unit_metrics(service) -> dict[str, str]:
    """{amount field: "metric (stack)"} over the service's deployments' serving endpoints."""
    return unit_metrics_by_service([service.pk]).get(service.pk, {})


def unit_metrics_by_service(service_ids) -> dict[int, dict[str, str]]:
    """:func:`unit_metrics` of many services from one query."""
    from ingest.prometheus.serving import ServingConfigError, stack

    out: dict[int, dict[str, set[str]]] = {}
    endpoints = ServingEndpoint.objects.filter(deployment__service_id__in=list(service_ids))
    for ep in endpoints.exclude(stack="").select_related("deployment"):
        mine = out.setdefault(ep.deployment.service_id, {})
        try:
            s = stack(ep.stack, ep.metrics_mapping)
        except ServingConfigError as exc:
            mine.setdefault("error", set()).add(f"{ep.deployment.name}: {exc}")
            continue
        for amount, metric in s.unit_metrics.items():
            mine.setdefault(amount, set()).add(f"{metric} ({ep.get_stack_display()})")
        if "prefill_seconds" in s.templates and "decode_seconds" in s.templates:
            mine.setdefault("token_split", set()).add(ep.stack)
    return {sid: {k: ", ".join(sorted(v)) for k, v in m.items()} for sid, m in out.items()}


def _row(unit, cost: pd.Series, units: pd.Series, gpu: pd.Series, metric, coverage, rule=""):
    days = cost.index.intersection(units[units > 0].index)
    c, u, g = float(cost[days].sum()), float(units[days].sum()), float(gpu[days].sum())
    series = (cost[days] / units[days]).sort_index()
    return UnitCost(
        unit,
        c / u if u > 0 else None,
        u,
        c,
        g / u if u > 0 else None,
        metric,
        rule,
        coverage,
        trend_pct_per_week(series),
        series,
    )


def service_unit_costs(service, start: dt.date, end: dt.date) -> list[UnitCost]:
    """The service's measured unit costs over [start, end] (empty if nothing was measured)."""
    amounts = daily_amounts(service, start, end)
    if amounts.empty:
        return []
    return _unit_costs(amounts, daily_cost(service, start, end), unit_metrics(service))


def fleet_unit_costs_by_service(services, start: dt.date, end: dt.date) -> dict[int, list]:
    """{service id: :func:`service_unit_costs`} for many services with a fixed number of
    queries (one cost view of the range split by service, grouped usage), not a few per service:
    the dashboard lists every service's unit costs."""
    amounts = daily_amounts_by_service([s.pk for s in services], start, end)
    if not amounts:
        return {}
    cost = reports.view(start, end).daily("service_id")
    metrics = unit_metrics_by_service(list(amounts))
    return {
        sid: _unit_costs(frame, _cost_series(cost.get(sid, {})), metrics.get(sid, {}))
        for sid, frame in amounts.items()
    }


def _unit_costs(amounts: pd.DataFrame, cost: pd.Series, metrics: dict) -> list[UnitCost]:
    days = amounts.index.intersection(cost.index)
    amounts, cost = amounts.loc[days], cost.loc[days]
    gpu = amounts["gpu_seconds"].fillna(0.0)
    covered = amounts["measured_gpu_seconds"].sum()
    coverage = float(covered / gpu.sum()) if gpu.sum() > 0 else None
    out = []
    tin, tout = amounts["input_tokens"].fillna(0.0), amounts["output_tokens"].fillna(0.0)
    if (tin + tout).sum() > 0:
        cost_in, cost_out, gpu_in, gpu_out, rule = _split_daily(amounts, cost, gpu)
        out.append(
            _row(
                "1M input tokens",
                cost_in,
                tin / 1e6,
                gpu_in,
                metrics.get("input_tokens", ""),
                coverage,
                rule,
            )
        )
        out.append(
            _row(
                "1M output tokens",
                cost_out,
                tout / 1e6,
                gpu_out,
                metrics.get("output_tokens", ""),
                coverage,
                rule,
            )
        )
    for unit, (amount, per) in MEDIA_UNITS.items():
        units = amounts[amount].fillna(0.0) * per
        if units.sum() > 0:
            out.append(_row(unit, cost, units, gpu, metrics.get(amount, ""), coverage))
    return [u for u in out if u.usd_per_unit is not None]


def _split_daily(amounts: pd.DataFrame, cost: pd.Series, gpu: pd.Series):
    """Per-day cost and GPU-seconds split between input and output tokens (one rule per day)."""
    cin, cout, gin, gout, rules = {}, {}, {}, {}, set()
    for day in amounts.index:
        a = amounts.loc[day]
        pf, dc = a["prefill_seconds"], a["decode_seconds"]
        s = split_token_cost(
            float(cost[day]),
            float(a["input_tokens"] or 0.0) if pd.notna(a["input_tokens"]) else 0.0,
            float(a["output_tokens"]) if pd.notna(a["output_tokens"]) else 0.0,
            prefill_seconds=float(pf) if pd.notna(pf) else None,
            decode_seconds=float(dc) if pd.notna(dc) else None,
        )
        rules.add(s.rule)
        cin[day], cout[day] = s.cost_usd * s.input_share, s.cost_usd * (1 - s.input_share)
        gin[day], gout[day] = gpu[day] * s.input_share, gpu[day] * (1 - s.input_share)
    rule = " / ".join(sorted(rules))
    return pd.Series(cin), pd.Series(cout), pd.Series(gin), pd.Series(gout), rule


@dataclass(frozen=True)
class BuildVsBuy:
    """Self-hosted token cost beside a managed API's price (entered by the user)."""

    self_hosted_usd: float
    input_tokens: float
    output_tokens: float
    self_usd_per_1m_blended: float
    managed_api_name: str
    managed_usd: float | None
    managed_price_source: str
    saving_usd: float | None  # managed - self-hosted (> 0: self-hosting is cheaper)


def build_vs_buy(service, start: dt.date, end: dt.date) -> BuildVsBuy | None:
    """For a service with measured tokens: its cost vs the same tokens at the managed price."""
    costs = {u.unit: u for u in service_unit_costs(service, start, end)}
    tin, tout = costs.get("1M input tokens"), costs.get("1M output tokens")
    if tin is None and tout is None:
        return None
    self_usd = (tin.cost_usd if tin else 0.0) + (tout.cost_usd if tout else 0.0)
    in_m, out_m = (tin.units if tin else 0.0), (tout.units if tout else 0.0)
    t = ServiceServingTargets.objects.filter(service=service).first()
    managed = None
    if t and t.managed_usd_per_1m_input is not None and t.managed_usd_per_1m_output is not None:
        managed = in_m * float(t.managed_usd_per_1m_input) + out_m * float(
            t.managed_usd_per_1m_output
        )
    return BuildVsBuy(
        self_usd,
        in_m * 1e6,
        out_m * 1e6,
        self_usd / (in_m + out_m) if in_m + out_m else 0.0,
        t.managed_api_name if t else "",
        managed,
        t.managed_price_source if t else "",
        None if managed is None else managed - self_usd,
    )


def unit_cost_series(service, unit: str, start: dt.date, end: dt.date) -> pd.Series:
    """Daily USD per ``unit`` (a :class:`UnitCost` unit label) on a DatetimeIndex, for the
    anomaly detector (:func:`costmodels.anomaly.estimator.detect`)."""
    for u in service_unit_costs(service, start, end):
        if u.unit == unit:
            s = u.series.copy()
            s.index = pd.DatetimeIndex(pd.to_datetime(s.index))
            return s.asfreq("D")
    return pd.Series(dtype=float, index=pd.DatetimeIndex([]))
