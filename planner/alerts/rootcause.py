"""Root cause of a cost anomaly: which service / account / region / SKU / pricing category moved.

Reads the rollups of the anomaly's series over the episode and a baseline of the
`BASELINE_DAYS` days before it, and hands them to `costmodels.rootcause.rank_contributors`
(pure maths). The ranking is stored on the Anomaly as JSON so the page and the emails show
what was computed at detection time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import pandas as pd

from planner.alerts.series import CostSeriesSpec, contributions_frame

BASELINE_DAYS = 14
# Most specific first: when several members explain about as much of the deviation, the most
# specific one (a SKU rather than the account that bills it) is the useful answer.
DIMENSIONS = ("sku", "service", "region", "pricing_category", "account")
PRIMARY_FRACTION = 0.8
MAX_ROWS = 30


def _jsonable(value):
    if isinstance(value, (pd.Timestamp, dt.date)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalar
        return _jsonable(value.item())
    return value


def explain(spec: CostSeriesSpec, start: dt.date, end: dt.date) -> dict:
    """{"baseline": [first, last], "window": [first, last], "dimensions": [...],
    "ranking": [rows, best first], "primary": row} where rows are rank_contributors'
    Contributor fields (dimension, member, expected_usd, actual_usd, delta_usd,
    share_of_deviation). `primary` is the most specific member whose delta is at least
    PRIMARY_FRACTION of the largest one (e.g. the SKU rather than the whole account)."""
    from costmodels.rootcause import rank_contributors

    baseline_start = start - dt.timedelta(days=BASELINE_DAYS)
    baseline_end = start - dt.timedelta(days=1)
    frame = contributions_frame(spec, baseline_start, end)
    dims = [d for d in DIMENSIONS if d not in spec.dimensions]
    if frame.empty:
        return {}
    frame = frame[frame["date"] >= pd.Timestamp(baseline_start, tz="UTC")]
    has_baseline = (frame["date"] <= pd.Timestamp(baseline_end, tz="UTC")).any()
    if not has_baseline:
        return {"note": "no baseline days before the episode; root cause not ranked"}
    in_window = frame["date"].between(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))
    if not in_window.any():  # e.g. an episode on days the scope has no cost rows
        return {"note": "no cost rows inside the episode; root cause not ranked"}
    ranked = rank_contributors(
        frame,
        dims,
        anomaly_window=(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")),
        baseline_window=(
            pd.Timestamp(baseline_start, tz="UTC"),
            pd.Timestamp(baseline_end, tz="UTC"),
        ),
        value_col="cost",
    )
    rows = [{k: _jsonable(v) for k, v in dataclasses.asdict(c).items()} for c in ranked]
    best = primary(rows, dims)
    if best is not None:  # shown first; the rest keep rank_contributors' order
        rows = [best] + [r for r in rows if r is not best]
    return {
        "baseline": [baseline_start.isoformat(), baseline_end.isoformat()],
        "window": [start.isoformat(), end.isoformat()],
        "dimensions": dims,
        "ranking": rows[:MAX_ROWS],
        "primary": best,
    }


def primary(rows: list[dict], dims: list[str]) -> dict | None:
    """The most specific row (by position in `dims`) explaining >= PRIMARY_FRACTION of the top
    row's delta, in the direction of the deviation."""
    if not rows:
        return None
    top = abs(rows[0]["delta_usd"] or 0.0)
    sign = 1.0 if (rows[0]["delta_usd"] or 0.0) >= 0 else -1.0
    strong = [r for r in rows if sign * (r["delta_usd"] or 0.0) >= PRIMARY_FRACTION * top]
    return min(strong, key=lambda r: (dims.index(r["dimension"]), -sign * r["delta_usd"]))
