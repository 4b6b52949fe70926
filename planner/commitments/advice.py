"""Renew / resize / let-expire advice for one commitment, from the planning engine's
commitment model (:mod:`costmodels.commitment`).

Units: everything is per hour. The commitment's scope (the SKUs and regions it applied to, or
the services for a spend-based plan) has an eligible demand ``d_t``: the on-demand-equivalent
(list) cost of the usage it could cover in hour ``t`` divided by the list unit price, i.e.
instance-hours for a usage-based commitment and list-dollars for a spend-based one (unit
price 1). Under the commitment one unit costs ``r × p`` where ``r`` is the discount ratio
actually billed (effective cost of the covered usage / its list cost); above it usage is
billed at the list price ``p``. The current level ``L`` is what was paid for, used or not:
``(used + unused effective cost) / (r × p) / hours``. The recommended level minimises

    f(L) = n·r·p·L + Σ_t p·max(d_t − L, 0)

exactly (``optimal_commitment_level(method="exact")``; whole units for usage-based
commitments). Costs are scaled to 30 days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from costmodels.commitment import commitment_cost, optimal_commitment_level

HOURS_PER_30_DAYS = 720.0
#: Within this relative distance of the current level a renewal keeps the size.
KEEP_SIZE_TOLERANCE = 0.10


class Action:
    RENEW = "renew as is"
    RESIZE_UP = "renew larger"
    RESIZE_DOWN = "renew smaller"
    LET_EXPIRE = "let expire"


@dataclass(frozen=True)
class CommitmentAdvice:
    action: str
    unit: str
    current_units_per_hour: float
    recommended_units_per_hour: float
    discount_ratio: float
    evidence_hours: int
    cost_current_per_30d: float
    cost_recommended_per_30d: float
    savings_per_30d: float

    @property
    def text(self) -> str:
        if self.action == Action.RENEW:
            return f"Renew at the same size ({self.current_units_per_hour:,.2f} {self.unit}/h)."
        if self.action == Action.LET_EXPIRE:
            return "Let it expire: the usage it covers no longer pays for a commitment."
        return (
            f"Renew at {self.recommended_units_per_hour:,.2f} {self.unit}/h instead of "
            f"{self.current_units_per_hour:,.2f}: {self.savings_per_30d:,.2f} less per 30 days."
        )


def advise(
    eligible_list_cost_per_hour: np.ndarray,
    eligible_quantity: float,
    used_effective_cost: float,
    unused_effective_cost: float,
    covered_list_cost: float,
    *,
    spend_based: bool,
    unit: str = "units",
) -> CommitmentAdvice | None:
    """Advice from one evidence window (see the module docstring); ``None`` when the window
    shows no covered usage (no discount ratio can be measured)."""
    d_list = np.asarray(eligible_list_cost_per_hour, dtype=float)
    n = d_list.size
    if n == 0 or covered_list_cost <= 0 or used_effective_cost <= 0:
        return None
    ratio = used_effective_cost / covered_list_cost
    total_list = float(d_list.sum())
    if spend_based or eligible_quantity <= 0 or total_list <= 0:
        price, unit = 1.0, ("list $" if spend_based else unit)
    else:
        price = total_list / eligible_quantity
    demand = d_list / price
    commit_price = ratio * price
    current = (used_effective_cost + unused_effective_cost) / commit_price / n
    best = optimal_commitment_level(
        demand, commit_price, price, method="exact", integer=not spend_based
    )
    scale = HOURS_PER_30_DAYS / n
    cost_now = commitment_cost(demand, current, commit_price, price) * scale
    cost_best = commitment_cost(demand, best, commit_price, price) * scale
    if best <= 0:
        action = Action.LET_EXPIRE
    elif abs(best - current) <= KEEP_SIZE_TOLERANCE * current:
        action, best, cost_best = Action.RENEW, current, cost_now
    else:
        action = Action.RESIZE_UP if best > current else Action.RESIZE_DOWN
    return CommitmentAdvice(
        action=action,
        unit=unit,
        current_units_per_hour=float(current),
        recommended_units_per_hour=float(best),
        discount_ratio=float(ratio),
        evidence_hours=int(n),
        cost_current_per_30d=float(cost_now),
        cost_recommended_per_30d=float(cost_best),
        savings_per_30d=float(cost_now - cost_best),
    )
