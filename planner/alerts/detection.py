"""Find cost anomalies in the stored rollups and keep one Anomaly row per series and episode.

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
from planner.alerts.models import Anomaly, Direction
from planner.alerts.series import CostSeriesSpec, all_cost_series

log = logging.getLogger(__name__)
MIN_HISTORY_DAYS = 14  # fewer days than this: no detection (nothing to compare against)
MIN_IMPACT_USD = 10.0  # episodes whose |actual - expected| is smaller are not stored
# Daily cost series are short (weeks to a year of points) and a day 4 robust standard
# deviations above its expected value is material spend; the detector's record rule still
# keeps a noisy flat series quiet. Found on the demo fleet's injected anomalies.
DETECTOR_PARAMS = {"min_z": 4.0}
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
            Episode(days[i], days[j], Direction.UP if up else Direction.DOWN,
                    float(value[i : j + 1].sum()), float(expected[i : j + 1].sum()),
                    float(np.nanmax(score[i : j + 1])))
        )  # fmt: skip
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
                        series_key=spec.key, start=ep.start, end=ep.end,
                        root_cause=rootcause.explain(spec, ep.start, ep.end), **fields,
                    )  # fmt: skip
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


def detect_cost_anomalies(min_impact_usd: float = MIN_IMPACT_USD) -> list[int]:
    """Run detection over every cost series; returns the ids of newly created anomalies."""
    created = []
    for spec, series in all_cost_series():
        if len(series) < MIN_HISTORY_DAYS or not series.any():
            continue
        try:
            found, _ = episodes(series)
        except (CostModelError, ValueError) as exc:
            log.warning("anomaly detection skipped series %s: %s", spec.key, exc)
            continue
        for ep in found:
            if ep.direction not in STORED_DIRECTIONS or abs(ep.impact_usd) < min_impact_usd:
                continue
            anomaly, was_created = store_episode(spec, ep)
            if was_created:
                created.append(anomaly.pk)
    log.info("anomaly detection: %d new anomalies", len(created))
    return created
