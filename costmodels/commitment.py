"""How much capacity to commit to (reserved instances, savings plans, committed-use discounts).

A commitment of ``L`` units costs ``commit_price`` per unit and period whether used or not;
usage above it is billed at the overflow price (on-demand, or a spot/on-demand blend).
Over ``n`` periods of usage ``d_t`` the cost is

    f(L) = n * c * L + sum_t p_t * max(d_t - L, 0)

which is convex and piecewise linear in ``L`` with breakpoints at the usage values.

* **Quantile rule** (flexible usage, one overflow price ``o``): the optimum is the usage
  quantile at ``1 - c / o`` -- commit to a unit when it is used in more than ``c / o`` of
  the periods. ``c >= o`` means commit nothing.
* **Exact method** (general case: overflow prices that vary by period, e.g. a spot blend
  or time-of-day prices, and whole-unit commitments): sort usage descending and take the
  first breakpoint where the overflow cost saved by committing one more unit,
  ``sum of p_t over periods with d_t > L``, no longer exceeds ``n * c``. O(n log n).
"""

from __future__ import annotations

import math

import numpy as np


def _as_usage(demand: np.ndarray) -> np.ndarray:
    d = np.asarray(demand, dtype=float).ravel()
    if d.size == 0:
        raise ValueError("commitment: usage series is empty")
    bad = np.flatnonzero(~np.isfinite(d) | (d < 0))
    if bad.size:
        raise ValueError(f"commitment: usage[{bad[0]}] = {d[bad[0]]!r} is not a number >= 0")
    return d


def commitment_cost(
    demand: np.ndarray, level: float, commit_price: float, overflow_price: float | np.ndarray
) -> float:
    """Total cost of committing ``level`` units over the usage series (same units as prices)."""
    d = _as_usage(demand)
    p = np.broadcast_to(np.asarray(overflow_price, float), d.shape)
    return float(d.size * commit_price * level + np.sum(p * np.maximum(d - level, 0.0)))


def optimal_commitment_level(
    demand: np.ndarray,
    commit_price: float,
    ondemand_price: float,
    *,
    method: str = "quantile",
    overflow_price: np.ndarray | None = None,
    integer: bool = False,
) -> float:
    """Commitment level (units of ``demand``) minimising commitment + overflow cost.

    ``demand``: usage per period (e.g. replicas running each minute); prices per unit and
    period. ``method='quantile'`` applies the quantile rule with overflow at
    ``ondemand_price``; ``method='exact'`` minimises exactly, with ``overflow_price`` per
    period if given (else ``ondemand_price``). ``integer=True`` returns whole units.

    >>> optimal_commitment_level([1, 2, 2, 3, 5], commit_price=0.6, ondemand_price=1.0)
    2.0
    """
    d = _as_usage(demand)
    if commit_price < 0 or ondemand_price <= 0:
        raise ValueError("commitment: need commit_price >= 0 and ondemand_price > 0")
    if method == "quantile":
        if overflow_price is not None:
            raise ValueError(
                "commitment: the quantile rule needs one overflow price; use method='exact'"
            )
        level = _quantile_rule(d, commit_price, ondemand_price)
        p = np.full(d.shape, float(ondemand_price))
    elif method == "exact":
        p = (
            np.full(d.shape, float(ondemand_price))
            if overflow_price is None
            else np.asarray(overflow_price, float)
        )
        if p.shape != d.shape or np.any(~np.isfinite(p) | (p < 0)):
            raise ValueError("commitment: overflow_price must be finite, >= 0 and one per period")
        level = _exact(d, commit_price, p)
    else:
        raise ValueError(f"commitment: method must be 'quantile' or 'exact', got {method!r}")
    if integer:
        lo, hi = math.floor(level), math.ceil(level)
        level = min((lo, hi), key=lambda x: (commitment_cost(d, x, commit_price, p), x))
    return float(level)


def _quantile_rule(d: np.ndarray, c: float, o: float) -> float:
    if c >= o:
        return 0.0
    n = d.size
    k = math.ceil(n * c / o - 1e-12)  # periods that must use a unit for it to pay off
    if k <= 0:
        return float(d.max())
    return float(np.sort(d)[::-1][k - 1])


def _exact(d: np.ndarray, c: float, p: np.ndarray) -> float:
    order = np.argsort(-d, kind="stable")
    saved = np.cumsum(p[order])  # overflow price saved per extra unit above each breakpoint
    k = int(np.searchsorted(saved, d.size * c - 1e-12, side="left"))  # first k with saved >= n c
    return 0.0 if k >= d.size else float(d[order][k])
