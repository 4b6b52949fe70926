"""Apply plan decisions to AWS Application Auto Scaling; roll back; detect drift.

For a SageMaker endpoint variant or an ECS service the plan becomes:

* a scalable target with ``MinCapacity`` = the plan's floor (min + warm pool)
  and ``MaxCapacity`` = max replicas;
* one target-tracking policy ``headroom-<slug>-target-tracking`` keeping the
  plan's predefined metric at its target value, with the plan's cooldowns;
* two scheduled actions per time-of-day window (``-start`` raises
  ``MinCapacity`` to the window's replicas, ``-end`` restores the floor),
  with the 5-field cron converted to AAS' ``cron(m h dom mon dow year)``.

Only ``headroom-``-prefixed policies and actions are created or deleted;
anything else on the target is reported as drift but left alone. All network
calls go through :class:`planner.plans.aws_client.ApplicationAutoScalingClient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from planner.plans.errors import AwsApplyError

from .aws_client import ApplicationAutoScalingClient
from .exports.decision import AwsScalingTarget, PlanDecision

MANAGED_PREFIX = "headroom-"
DIMENSIONS = {
    "sagemaker-variant": ("sagemaker", "sagemaker:variant:DesiredInstanceCount"),
    "ecs-service": ("ecs", "ecs:service:DesiredCount"),
}
DOW_NAMES = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"]


@dataclass(frozen=True)
class TargetTrackingPolicy:
    name: str
    predefined_metric: str
    target_value: float
    scale_in_cooldown_seconds: int
    scale_out_cooldown_seconds: int


@dataclass(frozen=True)
class ScheduledAction:
    name: str
    schedule: str
    timezone: str
    min_capacity: int
    max_capacity: int


@dataclass(frozen=True)
class AwsTargetState:
    """What one scalable target looks like (desired from a plan, or as described)."""

    service_slug: str
    namespace: str
    resource_id: str
    dimension: str
    min_capacity: int
    max_capacity: int
    policies: tuple[TargetTrackingPolicy, ...] = ()
    scheduled_actions: tuple[ScheduledAction, ...] = ()


@dataclass(frozen=True)
class FieldDelta:
    """One difference between AWS (``actual``) and the plan (``planned``)."""

    service_slug: str
    resource_id: str
    field: str
    actual: Any
    planned: Any

    def __str__(self) -> str:
        return f"{self.resource_id} {self.field}: {self.actual!r} -> {self.planned!r}"


@dataclass(frozen=True)
class ApplyResult:
    """What an apply changed and the state before it (for an exact restore)."""

    changes: tuple[FieldDelta, ...]
    before: tuple[tuple[AwsScalingTarget, str, AwsTargetState | None], ...]


def aws_cron(expr: str) -> str:
    """5-field cron (dow 0-7, 0/7 = Sunday) -> AAS ``cron(m h dom mon dow *)``.

    >>> aws_cron("0 8 * * 1-5")
    'cron(0 8 ? * MON-FRI *)'
    >>> aws_cron("30 6 1 * *")
    'cron(30 6 1 * ? *)'
    """
    minute, hour, dom, month, dow = expr.split()
    if dow == "*":
        dow = "?"
    else:
        if dom != "*":
            raise AwsApplyError(f"cron {expr!r}: AWS cannot restrict both day-of-month and weekday")
        dom = "?"
        parts = []
        for item in dow.split(","):
            ends = item.split("-")
            if not all(e.isdigit() and 0 <= int(e) <= 7 for e in ends):
                raise AwsApplyError(f"cron {expr!r}: weekday {item!r} must be 0-7 or a range")
            parts.append("-".join(DOW_NAMES[int(e)] for e in ends))
        dow = ",".join(parts)
    return f"cron({minute} {hour} {dom} {month} {dow} *)"


def desired_state(decision: PlanDecision) -> AwsTargetState:
    """The scalable target, policy and scheduled actions a decision asks for."""
    t = decision.aws_target
    if t is None:
        raise AwsApplyError(f"service '{decision.service_slug}' has no AWS scaling target")
    if t.resource_kind not in DIMENSIONS:
        raise AwsApplyError(f"service '{decision.service_slug}': unknown kind {t.resource_kind}")
    namespace, dimension = DIMENSIONS[t.resource_kind]
    prefix = f"{MANAGED_PREFIX}{decision.service_slug}"
    floor, ceiling = decision.effective_min_replicas, decision.max_replicas
    actions: list[ScheduledAction] = []
    for w in decision.schedules:
        actions.append(
            ScheduledAction(
                f"{prefix}-{w.name}-start",
                aws_cron(w.start_cron),
                w.timezone,
                max(floor, w.desired_replicas),
                ceiling,
            )
        )
        actions.append(
            ScheduledAction(
                f"{prefix}-{w.name}-end", aws_cron(w.end_cron), w.timezone, floor, ceiling
            )
        )
    policy = TargetTrackingPolicy(
        f"{prefix}-target-tracking",
        t.predefined_metric,
        float(t.target_value),
        t.scale_in_cooldown_seconds,
        t.scale_out_cooldown_seconds,
    )
    return AwsTargetState(
        decision.service_slug,
        namespace,
        t.resource_id,
        dimension,
        floor,
        ceiling,
        (policy,),
        tuple(sorted(actions, key=lambda a: a.name)),
    )


def read_state(
    client: ApplicationAutoScalingClient,
    slug: str,
    namespace: str,
    resource_id: str,
    dimension: str,
) -> AwsTargetState | None:
    """Describe one target with its target-tracking policies and scheduled actions."""
    target = client.describe_scalable_target(namespace, resource_id, dimension)
    if target is None:
        return None
    policies = []
    for p in client.describe_scaling_policies(namespace, resource_id, dimension):
        cfg = p.get("TargetTrackingScalingPolicyConfiguration") or {}
        metric = (cfg.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType", "")
        policies.append(
            TargetTrackingPolicy(
                p["PolicyName"],
                metric,
                float(cfg.get("TargetValue", 0.0)),
                int(cfg.get("ScaleInCooldown", 0)),
                int(cfg.get("ScaleOutCooldown", 0)),
            )
        )
    actions = []
    for a in client.describe_scheduled_actions(namespace, resource_id, dimension):
        act = a.get("ScalableTargetAction") or {}
        actions.append(
            ScheduledAction(
                a["ScheduledActionName"],
                a.get("Schedule", ""),
                a.get("Timezone", "UTC"),
                int(act.get("MinCapacity", -1)),
                int(act.get("MaxCapacity", -1)),
            )
        )
    return AwsTargetState(
        slug,
        namespace,
        resource_id,
        dimension,
        int(target["MinCapacity"]),
        int(target["MaxCapacity"]),
        tuple(sorted(policies, key=lambda p: p.name)),
        tuple(sorted(actions, key=lambda a: a.name)),
    )


def compare(actual: AwsTargetState | None, planned: AwsTargetState) -> list[FieldDelta]:
    """Every field where AWS differs from the plan (empty list = in sync)."""
    slug, rid = planned.service_slug, planned.resource_id

    def delta(field: str, a: Any, p: Any) -> FieldDelta:
        return FieldDelta(slug, rid, field, a, p)

    if actual is None:
        return [
            delta("scalable_target", None, f"min={planned.min_capacity} max={planned.max_capacity}")
        ]
    out = []
    for name in ("min_capacity", "max_capacity"):
        if getattr(actual, name) != getattr(planned, name):
            out.append(delta(name, getattr(actual, name), getattr(planned, name)))
    for kind in ("policies", "scheduled_actions"):
        have = {x.name: x for x in getattr(actual, kind)}
        want = {x.name: x for x in getattr(planned, kind)}
        for name in sorted(set(have) | set(want)):
            a, p = have.get(name), want.get(name)
            if a == p:
                continue
            if a is not None and p is not None:
                for f in a.__dataclass_fields__:
                    if getattr(a, f) != getattr(p, f):
                        out.append(delta(f"{kind}[{name}].{f}", getattr(a, f), getattr(p, f)))
            elif p is None and not name.startswith(MANAGED_PREFIX):
                out.append(delta(f"{kind}[{name}]", "present (not managed by Headroom)", None))
            else:
                out.append(delta(f"{kind}[{name}]", a and "present", p and "present"))
    return out


def _write(
    client: ApplicationAutoScalingClient, actual: AwsTargetState | None, s: AwsTargetState
) -> None:
    """Make AWS match ``s`` (only Headroom-managed policies/actions are removed)."""
    key = (s.namespace, s.resource_id, s.dimension)
    client.register_scalable_target(*key, s.min_capacity, s.max_capacity)
    keep_p = {p.name for p in s.policies}
    keep_a = {a.name for a in s.scheduled_actions}
    if actual is not None:
        for p in actual.policies:
            if p.name.startswith(MANAGED_PREFIX) and p.name not in keep_p:
                client.delete_scaling_policy(*key, p.name)
        for a in actual.scheduled_actions:
            if a.name.startswith(MANAGED_PREFIX) and a.name not in keep_a:
                client.delete_scheduled_action(*key, a.name)
    for p in s.policies:
        client.put_target_tracking_policy(
            *key,
            p.name,
            {
                "TargetValue": p.target_value,
                "PredefinedMetricSpecification": {"PredefinedMetricType": p.predefined_metric},
                "ScaleInCooldown": p.scale_in_cooldown_seconds,
                "ScaleOutCooldown": p.scale_out_cooldown_seconds,
            },
        )
    for a in s.scheduled_actions:
        client.put_scheduled_action(
            *key, a.name, a.schedule, a.timezone, a.min_capacity, a.max_capacity
        )


def _remove(client: ApplicationAutoScalingClient, actual: AwsTargetState) -> None:
    key = (actual.namespace, actual.resource_id, actual.dimension)
    for p in actual.policies:
        if p.name.startswith(MANAGED_PREFIX):
            client.delete_scaling_policy(*key, p.name)
    for a in actual.scheduled_actions:
        if a.name.startswith(MANAGED_PREFIX):
            client.delete_scheduled_action(*key, a.name)
    if not any(not p.name.startswith(MANAGED_PREFIX) for p in actual.policies):
        client.deregister_scalable_target(*key)


def aws_decisions(decisions: Sequence[PlanDecision]) -> list[PlanDecision]:
    return [d for d in decisions if d.aws_target is not None]


def _read_for(client: ApplicationAutoScalingClient, s: AwsTargetState) -> AwsTargetState | None:
    return read_state(client, s.service_slug, s.namespace, s.resource_id, s.dimension)


def apply_plan(
    client: ApplicationAutoScalingClient, decisions: Sequence[PlanDecision], dry_run: bool = False
) -> ApplyResult:
    """Make AWS match the plan; return what changed and the state before."""
    wanted = [desired_state(d) for d in aws_decisions(decisions)]
    changes: list[FieldDelta] = []
    before = []
    for s, d in zip(wanted, aws_decisions(decisions), strict=True):
        actual = _read_for(client, s)
        delta = compare(actual, s)
        changes += delta
        before.append((d.aws_target, d.service_slug, actual))
        if delta and not dry_run:
            _write(client, actual, s)
    return ApplyResult(tuple(changes), tuple(before))  # type: ignore[arg-type]


def restore(client: ApplicationAutoScalingClient, result: ApplyResult) -> list[FieldDelta]:
    """Put every target back exactly as ``result.before`` recorded it."""
    changes: list[FieldDelta] = []
    for target, slug, previous in result.before:
        namespace, dimension = DIMENSIONS[target.resource_kind]
        now = read_state(client, slug, namespace, target.resource_id, dimension)
        if previous is None:
            if now is not None:
                changes.append(
                    FieldDelta(slug, target.resource_id, "scalable_target", "present", None)
                )
                _remove(client, now)
            continue
        previous = replace(previous, service_slug=slug)
        delta = compare(now, previous)
        if delta:
            changes += delta
            _write(client, now, previous)
    return changes


def rollback_to_plan(
    client: ApplicationAutoScalingClient,
    previous: Sequence[PlanDecision],
    current: Sequence[PlanDecision],
) -> list[FieldDelta]:
    """Apply the previous plan's settings; remove targets only the current plan added."""
    changes = list(apply_plan(client, previous).changes)
    kept = {desired_state(d).resource_id for d in aws_decisions(previous)}
    for d in aws_decisions(current):
        s = desired_state(d)
        if s.resource_id in kept:
            continue
        now = _read_for(client, s)
        if now is not None:
            changes.append(
                FieldDelta(s.service_slug, s.resource_id, "scalable_target", "present", None)
            )
            _remove(client, now)
    return changes


def detect_drift(
    client: ApplicationAutoScalingClient, decisions: Sequence[PlanDecision]
) -> list[FieldDelta]:
    """Where AWS differs from the (applied) plan: ``actual`` vs ``planned``."""
    drift: list[FieldDelta] = []
    for d in aws_decisions(decisions):
        s = desired_state(d)
        drift += compare(_read_for(client, s), s)
    return drift
