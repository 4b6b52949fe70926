"""Root cause of a cost anomaly: which dimension members explain the deviation.

Given cost rows (one per period and member combination, e.g. the daily rollup with columns
date, service, account, region, sku, pricing_category, cost), an anomaly window and a
baseline window, every member of every requested dimension gets

* ``actual_usd``   -- its cost summed over the anomaly window;
* ``expected_usd`` -- its mean cost per period over the baseline window times the number
  of periods in the anomaly window (a period is a distinct timestamp present in the frame
  inside the window; a member absent from a period counts as zero that period);
* ``delta_usd``    -- actual minus expected;
* ``share_of_deviation`` -- delta divided by the total deviation of the whole frame
  (actual total minus expected total), so within one dimension the shares add up to 1.

Members are ranked across all dimensions by how much they push in the direction of the
total deviation (largest share first).  Missing dimension values are reported as the
member ``"(unallocated)"``, never dropped.  Windows are ``(start, end)`` pairs, both ends
inclusive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

UNALLOCATED = "(unallocated)"


@dataclass(frozen=True)
class Contributor:
    """One member's contribution to a cost deviation (USD over the anomaly window)."""

    dimension: str
    member: str
    expected_usd: float
    actual_usd: float
    delta_usd: float
    share_of_deviation: float


def _window_mask(times: pd.Series, window: Sequence, name: str) -> pd.Series:
    if len(window) != 2:
        raise ValueError(f"{name} must be a (start, end) pair, got {window!r}")
    start, end = pd.Timestamp(window[0]), pd.Timestamp(window[1])
    if end < start:
        raise ValueError(f"{name} ends ({end}) before it starts ({start})")
    return (times >= start) & (times <= end)


def rank_contributors(
    frame: pd.DataFrame,
    dimensions: list[str],
    anomaly_window: Sequence,
    baseline_window: Sequence,
    value_col: str = "cost",
    time_col: str = "date",
    top_n: int | None = None,
) -> list[Contributor]:
    """Rank dimension members by their contribution to the deviation of the total.

    ``frame`` needs ``time_col``, ``value_col`` (USD) and every column in ``dimensions``.
    Returns at most ``top_n`` contributors (all when ``None``), best explanation first.
    """
    missing = [c for c in [time_col, value_col, *dimensions] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"frame lacks column(s) {', '.join(missing)} (has: {', '.join(map(str, frame.columns))})"
        )
    if not dimensions:
        raise ValueError("give at least one dimension to rank, e.g. ['service', 'region']")
    times = pd.to_datetime(frame[time_col])
    values = pd.to_numeric(frame[value_col], errors="coerce")
    if values.isna().any():
        bad = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise ValueError(
            f"row {bad}, column {value_col!r}: {frame[value_col].iloc[bad]!r} is not a number"
        )
    in_anomaly = _window_mask(times, anomaly_window, "anomaly_window")
    in_baseline = _window_mask(times, baseline_window, "baseline_window")
    if (in_anomaly & in_baseline).any():
        raise ValueError("anomaly_window and baseline_window overlap; use disjoint windows")
    n_anomaly = times[in_anomaly].nunique()
    n_baseline = times[in_baseline].nunique()
    if n_anomaly == 0 or n_baseline == 0:
        raise ValueError(
            f"no rows inside the {'anomaly' if n_anomaly == 0 else 'baseline'} window; "
            "check the window dates against the frame's time column"
        )
    scale = n_anomaly / n_baseline
    total_delta = float(values[in_anomaly].sum() - values[in_baseline].sum() * scale)
    direction = 1.0 if total_delta >= 0 else -1.0
    contributors: list[Contributor] = []
    for dim in dimensions:
        members = frame[dim].astype(object).where(frame[dim].notna(), UNALLOCATED).astype(str)
        actual = values[in_anomaly].groupby(members[in_anomaly]).sum()
        baseline = values[in_baseline].groupby(members[in_baseline]).sum()
        table = pd.concat([actual.rename("actual"), baseline.rename("baseline")], axis=1)
        table = table.fillna(0.0)
        for member, row in table.iterrows():
            expected = float(row["baseline"] * scale)
            delta = float(row["actual"]) - expected
            share = delta / total_delta if total_delta != 0 else 0.0
            contributors.append(
                Contributor(
                    dimension=dim,
                    member=str(member),
                    expected_usd=expected,
                    actual_usd=float(row["actual"]),
                    delta_usd=delta,
                    share_of_deviation=share,
                )
            )
    contributors.sort(key=lambda c: (-direction * c.delta_usd, c.dimension, c.member))
    return contributors[:top_n] if top_n is not None else contributors
