"""Inputs and results of the cost models as frozen dataclasses (units in field names)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import numpy as np

from costmodels.catalog import HOURS_PER_MONTH

METRICS = ("requests_per_replica", "concurrency", "gpu_utilisation", "queue_length")
COST_CATEGORIES = ("committed", "ondemand", "spot", "warm_pool")
MINUTES_PER_MONTH = HOURS_PER_MONTH * 60.0


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


@dataclass(frozen=True)
class AutoscalingPolicy:
    """KEDA / HPA-style autoscaling policy.

    ``metric`` and ``target`` (per replica):

    * ``requests_per_replica`` -- requests per second per replica (KEDA Prometheus trigger);
    * ``concurrency`` -- requests in flight per replica;
    * ``gpu_utilisation`` -- busy percentage 0-100 (DCGM ``GPU_UTIL``);
    * ``queue_length`` -- requests queued or in flight per replica (KEDA queue scalers).

    HPA semantics: desired = ceil(metric total / target) within [min, max], unless the usage
    ratio (metric total / target) / current replicas is within 1 +- ``tolerance`` (then
    nothing changes; the ratio is taken before rounding, as the HPA does); scale-up uses the lowest and scale-down the highest
    recommendation of the stabilisation window; ``cooldown_s`` is the minimum time after
    any scaling event before a scale-down; at most ``max_scale_up_replicas_per_min`` are
    added per minute. ``warm_pool`` instances are kept initialised but stopped, cost
    ``warm_pool_cost_fraction`` of the on-demand price and start in the capacity model's
    ``warm_start_s`` instead of a cold start. All times are seconds, applied at 1-minute
    resolution (rounded up to whole minutes; polling acts as metric staleness).
    ``tolerance`` applies to both directions unless ``scale_out_tolerance`` is given
    (AWS target tracking scales out as soon as the metric exceeds its target: 0, and in
    only 10 % below it). For ``queue_length``, the requests still queued one polling
    interval ago count with those in flight (one metric, e.g. vLLM's running + waiting
    requests); the queued part is read outside the stabilisation window.
    """

    metric: str = "requests_per_replica"
    target: float = 10.0
    min_replicas: int = 1
    max_replicas: int = 10
    polling_interval_s: float = 30.0
    scale_up_stabilisation_s: float = 0.0
    scale_down_stabilisation_s: float = 300.0
    cooldown_s: float = 300.0
    max_scale_up_replicas_per_min: int = 4
    warm_pool: int = 0
    warm_pool_cost_fraction: float = 0.1
    tolerance: float = 0.1
    scale_out_tolerance: float | None = None

    def __post_init__(self) -> None:
        _check(
            self.metric in METRICS, f"policy metric must be one of {METRICS}, got {self.metric!r}"
        )
        _check(self.target > 0, f"policy target must be > 0, got {self.target!r}")
        _check(
            0 <= self.min_replicas <= self.max_replicas,
            f"policy needs 0 <= min_replicas <= max_replicas, got {self.min_replicas}, {self.max_replicas}",
        )
        for name in (
            "polling_interval_s",
            "scale_up_stabilisation_s",
            "scale_down_stabilisation_s",
            "cooldown_s",
            "warm_pool_cost_fraction",
            "tolerance",
        ):
            _check(getattr(self, name) >= 0, f"policy {name} must be >= 0")
        _check(
            self.max_scale_up_replicas_per_min >= 1,
            "policy max_scale_up_replicas_per_min must be >= 1",
        )
        _check(self.warm_pool >= 0, "policy warm_pool must be >= 0")
        _check(
            self.scale_out_tolerance is None or self.scale_out_tolerance >= 0,
            "policy scale_out_tolerance must be >= 0 (or None: same as tolerance)",
        )

    @property
    def label(self) -> str:
        wp = f", warm pool {self.warm_pool}" if self.warm_pool else ""
        return (
            f"{self.metric}={self.target:g}, replicas {self.min_replicas}-{self.max_replicas}, "
            f"poll {self.polling_interval_s:g}s, up/down window {self.scale_up_stabilisation_s:g}/"
            f"{self.scale_down_stabilisation_s:g}s{wp}"
        )


@dataclass(frozen=True)
class PurchaseMix:
    """How replicas are bought: ``committed_replicas`` always-on commitment (1y or 3y term,
    billed whether used or not); of the replicas above it, ``spot_share`` (0-1) on spot and
    the rest on-demand."""

    committed_replicas: int = 0
    spot_share: float = 0.0
    commitment_term: str = "1y"

    def __post_init__(self) -> None:
        _check(self.committed_replicas >= 0, "committed_replicas must be >= 0")
        _check(
            0.0 <= self.spot_share <= 1.0, f"spot_share must be in [0, 1], got {self.spot_share}"
        )
        _check(self.commitment_term in ("1y", "3y"), "commitment_term must be '1y' or '3y'")


@dataclass(frozen=True, eq=False)
class SimulationResult:
    """One policy x mix over a demand trace. Costs in USD over the trace; per-minute arrays
    ``replicas`` (ready, serving) and ``p95_latency_ms`` for charts (empty when simulated
    with ``keep_series=False``); ``running_replicas_histogram[k]`` = minutes with ``k``
    instances running (billed: ready or starting). ``slo_attainment`` = share of minutes
    whose p95 is within ``slo_p95_ms`` (minutes without requests count as met)."""

    policy: AutoscalingPolicy
    mix: PurchaseMix
    minutes: int
    cost_usd_by_category: dict[str, float]
    total_cost_usd: float
    slo_p95_ms: float
    slo_attainment: float
    requests: float
    dropped_requests: float
    queued_requests: float
    replica_minutes: float
    cold_starts: int
    spot_interruptions: int
    replicas: np.ndarray = field(repr=False)
    p95_latency_ms: np.ndarray = field(repr=False)
    demand_per_min: np.ndarray = field(repr=False)
    running_replicas_histogram: np.ndarray = field(
        repr=False, default_factory=lambda: np.zeros(0, np.int64)
    )

    def running_replicas_usage(self) -> np.ndarray:
        """Running (billed) replicas per minute, sorted ascending -- the usage distribution
        that commitment sizing needs (``optimal_commitment_level`` of it)."""
        h = self.running_replicas_histogram
        return np.repeat(np.arange(h.size), h)

    def summary(self) -> dict:
        """JSON-ready scalars (policy and mix as dicts, no per-minute arrays)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.repr}
        out["policy"], out["mix"] = asdict(self.policy), asdict(self.mix)
        out["monthly_cost_usd"] = self.monthly_cost_usd
        out["request_weighted_p95_latency_ms"] = self.request_weighted_p95_latency_ms
        return out

    def series(self) -> dict[str, list]:
        """Per-minute arrays as lists, for charts (empty if simulated without series)."""
        return {
            "demand_per_min": np.asarray(self.demand_per_min).tolist(),
            "replicas": np.asarray(self.replicas).tolist(),
            "p95_latency_ms": np.asarray(self.p95_latency_ms, float).tolist(),
        }

    @property
    def monthly_cost_usd(self) -> float:
        """Total cost scaled from the trace length to a 730-hour month."""
        return self.total_cost_usd * MINUTES_PER_MONTH / self.minutes

    @property
    def request_weighted_p95_latency_ms(self) -> float:
        """95th percentile over requests of their minute's p95 (an upper-bound summary)."""
        w = np.asarray(self.demand_per_min, float)
        if w.sum() <= 0:
            return 0.0
        order = np.argsort(self.p95_latency_ms, kind="stable")
        cum = np.cumsum(w[order]) / w.sum()
        return float(self.p95_latency_ms[order][np.searchsorted(cum, 0.95)])


@dataclass(frozen=True)
class RightsizingRecommendation:
    """Right-sizing advice for one deployment, from usage percentiles over the lookback."""

    refused: bool
    reason: str
    current_instance_type: str
    recommended_instance_type: str | None
    recommended_gpu_model: str | None
    recommended_mig_profile: str | None
    min_replicas: int | None
    max_replicas: int | None
    current_monthly_cost_usd: float
    recommended_monthly_cost_usd: float | None
    monthly_savings_usd: float
    confidence: float
    evidence_window: tuple[str, str]
    evidence_hours: float
    percentiles: dict[str, float] = field(default_factory=dict)
