"""Calibration of the cost model to what was deployed and billed.

Two things are not in any bill or manifest Headroom reads and are inferred from the metrics:

* the **deployed autoscaler's target** -- the GPU-utilisation target whose simulated replica
  series, over the recorded demand, has the recorded mean number of replicas (a grid of targets
  simulated in one vectorised call; scale-down window and polling stay at the HPA defaults);
* the **spot share** of the node pool -- the share whose per-minute rounding
  (``floor(share x replicas above the commitment + 0.5)``, as the simulator and a weighted
  Karpenter pool do) gives the bill's share of spot hours over the recorded replica series.

The calibration check itself (:class:`CostCalibration`) compares the as-deployed replay's
compute cost with the billed compute cost; everything else the service is billed for (egress,
storage, overhead) is *not modelled* and reported apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from costmodels.capacity import CapacityModel
from costmodels.catalog import InstanceOffer
from costmodels.results import AutoscalingPolicy, PurchaseMix
from costmodels.simulator import simulate_scenarios
from costmodels.slo import request_timeout_s

TARGET_GRID_PCT = tuple(float(x) for x in range(30, 101, 2))
SHARE_GRID = np.round(np.arange(0.0, 1.0001, 0.01), 2)


def infer_target_pct(
    demand_per_min: np.ndarray,
    recorded_replicas_mean: float,
    template: AutoscalingPolicy,
    offer: InstanceOffer,
    capacity: CapacityModel,
    slo_p95_ms: float,
    *,
    random_state: int | None = 0,
    minutes_compared: np.ndarray | None = None,
) -> tuple[float, float]:
    """(GPU-utilisation target %, simulated mean ready replicas) closest to the recorded mean.

    ``template`` supplies everything but the metric and target (replica bounds, windows).
    ``minutes_compared`` (bool per demand minute; default all): the minutes the recorded mean
    is taken over -- minutes of an anomaly (a runaway scale-out pinned by hand) are not the
    autoscaler's doing and would bias the target. Ties go to the higher target (the cheaper
    reading)."""
    if not recorded_replicas_mean > 0:
        return template.target, 0.0
    policies = [
        dataclasses.replace(template, metric="gpu_utilisation", target=t) for t in TARGET_GRID_PCT
    ]
    n = len(policies)
    results = simulate_scenarios(
        [demand_per_min] * n,
        policies,
        [PurchaseMix()] * n,
        [offer] * n,
        [capacity] * n,
        [slo_p95_ms] * n,
        random_state=random_state,
        keep_series=True,
        request_timeout_s=request_timeout_s(slo_p95_ms),
    )
    keep = (
        np.ones(len(demand_per_min), bool)
        if minutes_compared is None or not np.any(minutes_compared)
        else np.asarray(minutes_compared, bool)
    )
    means = np.array([float(np.mean(np.asarray(r.replicas)[keep])) for r in results])
    err = np.abs(means - recorded_replicas_mean)
    best = int(np.flatnonzero(err <= err.min() + 1e-9)[-1])
    return TARGET_GRID_PCT[best], float(means[best])


def infer_spot_share(
    replicas_per_step: np.ndarray, committed: int, spot_hours: float, ondemand_hours: float
) -> float:
    """The pool's configured spot share from the bill's spot / on-demand hours and the
    recorded replicas (whole replicas per step, equal steps). 0 when the bill has no spot."""
    if spot_hours <= 0:
        return 0.0
    if ondemand_hours <= 0:
        return 1.0
    over = np.maximum(np.rint(np.asarray(replicas_per_step, float)) - committed, 0.0)
    if over.sum() <= 0:
        return round(spot_hours / (spot_hours + ondemand_hours), 2)
    observed = spot_hours / (spot_hours + ondemand_hours)
    predicted = np.floor(SHARE_GRID[:, None] * over[None, :] + 0.5).sum(1) / over.sum()
    return float(SHARE_GRID[int(np.argmin(np.abs(predicted - observed)))])


@dataclass(frozen=True)
class CostCalibration:
    """Billed against simulated compute for one service over its evidence window (monthly =
    per 730-hour month over the days compared; SLO attainments as fractions 0-1)."""

    service: str
    days_compared: int
    days_excluded: tuple[str, ...]
    billed_compute_monthly_usd: float
    simulated_compute_monthly_usd: float
    billed_other_monthly_usd: float
    observed_slo_attainment: float | None
    simulated_slo_attainment: float | None
    billed_shared_monthly_usd: float = 0.0  # shared-node share: billed, not modelled

    @property
    def cost_error_pct(self) -> float | None:
        """(simulated - billed) / billed compute, percent."""
        b = self.billed_compute_monthly_usd
        return None if b <= 0 else 100.0 * (self.simulated_compute_monthly_usd - b) / b

    @property
    def slo_gap(self) -> float | None:
        """|simulated - observed| SLO attainment (fraction; 0.02 = 2 points)."""
        if self.observed_slo_attainment is None or self.simulated_slo_attainment is None:
            return None
        return abs(self.simulated_slo_attainment - self.observed_slo_attainment)

    @property
    def residual_monthly_usd(self) -> float:
        """Billed compute the model does not reproduce (billed - simulated)."""
        return self.billed_compute_monthly_usd - self.simulated_compute_monthly_usd

    def calibrated(self, max_cost_error_pct: float, max_slo_gap: float) -> bool:
        err = self.cost_error_pct
        gap = self.slo_gap
        return bool(  # a plain bool: it is stored in JSON (numpy's bool_ is not serialisable)
            err is not None
            and abs(err) <= max_cost_error_pct
            and (gap is None or gap <= max_slo_gap)
        )
