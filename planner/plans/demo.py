"""Build decisions from fleet deployments, and seed two demo plans (applied + draft).

:func:`decision_from_deployment` is the convenient way for other apps (the
what-if simulator, recommendations) to turn a ``core.Deployment`` plus the
settings they chose into a :class:`PlanDecision` for
:func:`planner.plans.services.create_plan_from_decisions`.

Monthly cost here is ``average replicas x blended hourly price x 730 h``,
where the blend is ``spot_share x spot + (1 - spot_share) x on-demand`` from
the seed price catalog; it is an estimate for the demo, not a simulation.
"""

from __future__ import annotations

import math
import re
from typing import Any

from costmodels.catalog import HOURS_PER_MONTH, PriceCatalog
from planner.core.models import Deployment
from planner.plans.exports.decision import (
    PlanDecision,
    PrometheusMetric,
    ScalingPolicy,
    ScalingRules,
    ScheduleWindow,
)

DEFAULT_PROMETHEUS = "http://prometheus.monitoring:9090"
DEFAULT_QUERY = 'sum(rate(http_requests_total{{service="{slug}"}}[2m]))'


def dns_label(value: str) -> str:
    """Lower-case DNS-1123 label from a free-form name (``Chat_LLM`` -> ``chat-llm``)."""
    label = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    return label[:63].rstrip("-") or "default"


def decision_from_deployment(
    deployment: Deployment,
    *,
    target_utilisation: float = 0.7,
    prometheus_url: str = DEFAULT_PROMETHEUS,
    query_template: str = DEFAULT_QUERY,
    **overrides: Any,
) -> PlanDecision:
    """A decision mirroring ``deployment``; ``overrides`` replace any PlanDecision field.

    The default metric is the service's request rate with a per-replica
    threshold of ``throughput_rps_per_replica x target_utilisation`` (req/s).
    """
    slug = deployment.service.slug
    spot_share = float(overrides.get("spot_share", 0.0))
    fields: dict[str, Any] = {
        "service_slug": slug,
        "namespace": dns_label(deployment.namespace or "default"),
        "cluster": dns_label(deployment.cluster or f"{deployment.provider}-{deployment.region}"),
        "deployment_name": dns_label(deployment.name),
        "provider": deployment.provider,
        "instance_types": (deployment.instance_type,),
        "mig_profile": deployment.mig_profile,
        "gpus_per_replica": max(1, int(deployment.gpu_count)),
        "min_replicas": deployment.min_replicas,
        "max_replicas": deployment.max_replicas,
        "metric": PrometheusMetric(
            prometheus_url,
            query_template.format(slug=slug),
            round(deployment.throughput_rps_per_replica * target_utilisation, 3),
            metric_name=f"{slug.replace('-', '_')}_rps",
        ),
        "capacity_types": ("spot", "on-demand") if spot_share > 0 else ("on-demand",),
    }
    fields.update(overrides)
    return PlanDecision(**fields).validate()


def monthly_cost_usd(
    catalog: PriceCatalog, deployment: Deployment, avg_replicas: float, spot_share: float
) -> float:
    """Average replicas x blended instance price (USD/h) x 730 h."""
    offer = catalog.offer(deployment.provider, deployment.instance_type, deployment.region)
    spot = (
        offer.spot_usd_per_hour
        if offer.spot_usd_per_hour is not None
        else offer.ondemand_usd_per_hour
    )
    hourly = spot_share * spot + (1 - spot_share) * offer.ondemand_usd_per_hour
    return round(avg_replicas * hourly * HOURS_PER_MONTH, 2)


def seed_demo_plans(user=None) -> list:
    """Create v1 'As deployed' (applied) and v2 'Right-sized' (draft) once; idempotent."""
    from planner.plans import services
    from planner.plans.models import Plan

    if Plan.objects.exists():
        return list(Plan.objects.order_by("version"))
    deployments = list(Deployment.objects.select_related("service").order_by("service__slug"))
    if not deployments:
        return []
    catalog = PriceCatalog.load_default()
    current, proposed = [], []
    for dep in deployments:
        mid = (dep.min_replicas + dep.max_replicas) / 2
        current.append(
            decision_from_deployment(
                dep,
                expected_monthly_cost_usd=monthly_cost_usd(catalog, dep, mid, 0.0),
                slo_attainment=0.995,
            )
        )
        llm = dep.service.modality == "llm_chat"
        share = 0.0 if llm else 0.5
        lo = max(1, dep.min_replicas - (0 if llm else 1))
        hi = dep.max_replicas
        schedules: tuple[ScheduleWindow, ...] = ()
        if llm:
            peak = min(hi, max(lo + 2, math.ceil(hi * 0.6)))
            schedules = (
                ScheduleWindow("weekday-peak", "UTC", "0 8 * * 1-5", "0 19 * * 1-5", peak),
            )
        avg = (lo + hi) / 2 * 0.85
        proposed.append(
            decision_from_deployment(
                dep,
                min_replicas=lo,
                warm_pool_replicas=1 if llm else 0,
                spot_share=share,
                capacity_types=("spot", "on-demand") if share else ("on-demand",),
                fallback_replicas=min(hi, lo + 2),
                schedules=schedules,
                scale_down=ScalingRules(600, (ScalingPolicy("Pods", 1, 120),)),
                consolidation_policy="WhenEmptyOrUnderutilized",
                consolidate_after="5m",
                expected_monthly_cost_usd=monthly_cost_usd(catalog, dep, avg, share),
                slo_attainment=0.992 if share else 0.996,
            )
        )
    v1 = services.create_plan_from_decisions(current, name="As deployed", created_by=user)
    services.approve_plan(v1, user)
    v1 = services.mark_applied(v1, user, "baseline recorded from the fleet")
    v2 = services.create_plan_from_decisions(
        proposed,
        name="Right-sized: spot for stateless, warm pool and weekday pre-scaling for chat",
        created_by=user,
        notes="Demo plan: review the diff, approve, then export or apply.",
    )
    return [v1, v2]
