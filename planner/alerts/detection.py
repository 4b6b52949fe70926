"""Find cost anomalies in the stored rollups and keep one Anomaly row per series and episode.

Besides cost, each service's usage (GPU-hours, requests and tokens per day, from its usage
samples) and unit cost (USD per 1k requests) are watched with the same detector. Related
signals form one episode: a usage or unit-cost episode that overlaps a cost episode of the
same service (within a day) becomes a signal of that Anomaly, and one that has no cost
episode opens one on the service's cost series (its cost actual and expected over the
usage episode's days) when its cost impact is material -- one alert, several signals.

Runs `costmodels.anomaly.detect` (online: the decision on a day uses only that day and the days
before) over each daily cost series: total spend, each service, and unallocated spend. An
episode starts on a day the detector flags and continues over the following days whose value
stays outside the expected band on the same side. Episodes are stored idempotently: the
(series, start) unique constraint plus an overlap match mean running detection twice, or
concurrently, or after a restatement that moves an episode by a day, never adds a duplicate.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import IntegrityError, transaction

from costmodels.anomaly import detect
from costmodels.errors import CostModelError
from planner.alerts import rootcause
from planner.alerts.models import Anomaly, AnomalySignal, Direction
from planner.alerts.series import CostSeriesSpec, all_cost_series

log = logging.getLogger(__name__)
MIN_HISTORY_DAYS = 14  # fewer days than this: no detection (nothing to compare against)
MIN_IMPACT_USD = 10.0  # episodes whose |actual - expected| is smaller are not stored
# The detector's own defaults: chosen by leave-one-category-out cross-validation on NAB
# (bench/nab_cv.py), never on the demo fleet's injected anomalies or on these series.
DETECTOR_PARAMS: dict = {}
# Cost anomalies are overspend. Spend *below* expected (weekend dips while the seasonal
# baseline is still learning, a finished experiment) is not stored.
STORED_DIRECTIONS = (Direction.UP,)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Episode:
    start: dt.date
    end: dt.date
    direction: str
    actual_usd: float
    expected_usd: float
    score: float

    @property
    def impact_usd(self) -> float:
        return self.actual_usd - self.expected_usd


def episodes(series: pd.Series) -> tuple[list[Episode], pd.DataFrame]:
    """Episodes in one daily series (USD) and the detector's per-day result frame."""
    result = detect(series, **DETECTOR_PARAMS)
    value = result["value"].to_numpy(dtype=float)
    expected = result["expected"].to_numpy(dtype=float)
    lower = result["lower"].to_numpy(dtype=float)
    upper = result["upper"].to_numpy(dtype=float)
    score = result["anomaly_score"].to_numpy(dtype=float)
    days = [ts.date() for ts in result.index]
    found = []
    for i in np.flatnonzero(result["is_anomaly"].to_numpy() == 1):
        up = value[i] >= expected[i]
        j = i
        while j + 1 < len(value) and (
            value[j + 1] > upper[j + 1] if up else value[j + 1] < lower[j + 1]
        ):
            j += 1
        if found and days[i] <= found[-1].end:
            continue  # still inside the previous episode
        found.append(
            Episode(
                days[i],
                days[j],
                Direction.UP if up else Direction.DOWN,
                float(value[i : j + 1].sum()),
                float(expected[i : j + 1].sum()),
                float(np.nanmax(score[i : j + 1])),
            )
        )
    return found, result


def _money(x: float) -> Decimal:
    return Decimal(str(round(x, 2))).quantize(CENT)


def store_episode(spec: CostSeriesSpec, ep: Episode) -> tuple[Anomaly, bool]:
    """Create or update the Anomaly for one episode. Returns (anomaly, created)."""
    fields = {
        "series_label": spec.label,
        "dimensions": spec.dimensions,
        "direction": ep.direction,
        "actual_usd": _money(ep.actual_usd),
        "expected_usd": _money(ep.expected_usd),
        "impact_usd": _money(ep.impact_usd),
        "score": round(ep.score, 4),
    }
    margin = dt.timedelta(days=1)
    with transaction.atomic():
        existing = (
            Anomaly.objects.select_for_update()
            .filter(series_key=spec.key, start__lte=ep.end + margin, end__gte=ep.start - margin)
            .order_by("start")
            .first()
        )
        if existing is None:
            try:
                with transaction.atomic():
                    anomaly = Anomaly.objects.create(
                        series_key=spec.key,
                        start=ep.start,
                        end=ep.end,
                        root_cause=rootcause.explain(spec, ep.start, ep.end),
                        **fields,
                    )
                return anomaly, True
            except IntegrityError:  # a concurrent detection stored the same episode first
                existing = Anomaly.objects.select_for_update().get(
                    series_key=spec.key, start=ep.start
                )
        changed = existing.end != max(existing.end, ep.end) or not existing.root_cause
        existing.end = max(existing.end, ep.end)
        if existing.start == ep.start:
            for name, value in fields.items():
                setattr(existing, name, value)
        if changed:
            existing.root_cause = rootcause.explain(spec, existing.start, existing.end)
        existing.save()
        return existing, False


USAGE_SIGNALS = {
    "gpu_hours": ("GPU-hours", "GPU-hours/day"),
    "requests": ("Requests", "requests/day"),
    "tokens": ("Tokens", "tokens/day"),
}


def usage_series(slug: str, start: dt.date, end: dt.date) -> dict[str, pd.Series]:
    """Daily usage of one service from its usage samples: GPU-hours (replicas x GPUs per
    replica x hours), requests and tokens (input + output) per UTC day; a measure is left
    out when it was not measured."""
    from planner.usage.models import UsageSample

    rows = list(
        UsageSample.objects.filter(
            deployment__service__slug=slug,  # a ts range: PostgreSQL prunes the month partitions
            ts__gte=dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC),
            ts__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC),
        ).values_list(
            "ts",
            "step_seconds",
            "replicas",
            "request_rate_rps",
            "requests_succeeded",
            "input_tokens",
            "output_tokens",
            "deployment__gpu_count",
        )
    )
    if not rows:
        return {}
    f = pd.DataFrame(rows, columns=["ts", "step", "replicas", "rps", "ok", "tin", "tout", "gpus"])
    f = f.astype({c: float for c in f.columns if c != "ts"})
    day = pd.to_datetime(f["ts"], utc=True).dt.floor("D")
    measures = {
        "gpu_hours": f["replicas"] * f["gpus"] * f["step"] / 3600.0,
        "requests": (f["rps"] * f["step"]).fillna(f["ok"]),
        "tokens": f["tin"] + f["tout"],
    }
    out = {}
    for key, values in measures.items():
        daily = values.groupby(day).sum(min_count=1)
        if daily.notna().sum() >= MIN_HISTORY_DAYS and daily.notna().mean() >= 0.8:
            out[key] = daily.asfreq("D").fillna(0.0).rename(key)
    return out


def _signal_fields(result: pd.DataFrame, start: dt.date, end: dt.date, ratio: bool) -> dict:
    days = result[(result.index.date >= start) & (result.index.date <= end)]
    first = days.iloc[0]
    agg = "mean" if ratio else "sum"
    return {
        "start": start,
        "end": end,
        "actual": float(getattr(days["value"], agg)()),
        "expected": float(getattr(days["expected"], agg)()),
        "lower": float(first["lower"]),
        "upper": float(first["upper"]),
        "z": float(first["z"]),
        "score": float(days["anomaly_score"].max()),
    }


def _service_signals(
    spec: CostSeriesSpec, cost: pd.Series
) -> list[tuple[str, str, str, pd.Series]]:
    """(key, label, unit, daily series) of a service's usage and unit cost."""
    slug = spec.dimensions.get("service")
    if not slug:
        return []
    start, end = cost.index[0].date(), cost.index[-1].date()
    usage = usage_series(slug, start, end)
    out = [
        (f"usage:{k}:service={slug}", USAGE_SIGNALS[k][0], USAGE_SIGNALS[k][1], s)
        for k, s in usage.items()
    ]
    if "requests" in usage:
        req = usage["requests"].reindex(cost.index).fillna(0.0)
        both = (req > 0) & (cost > 0)
        if both.sum() >= MIN_HISTORY_DAYS:
            unit = (cost[both] / (req[both] / 1000.0)).asfreq("D").interpolate()
            out.append(
                (f"unit_cost:requests:service={slug}", "Unit cost", "USD per 1k requests", unit)
            )
    return out


def _record_signal(anomaly: Anomaly, key: str, label: str, unit: str, fields: dict, flagged: bool):
    AnomalySignal.objects.update_or_create(
        anomaly=anomaly,
        series_key=key,
        defaults={"label": label, "unit": unit, "flagged": flagged, **fields},
    )


def detect_cost_anomalies(min_impact_usd: float = MIN_IMPACT_USD) -> list[int]:
    """Run detection over every cost series, and over each service's usage and unit cost
    (grouped into the service's cost episodes); returns the ids of newly created anomalies."""
    created = []
    for spec, series in all_cost_series():
        if len(series) < MIN_HISTORY_DAYS or not series.any():
            continue
        try:
            found, result = episodes(series)
        except (CostModelError, ValueError) as exc:
            log.warning("anomaly detection skipped series %s: %s", spec.key, exc)
            continue
        stored: list[tuple[Anomaly, bool]] = []
        for ep in found:
            if ep.direction not in STORED_DIRECTIONS or abs(ep.impact_usd) < min_impact_usd:
                continue
            anomaly, was_created = store_episode(spec, ep)
            stored.append((anomaly, True))
            if was_created:
                created.append(anomaly.pk)
        for key, label, unit, signal in _service_signals(spec, series):
            if len(signal) < MIN_HISTORY_DAYS or not signal.any():
                continue
            try:
                sig_found, sig_result = episodes(signal)
            except ValueError as exc:
                log.warning("anomaly detection skipped series %s: %s", key, exc)
                continue
            for ep in sig_found:
                if ep.direction not in STORED_DIRECTIONS:
                    continue
                margin = dt.timedelta(days=1)
                anomaly = next(
                    (
                        a
                        for a, _ in stored
                        if a.start - margin <= ep.end and ep.start <= a.end + margin
                    ),
                    None,
                )
                if anomaly is None:  # usage moved first: open the episode on the cost series
                    days = result[(result.index.date >= ep.start) & (result.index.date <= ep.end)]
                    cost_ep = Episode(
                        ep.start,
                        ep.end,
                        Direction.UP,
                        float(days["value"].sum()),
                        float(days["expected"].sum()),
                        ep.score,
                    )
                    if cost_ep.impact_usd < min_impact_usd:
                        continue
                    anomaly, was_created = store_episode(spec, cost_ep)
                    stored.append((anomaly, False))
                    if was_created:
                        created.append(anomaly.pk)
                fields = _signal_fields(sig_result, ep.start, ep.end, key.startswith("unit_cost"))
                _record_signal(anomaly, key, label, unit, fields, flagged=True)
        for anomaly, flagged in stored:
            fields = _signal_fields(result, anomaly.start, anomaly.end, ratio=False)
            _record_signal(anomaly, spec.key, "Cost", "USD/day", fields, flagged=flagged)
    log.info("anomaly detection: %d new anomalies", len(created))
    return created
