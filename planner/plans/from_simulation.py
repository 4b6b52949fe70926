"""Plan decisions for a deployment from what the simulator ran (the what-if and the
recommendations promote through here, so a plan is exported exactly as simulated).

:func:`export_target_for` describes where a ``core.Deployment`` runs (namespace, cluster,
instance type, GPUs, serving stack, Prometheus); :func:`decision_for_simulation` turns a
simulated :class:`AutoscalingPolicy` and :class:`PurchaseMix` into a
:class:`~planner.plans.exports.decision.PlanDecision` for one exporter, or raises
:class:`~planner.plans.exports.errors.ExportRefused` listing what the exporter cannot do.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from costmodels.results import AutoscalingPolicy, PurchaseMix
from planner.core.models import Deployment
from planner.plans.demo import DEFAULT_PROMETHEUS, dns_label
from planner.plans.exports.decision import PlanDecision
from planner.plans.exports.simulated import ExportTarget, decision_from_simulation


def export_target_for(deployment: Deployment, **overrides: Any) -> ExportTarget:
    """Where ``deployment`` runs, as the exporters need it; ``overrides`` replace fields."""
    from planner.usage.models import ServingEndpoint

    endpoint = ServingEndpoint.objects.filter(deployment=deployment).first()
    stack = endpoint.stack if endpoint is not None and endpoint.stack else "vllm"
    fields: dict[str, Any] = {
        "service_slug": deployment.service.slug,
        "namespace": dns_label(deployment.namespace or "default"),
        "deployment_name": dns_label(deployment.name),
        "cluster": dns_label(deployment.cluster or f"{deployment.provider}-{deployment.region}"),
        "provider": deployment.provider,
        "instance_types": (deployment.instance_type,),
        "gpus_per_replica": max(1, int(deployment.gpu_count)),
        "mig_profile": deployment.mig_profile,
        "prometheus_url": settings.PROMETHEUS_URL or DEFAULT_PROMETHEUS,
        "serving": stack if stack in ("vllm", "tgi") else "generic",
        "aws_region": deployment.region if deployment.provider == "aws" else "us-east-1",
    }
    fields.update(overrides)
    return ExportTarget(**fields)


def decision_for_simulation(
    deployment: Deployment,
    policy: AutoscalingPolicy,
    mix: PurchaseMix,
    *,
    exporter: str = "keda",
    commit_usd_per_hour: float = 0.0,
    expected_monthly_cost_usd: float = 0.0,
    slo_attainment: float = 1.0,
    **target_overrides: Any,
) -> PlanDecision:
    """The decision that runs ``policy``/``mix`` on ``deployment`` under ``exporter``."""
    return decision_from_simulation(
        policy,
        mix,
        export_target_for(deployment, **target_overrides),
        exporter=exporter,
        commit_usd_per_hour=commit_usd_per_hour,
        expected_monthly_cost_usd=expected_monthly_cost_usd,
        slo_attainment=slo_attainment,
    )
