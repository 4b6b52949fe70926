"""Plan business rules: create from decisions, approve, apply/roll back on AWS, diff, drift.

Views stay thin and call these; other apps call :func:`create_plan_from_decisions`
to promote a what-if scenario or a set of recommendations into a draft plan.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import yaml
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from planner.core.models import Deployment, Service
from planner.plans import aws_apply
from planner.plans.aws_client import ApplicationAutoScalingClient
from planner.plans.errors import PlanError
from planner.plans.exports.autoscalers import LiveTargets
from planner.plans.exports.bundle import Bundle, build_bundle
from planner.plans.exports.decision import DecisionError
from planner.plans.exports.decision import PlanDecision as Decision
from planner.plans.exports.diff import PlanDiff, diff_plans, flatten
from planner.plans.models import Plan, PlanDecision, PlanEvent, PlanStatus


def create_plan_from_decisions(
    decisions: Sequence[Decision],
    *,
    name: str,
    created_by=None,
    source_scenario_id: int | None = None,
    notes: str = "",
) -> Plan:
    """Store ``decisions`` as a new draft plan with the next version number.

    Each decision's ``service_slug`` must name an existing ``core.Service``;
    every decision is validated first, so a bad one leaves nothing behind.
    The plan's expected cost is the sum of its decisions' and its SLO
    attainment the worst service's.
    """
    if not decisions:
        raise PlanError("a plan needs at least one decision")
    seen: set[str] = set()
    for d in decisions:
        try:
            d.validate()
        except DecisionError as exc:
            raise PlanError(str(exc)) from exc
        if d.service_slug in seen:
            raise PlanError(f"service '{d.service_slug}' appears twice; one decision per service")
        seen.add(d.service_slug)
    services = {s.slug: s for s in Service.objects.filter(slug__in=seen)}
    missing = sorted(seen - set(services))
    if missing:
        raise PlanError(f"unknown service slug(s): {', '.join(missing)}; create the services first")
    deployments = {dep.name: dep for dep in Deployment.objects.filter(service__slug__in=seen)}
    for _attempt in range(3):
        try:
            with transaction.atomic():
                version = (Plan.objects.aggregate(v=Max("version"))["v"] or 0) + 1
                plan = Plan.objects.create(
                    version=version,
                    name=name,
                    notes=notes,
                    created_by=created_by,
                    source_scenario_id=source_scenario_id,
                    expected_monthly_cost_usd=sum(d.expected_monthly_cost_usd for d in decisions),
                    slo_attainment=min(d.slo_attainment for d in decisions),
                )
                for d in decisions:
                    PlanDecision.objects.create(
                        plan=plan,
                        service=services[d.service_slug],
                        deployment=deployments.get(d.deployment_name),
                        **PlanDecision.fields_from_dataclass(d),
                    )
                PlanEvent.objects.create(
                    plan=plan,
                    kind=PlanEvent.Kind.CREATED,
                    user=created_by,
                    summary=f"{len(decisions)} decision(s)"
                    + (f" from scenario #{source_scenario_id}" if source_scenario_id else ""),
                )
                return plan
        except IntegrityError:  # two plans raced for the same version number
            continue
    raise PlanError("could not allocate a plan version; try again")


def approve_plan(plan: Plan, user) -> Plan:
    """Draft -> approved, recording who and when."""
    with transaction.atomic():
        updated = Plan.objects.filter(pk=plan.pk, status=PlanStatus.DRAFT).update(
            status=PlanStatus.APPROVED, approved_by=user, approved_at=timezone.now()
        )
        if not updated:
            raise PlanError(f"plan v{plan.version} is {plan.status}; only a draft can be approved")
        PlanEvent.objects.create(plan=plan, kind=PlanEvent.Kind.APPROVED, user=user)
    plan.refresh_from_db()
    return plan


def mark_applied(
    plan: Plan,
    user,
    summary: str = "",
    kind: str = PlanEvent.Kind.APPLIED,
    detail: dict[str, Any] | None = None,
) -> Plan:
    """Approved -> applied; the previously applied plan becomes superseded."""
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        if plan.status not in (PlanStatus.APPROVED, PlanStatus.APPLIED, PlanStatus.SUPERSEDED):
            raise PlanError(f"plan v{plan.version} is {plan.status}; approve it first")
        Plan.objects.filter(status=PlanStatus.APPLIED).exclude(pk=plan.pk).update(
            status=PlanStatus.SUPERSEDED
        )
        plan.status, plan.applied_by, plan.applied_at = PlanStatus.APPLIED, user, timezone.now()
        plan.save(update_fields=["status", "applied_by", "applied_at"])
        PlanEvent.objects.create(
            plan=plan, kind=kind, user=user, summary=summary, detail=detail or {}
        )
    return plan


def plan_diff(plan: Plan, against: Plan | None = None) -> PlanDiff:
    """Diff ``plan`` against ``against`` (default: the currently applied plan)."""
    base = against if against is not None else Plan.current_applied()
    old = base.as_decisions() if base is not None and base.pk != plan.pk else []
    return diff_plans(old, plan.as_decisions())


def bundle_for(plan: Plan, autoscaler: str = "keda", live_base_url: str | None = None) -> Bundle:
    previous = Plan.current_applied()
    prev = previous.as_decisions() if previous and previous.pk != plan.pk else []
    return build_bundle(
        plan.as_decisions(),
        prev,
        plan_version=plan.version,
        autoscaler=autoscaler,  # type: ignore[arg-type]
        live=LiveTargets(live_base_url) if live_base_url else None,
        title=f"Headroom plan v{plan.version}: {plan.name} ({plan.get_status_display()})",
    )


def _clients(decisions: Sequence[Decision]) -> dict[str, ApplicationAutoScalingClient]:
    regions = {d.aws_target.region for d in decisions if d.aws_target is not None}
    return {r: ApplicationAutoScalingClient(r) for r in sorted(regions)}


def _by_region(decisions: Sequence[Decision]) -> dict[str, list[Decision]]:
    out: dict[str, list[Decision]] = defaultdict(list)
    for d in decisions:
        if d.aws_target is not None:
            out[d.aws_target.region].append(d)
    return out


def _deltas(changes: Sequence[aws_apply.FieldDelta]) -> list[dict[str, Any]]:
    return [asdict(c) for c in changes]


def apply_to_aws(plan: Plan, user, clients: dict[str, ApplicationAutoScalingClient] | None = None):
    """Apply the plan's AWS targets, mark it applied and record what changed."""
    if plan.status not in (PlanStatus.APPROVED, PlanStatus.APPLIED):
        raise PlanError(f"plan v{plan.version} is {plan.status}; approve it before applying")
    decisions = plan.as_decisions()
    groups = _by_region(decisions)
    if not groups:
        raise PlanError(f"plan v{plan.version} has no SageMaker or ECS targets to apply")
    clients = clients or _clients(decisions)
    changes: list[aws_apply.FieldDelta] = []
    for region, group in groups.items():
        changes += aws_apply.apply_plan(clients[region], group).changes
    mark_applied(
        plan,
        user,
        f"{len(changes)} AWS change(s)",
        PlanEvent.Kind.AWS_APPLY,
        {"changes": _deltas(changes)},
    )
    return changes


def previous_applied(plan: Plan) -> Plan | None:
    """The plan that was applied before ``plan`` (the rollback target)."""
    return (
        Plan.objects.filter(status=PlanStatus.SUPERSEDED, applied_at__isnull=False)
        .exclude(pk=plan.pk)
        .filter(applied_at__lt=plan.applied_at or timezone.now())
        .order_by("-applied_at")
        .first()
    )


def rollback_aws(plan: Plan, user, clients: dict[str, ApplicationAutoScalingClient] | None = None):
    """Restore the previous applied plan's AWS settings and make it the applied plan again."""
    if plan.status != PlanStatus.APPLIED:
        raise PlanError(
            f"plan v{plan.version} is {plan.status}; only the applied plan can roll back"
        )
    previous = previous_applied(plan)
    if previous is None:
        raise PlanError(f"no plan was applied before v{plan.version}; nothing to roll back to")
    current, earlier = plan.as_decisions(), previous.as_decisions()
    clients = clients or _clients([*current, *earlier])
    changes: list[aws_apply.FieldDelta] = []
    cur_groups, old_groups = _by_region(current), _by_region(earlier)
    for region in sorted(set(cur_groups) | set(old_groups)):
        changes += aws_apply.rollback_to_plan(
            clients[region], old_groups.get(region, []), cur_groups.get(region, [])
        )
    mark_applied(previous, user, f"rolled back from v{plan.version}", PlanEvent.Kind.ROLLBACK)
    PlanEvent.objects.create(
        plan=plan,
        kind=PlanEvent.Kind.ROLLBACK,
        user=user,
        summary=f"rolled back to v{previous.version}",
        detail={"changes": _deltas(changes)},
    )
    return previous, changes


def check_aws_drift(plan: Plan, user=None, clients=None) -> list[aws_apply.FieldDelta]:
    """Compare the plan with AAS describe calls; store the result as a drift event."""
    decisions = plan.as_decisions()
    groups = _by_region(decisions)
    clients = clients or _clients(decisions)
    drift: list[aws_apply.FieldDelta] = []
    for region, group in groups.items():
        drift += aws_apply.detect_drift(clients[region], group)
    PlanEvent.objects.create(
        plan=plan,
        kind=PlanEvent.Kind.DRIFT_CHECK,
        user=user,
        summary=f"AWS: {len(drift)} difference(s)",
        detail={
            "source": "aws",
            "drift": [
                {
                    "object": f"{d.service_slug}: {d.resource_id}",
                    "field": d.field,
                    "actual": d.actual,
                    "planned": d.planned,
                }
                for d in drift
            ],
        },
    )
    return drift


def _body(manifest: dict[str, Any]) -> dict[str, Any]:
    """Flattened ``spec`` (or, for spec-less kinds like PriorityClass, the top-level fields)."""
    if "spec" in manifest:
        return flatten(manifest.get("spec") or {}, "spec")
    skip = ("apiVersion", "kind", "metadata", "status")
    return {k: v for k, v in manifest.items() if k not in skip}


MANIFEST_MAX_DEPTH = 64  # kubectl output nests ~10 deep; deeper is an attack on the parser


def load_reported_manifests(text: str) -> list[dict[str, Any]]:
    """Parse a cluster's ``kubectl get -o yaml`` output without letting it expand.

    YAML anchors and aliases are refused before anything is built (kubectl never writes them,
    and a few hundred bytes of nested aliases expand to gigabytes: the "billion laughs"), as is
    nesting deeper than :data:`MANIFEST_MAX_DEPTH`. The event scan costs time linear in the
    text. Every document must be a mapping.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                mark = event.start_mark
                raise PlanError(
                    f"the reported manifests use a YAML anchor or alias (line {mark.line + 1}), "
                    "which Headroom does not expand; paste kubectl's plain -o yaml output."
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MANIFEST_MAX_DEPTH:
                    raise PlanError(
                        f"the reported manifests nest deeper than {MANIFEST_MAX_DEPTH} levels "
                        f"(line {event.start_mark.line + 1})."
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as exc:
        raise PlanError(f"the reported manifests are not YAML: {exc}") from exc
    for n, doc in enumerate(docs, start=1):
        if not isinstance(doc, dict):
            raise PlanError(
                f"document {n} of the reported manifests is a {type(doc).__name__}, "
                "not a Kubernetes object (a mapping with kind, metadata and spec)."
            )
    return docs


def manifest_drift(plan: Plan, reported_yaml: str, user=None) -> list[dict[str, Any]]:
    """Compare what a cluster reports (``kubectl get ... -o yaml``) with the plan's manifests.

    Objects are matched by kind/namespace/name; only ``spec`` fields the plan
    sets are compared, so server-filled defaults and ``status`` are ignored.
    A planned object absent from the report is drift; ``kind: List`` is unwrapped.
    """
    docs = load_reported_manifests(reported_yaml)
    reported: dict[tuple[str, str, str], dict[str, Any]] = {}
    for doc in docs:
        items = doc.get("items") if str(doc.get("kind", "")).endswith("List") else [doc]
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
            key = (item.get("kind", ""), meta.get("namespace", ""), meta.get("name", ""))
            reported[key] = item
    drift: list[dict[str, Any]] = []
    for path, text in bundle_for(plan).files.items():
        if not path.endswith(".yaml"):
            continue
        for planned in yaml.safe_load_all(text):
            meta = planned["metadata"]
            key = (planned["kind"], meta.get("namespace", ""), meta["name"])
            label = f"{key[0]} {key[1] + '/' if key[1] else ''}{key[2]}"
            actual = reported.get(key)
            if actual is None:
                drift.append(
                    {"object": label, "field": "(object)", "actual": None, "planned": "present"}
                )
                continue
            have, wanted = _body(actual), _body(planned)
            for field, want in wanted.items():
                if have.get(field) != want:
                    drift.append(
                        {
                            "object": label,
                            "field": field,
                            "actual": have.get(field),
                            "planned": want,
                        }
                    )
    PlanEvent.objects.create(
        plan=plan,
        kind=PlanEvent.Kind.DRIFT_CHECK,
        user=user,
        summary=f"cluster manifests: {len(drift)} difference(s)",
        detail={"source": "manifests", "drift": drift},
    )
    return drift
