"""The per-service decision of a plan, as frozen dataclasses the renderers consume.

A ``PlanDecision`` says how one service's deployment should run: which GPU
instance types (or MIG slice), how many replicas, what metric drives the
autoscaler and how fast it may move, how much of the capacity may be spot, and
which commitments to buy. It is deliberately free of Django so the renderers
(KEDA, HPA, Karpenter, GitOps bundle, AWS Application Auto Scaling) are pure
functions that tests can call directly.

Units are in the field names: ``*_seconds`` are seconds, ``*_usd`` US dollars,
``*_share`` a fraction in [0, 1]. ``validate()`` raises ``DecisionError`` that
names the service and the field, so a bad plan never reaches an exporter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from planner.plans.errors import DecisionError

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CRON_FIELDS = 5
CAPACITY_TYPES = ("spot", "on-demand", "reserved")
PROVIDERS = ("aws", "azure", "gcp")
QUEUE_KINDS = ("rabbitmq", "redis", "aws-sqs")


@dataclass(frozen=True)
class ScalingPolicy:
    """One HPA scaling policy: move at most ``value`` pods (or percent) per period."""

    type: Literal["Pods", "Percent"]
    value: int
    period_seconds: int


@dataclass(frozen=True)
class ScalingRules:
    """HPA behaviour for one direction (scale-up or scale-down)."""

    stabilization_window_seconds: int
    policies: tuple[ScalingPolicy, ...] = ()
    select_policy: Literal["Max", "Min", "Disabled"] = "Max"


@dataclass(frozen=True)
class PrometheusMetric:
    """Scale on a PromQL query: desired replicas = ceil(query value / threshold)."""

    server_address: str
    query: str
    threshold: float
    activation_threshold: float | None = None
    metric_name: str = "headroom_load"


@dataclass(frozen=True)
class QueueMetric:
    """Scale a queue-fed service on backlog: ``target_length_per_replica`` messages each.

    ``kind`` is ``rabbitmq`` (``connection_env`` holds the AMQP URL env var),
    ``redis`` (a Redis list; ``address`` host:port) or ``aws-sqs`` (``queue_url``
    and ``aws_region``).
    """

    kind: Literal["rabbitmq", "redis", "aws-sqs"]
    queue_name: str
    target_length_per_replica: int
    address: str = ""
    connection_env: str = ""
    queue_url: str = ""
    aws_region: str = ""
    auth_ref: str = ""


@dataclass(frozen=True)
class ScheduleWindow:
    """Pre-scale for a time-of-day window (from the demand forecast).

    ``start_cron``/``end_cron`` are 5-field cron expressions evaluated in
    ``timezone`` (IANA name); between them at least ``desired_replicas`` run.
    """

    name: str
    timezone: str
    start_cron: str
    end_cron: str
    desired_replicas: int


@dataclass(frozen=True)
class CommitmentPurchase:
    """A commitment to buy (savings plan, reserved instance, committed-use discount)."""

    kind: Literal["savings_plan", "reserved_instance", "committed_use"]
    instance_type: str
    quantity: int
    term_months: int
    hourly_commitment_usd: float
    expected_monthly_savings_usd: float
    payment_option: str = "no_upfront"


@dataclass(frozen=True)
class AwsScalingTarget:
    """Where the plan applies through AWS Application Auto Scaling.

    ``resource_kind`` ``sagemaker-variant`` takes ``resource_id``
    ``endpoint/<endpoint>/variant/<variant>``; ``ecs-service`` takes
    ``service/<cluster>/<service>``. Target tracking keeps ``predefined_metric``
    (e.g. ``SageMakerVariantInvocationsPerInstance``) at ``target_value``.
    """

    resource_kind: Literal["sagemaker-variant", "ecs-service"]
    resource_id: str
    predefined_metric: str
    target_value: float
    scale_in_cooldown_seconds: int = 300
    scale_out_cooldown_seconds: int = 60
    region: str = "us-east-1"


@dataclass(frozen=True)
class PlanDecision:
    """How one service's deployment should run under a plan.

    ``min_replicas`` is the floor the load needs; ``warm_pool_replicas`` are
    standby replicas kept on top of it because large models take minutes to
    load (the rendered floor is ``effective_min_replicas``). ``spot_share`` is
    the largest fraction of GPU capacity allowed on spot; ``fallback_replicas``
    is what KEDA holds when the metric source fails.
    """

    service_slug: str
    namespace: str
    cluster: str
    deployment_name: str
    provider: Literal["aws", "azure", "gcp"]
    instance_types: tuple[str, ...]
    min_replicas: int
    max_replicas: int
    metric: PrometheusMetric | QueueMetric
    gpus_per_replica: int = 1
    mig_profile: str = ""
    polling_interval_seconds: int = 30
    cooldown_seconds: int = 300
    scale_up: ScalingRules = field(
        default_factory=lambda: ScalingRules(0, (ScalingPolicy("Pods", 4, 60),))
    )
    scale_down: ScalingRules = field(
        default_factory=lambda: ScalingRules(300, (ScalingPolicy("Percent", 50, 60),))
    )
    warm_pool_replicas: int = 0
    spot_share: float = 0.0
    capacity_types: tuple[str, ...] = ("on-demand",)
    fallback_replicas: int | None = None
    fallback_failure_threshold: int = 3
    schedules: tuple[ScheduleWindow, ...] = ()
    commitments: tuple[CommitmentPurchase, ...] = ()
    expected_monthly_cost_usd: float = 0.0
    slo_attainment: float = 1.0
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = "WhenEmpty"
    consolidate_after: str = "10m"
    disruption_budget_nodes: str = "10%"
    aws_target: AwsScalingTarget | None = None

    @property
    def effective_min_replicas(self) -> int:
        """Rendered floor: the load's minimum plus the warm pool."""
        return self.min_replicas + self.warm_pool_replicas

    @property
    def max_gpus(self) -> int:
        """GPUs the service may hold at most (max replicas x GPUs per replica)."""
        return self.max_replicas * self.gpus_per_replica

    def as_settings(self) -> dict[str, Any]:
        """Flat, comparable view of every setting (used by plan diffs and drift)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = _plain(value)
        return out

    def validate(self) -> PlanDecision:
        """Check the decision is internally consistent; return self or raise."""
        where = f"decision for service '{self.service_slug}'"

        def bad(field_name: str, problem: str) -> DecisionError:
            return DecisionError(f"{where}: {field_name}: {problem}")

        for name in ("service_slug", "namespace", "deployment_name", "cluster"):
            value = getattr(self, name)
            if not DNS_LABEL.match(value or "") or len(value) > 63:
                raise bad(name, f"{value!r} is not a DNS-1123 label (lower-case a-z, 0-9, '-')")
        if self.provider not in PROVIDERS:
            raise bad("provider", f"{self.provider!r} is not one of {PROVIDERS}")
        if not self.instance_types:
            raise bad("instance_types", "name at least one GPU instance type")
        if self.min_replicas < 0:
            raise bad("min_replicas", "must be >= 0")
        if self.max_replicas < 1 or self.max_replicas < self.effective_min_replicas:
            raise bad(
                "max_replicas",
                f"{self.max_replicas} must be >= 1 and >= min_replicas + warm_pool_replicas "
                f"({self.effective_min_replicas})",
            )
        if self.gpus_per_replica < 1:
            raise bad("gpus_per_replica", "must be >= 1")
        if not 0.0 <= self.spot_share <= 1.0:
            raise bad("spot_share", f"{self.spot_share} is not a fraction in [0, 1]")
        unknown = set(self.capacity_types) - set(CAPACITY_TYPES)
        if unknown or not self.capacity_types:
            raise bad("capacity_types", f"use a non-empty subset of {CAPACITY_TYPES}")
        if self.spot_share > 0 and "spot" not in self.capacity_types:
            raise bad("spot_share", "is > 0 but 'spot' is not in capacity_types")
        if self.spot_share < 1 and set(self.capacity_types) == {"spot"}:
            raise bad("capacity_types", "only 'spot' allowed but spot_share < 1")
        if not 1 <= self.polling_interval_seconds <= 3600:
            raise bad("polling_interval_seconds", "must be within 1..3600")
        if self.cooldown_seconds < 0:
            raise bad("cooldown_seconds", "must be >= 0")
        for direction in ("scale_up", "scale_down"):
            rules: ScalingRules = getattr(self, direction)
            if not 0 <= rules.stabilization_window_seconds <= 3600:
                raise bad(f"{direction}.stabilization_window_seconds", "must be within 0..3600")
            for i, p in enumerate(rules.policies):
                if p.type not in ("Pods", "Percent") or p.value < 1:
                    raise bad(f"{direction}.policies[{i}]", "type Pods|Percent, value >= 1")
                if not 1 <= p.period_seconds <= 1800:
                    raise bad(f"{direction}.policies[{i}].period_seconds", "must be 1..1800")
        if self.fallback_replicas is not None and not (
            0 <= self.fallback_replicas <= self.max_replicas
        ):
            raise bad("fallback_replicas", "must be within 0..max_replicas")
        if isinstance(self.metric, PrometheusMetric):
            if not self.metric.query.strip() or self.metric.threshold <= 0:
                raise bad("metric", "Prometheus metric needs a query and a threshold > 0")
        elif isinstance(self.metric, QueueMetric):
            if self.metric.kind not in QUEUE_KINDS:
                raise bad("metric.kind", f"{self.metric.kind!r} is not one of {QUEUE_KINDS}")
            if self.metric.target_length_per_replica < 1:
                raise bad("metric.target_length_per_replica", "must be >= 1")
            if self.metric.kind == "aws-sqs" and not (
                self.metric.queue_url and self.metric.aws_region
            ):
                raise bad("metric", "aws-sqs needs queue_url and aws_region")
        for i, s in enumerate(self.schedules):
            for cron_name in ("start_cron", "end_cron"):
                if len(getattr(s, cron_name).split()) != CRON_FIELDS:
                    raise bad(
                        f"schedules[{i}].{cron_name}", "needs 5 cron fields (m h dom mon dow)"
                    )
            if not 0 <= s.desired_replicas <= self.max_replicas:
                raise bad(f"schedules[{i}].desired_replicas", "must be within 0..max_replicas")
        if not 0.0 <= self.slo_attainment <= 1.0:
            raise bad("slo_attainment", "is a fraction in [0, 1]")
        return self


def _plain(value: Any) -> Any:
    """Dataclasses/tuples to JSON-friendly dicts/lists for diffing and storage."""
    if hasattr(value, "__dataclass_fields__"):
        d = {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, PrometheusMetric):
            d["source"] = "prometheus"
        elif isinstance(value, QueueMetric):
            d["source"] = "queue"
        return d
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def decision_from_settings(data: dict[str, Any]) -> PlanDecision:
    """Inverse of ``PlanDecision.as_settings`` (rebuilds nested dataclasses)."""
    d = dict(data)
    metric = dict(d["metric"])
    source = metric.pop("source", "prometheus")
    d["metric"] = PrometheusMetric(**metric) if source == "prometheus" else QueueMetric(**metric)
    for direction in ("scale_up", "scale_down"):
        if direction in d:
            r = dict(d[direction])
            r["policies"] = tuple(ScalingPolicy(**p) for p in r.get("policies", []))
            d[direction] = ScalingRules(**r)
    d["instance_types"] = tuple(d.get("instance_types", ()))
    d["capacity_types"] = tuple(d.get("capacity_types", ("on-demand",)))
    d["schedules"] = tuple(ScheduleWindow(**s) for s in d.get("schedules", []))
    d["commitments"] = tuple(CommitmentPurchase(**c) for c in d.get("commitments", []))
    if d.get("aws_target"):
        d["aws_target"] = AwsScalingTarget(**d["aws_target"])
    return PlanDecision(**d)
