"""Build decisions from fleet deployments, and seed two demo plans (applied + draft).

:func:`decision_from_deployment` mirrors a ``core.Deployment`` as a :class:`PlanDecision`
(tests and fixtures). :func:`monthly_cost_usd` is a quick ``average replicas x blended hourly
price x 730 h`` estimate, not a simulation; the demo plans do not use it.

The demo plans are configurations evaluated by the one planning engine: v1 "As deployed" is
each service's as-deployed Config replayed over the recommendations' evidence window, v2 a
right-sized Config (one replica fewer at the bottom for stateless services, spot within the
interruption bucket, a warm pool for chat). Their cost and SLO figures are that replay's, by the
one SLO definition (:mod:`costmodels.slo`), so the plan page and the services page (whose
calibration replays the same window as deployed) agree; decisions go through
:func:`planner.plans.from_simulation.decision_for_config`, the path every plan takes.
"""

from __future__ import annotations

import re
from typing import Any

from costmodels.catalog import HOURS_PER_MONTH, PriceCatalog
from planner.core.models import Deployment
from planner.plans.exports.decision import PlanDecision, PrometheusMetric

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


#: the demo plans replay the same evidence window as the recommendations and calibration
PLAN_EVIDENCE_DAYS = 14


def _right_sized(inputs) -> dict:
    """What-if parameters of the demo's right-sized Config for one service."""
    from costmodels.engine import max_spot_share

    llm = inputs.service.modality == "llm_chat"
    share = 0.0 if llm else min(0.5, max_spot_share(inputs.offer, 0.5))
    return {
        "min_replicas": max(1, inputs.policy.min_replicas - (0 if llm else 1)),
        "warm_pool": 1 if llm else 0,
        "spot_share": share,
        "committed_replicas": 0 if share else inputs.mix.committed_replicas,
    }


def demo_plan_decisions(window_days: int = PLAN_EVIDENCE_DAYS) -> tuple[list, list]:
    """(as deployed, right-sized) decisions, one per service with usage, each from its replay."""
    from planner.core.models import Service
    from planner.plans.from_simulation import decision_for_config
    from planner.whatif import engine
    from planner.whatif.errors import ScenarioInputError

    current, proposed = [], []
    for service in Service.objects.filter(deployments__isnull=False).distinct().order_by("slug"):
        try:
            inputs = engine.load_inputs(service, window_days=window_days)
        except ScenarioInputError:
            continue  # no usage to replay: no figures to stand behind
        variants = [engine.baseline(inputs), engine.variant(inputs, _right_sized(inputs))]
        runs = engine.evaluate(inputs, variants)
        for out, run, v in zip((current, proposed), runs, variants, strict=True):
            figures = engine.summary(run, v)
            out.append(
                decision_for_config(
                    inputs.deployment,
                    figures["config"],
                    expected_monthly_cost_usd=figures["monthly_cost_usd"],
                    slo_attainment=figures["slo_attainment"],
                )
            )
    return current, proposed


def seed_demo_plans(user=None) -> list:
    """Create v1 'As deployed' (applied) and v2 'Right-sized' (draft) once; idempotent."""
    from planner.plans import services
    from planner.plans.models import Plan

    if Plan.objects.exists():
        return list(Plan.objects.order_by("version"))
    current, proposed = demo_plan_decisions()
    if not current:
        return []
    v1 = services.create_plan_from_decisions(current, name="As deployed", created_by=user)
    services.approve_plan(v1, user)
    v1 = services.mark_applied(v1, user, "baseline recorded from the fleet")
    v2 = services.create_plan_from_decisions(
        proposed,
        name="Right-sized: spot for stateless, warm pool for chat",
        created_by=user,
        notes="Demo plan, simulated over the last 14 days: review the diff, approve, then export.",
    )
    return [v1, v2]
