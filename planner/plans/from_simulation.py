"""Plan decisions for a deployment from what the simulator ran (the what-if and the
recommendations promote through here, so a plan is exported exactly as simulated).

:func:`decision_for_config` is the one path from a simulated configuration (the ``config`` of
:func:`planner.whatif.engine.summary`) to a plan decision: a promoted what-if and an accepted
recommendation with the same Config give the same decision. :func:`admissible_for` hands the
planning engine the deployment's export target as a predicate, so a configuration the target
would refuse is never recommended.

:func:`export_target_for` describes where a ``core.Deployment`` runs (namespace, cluster,
instance type, GPUs, serving stack, Prometheus); :func:`decision_for_simulation` turns a
simulated :class:`AutoscalingPolicy` and :class:`PurchaseMix` into a
:class:`~planner.plans.exports.decision.PlanDecision` for one exporter, or raises
:class:`~planner.plans.exports.errors.ExportRefused` listing what the exporter cannot do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings

from costmodels.results import AutoscalingPolicy, PurchaseMix
from planner.core.models import Deployment
from planner.plans.demo import DEFAULT_PROMETHEUS, dns_label
from planner.plans.exports.decision import PlanDecision
from planner.plans.exports.simulated import ExportTarget, decision_from_simulation, refusals

DECLARED = "declared"  # the deployment's own export target (Deployment.autoscaler)


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
    exporter: str | None = DECLARED,
    commit_usd_per_hour: float = 0.0,
    expected_monthly_cost_usd: float = 0.0,
    slo_attainment: float = 1.0,
    **target_overrides: Any,
) -> PlanDecision:
    """The decision that runs ``policy``/``mix`` on ``deployment`` under ``exporter`` (default:
    the deployment's declared autoscaler; none declared: unchecked)."""
    return decision_from_simulation(
        policy,
        mix,
        export_target_for(deployment, **target_overrides),
        exporter=exporter_of(deployment) if exporter == DECLARED else exporter,
        commit_usd_per_hour=commit_usd_per_hour,
        expected_monthly_cost_usd=expected_monthly_cost_usd,
        slo_attainment=slo_attainment,
    )


def exporter_of(deployment: Deployment) -> str | None:
    """The deployment's declared export target, None when it declares none."""
    return deployment.autoscaler or None


def admissible_for(deployment: Deployment) -> Callable[[Any, Any], bool] | None:
    """``admissible(option, config)`` for :func:`costmodels.engine.search`: True when the
    deployment's export target can express the configuration (None: no target declared)."""
    exporter = exporter_of(deployment)
    if exporter is None:
        return None
    target = export_target_for(deployment)

    def admissible(option, config) -> bool:
        return not refusals(exporter, config.policy, config.mix, target)

    return admissible


def decision_for_config(
    deployment: Deployment,
    config: dict,
    *,
    expected_monthly_cost_usd: float,
    slo_attainment: float,
    exporter: str | None = DECLARED,
) -> PlanDecision:
    """The decision for a simulated configuration as recorded by
    :func:`planner.whatif.engine.summary` (``config``: instance type, MIG profile, GPUs per
    replica, commitment price, policy and mix), under the deployment's declared target."""
    return decision_for_simulation(
        deployment,
        AutoscalingPolicy(**config["policy"]),
        PurchaseMix(**config["mix"]),
        exporter=exporter,
        commit_usd_per_hour=float(config["commit_usd_per_hour"]),
        expected_monthly_cost_usd=float(expected_monthly_cost_usd),
        slo_attainment=float(slo_attainment),
        instance_types=(config["instance_type"],),
        mig_profile=config["mig_profile"],
        gpus_per_replica=int(config["gpus_per_replica"]),
    )


#: Kubernetes has no cooldown between scaling events; the simulator's at most one minute
K8S_COOLDOWN_S = 60.0


def search_cooldown_s(deployment: Deployment) -> float | None:
    """The cooldown the engine searches with on the deployment's target (None: its current)."""
    return K8S_COOLDOWN_S if exporter_of(deployment) in ("keda", "hpa", "karpenter") else None
