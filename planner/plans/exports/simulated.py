"""Export a simulated autoscaling policy and purchase mix as each autoscaler's own objects,
doing exactly what was simulated -- or refuse, naming each behaviour that cannot be
expressed and what to change.

The simulator's semantics (:mod:`costmodels.simulator`) and how each target expresses them:

==========================  ===========================================  =====================================
simulated                   KEDA ScaledObject / HPA autoscaling/v2       AWS Application Auto Scaling
==========================  ===========================================  =====================================
load x = total / target     query = the service's total, ``sum(...)``,   ``SageMakerVariantInvocationsPerInstance``
desired = ceil(x)           ``metricType``/target ``AverageValue``:      target tracking (per-instance average,
                            desired = ceil(total / threshold)            per minute: target x 60)
tolerance 0.1 both ways     the controller's ``--horizontal-pod-         scales out above the target (0), in
                            autoscaler-tolerance`` (0.1, cluster-wide)   10 % below it: ``scale_out_tolerance=0``
polling (metric staleness)  KEDA ``pollingInterval`` / HPA sync 15 s;    1-minute CloudWatch datapoints
                            <= 60 s (one simulated minute)
up / down windows           ``behavior`` ``stabilizationWindowSeconds``  the managed alarms: 3 datapoints out,
                                                                         15 in (windows 120 s / 840 s)
max added per minute        scaleUp policy ``Pods n / 60 s``             none (all at once: max >= max replicas)
scale-down rate             unlimited: scaleDown ``Percent 100 / 15 s``  unlimited
cooldown after an event     none (<= 60 s); KEDA ``cooldownPeriod``      ``ScaleInCooldown`` (scale-out blocks
                            = the down window, only when min is 0        scale-in through the 15-datapoint alarm)
warm pool                   placeholder pods, low PriorityClass, billed  refused (SageMaker / ECS have none)
                            at full price: ``warm_pool_cost_fraction=1``
spot share above commitment Karpenter capacity-spread split (k/n),       --
                            refused together with committed replicas
==========================  ===========================================  =====================================

Metric queries per serving stack (``SEL`` = the deployment's label matchers): request rate
``sum(rate(http_requests_total{SEL}[1m]))`` (arrivals at the service's HTTP front);
concurrency ``sum(vllm:num_requests_running{SEL})``; queue length running + waiting
(``vllm:num_requests_waiting``); GPU utilisation ``sum(DCGM_FI_DEV_GPU_UTIL{SEL}) / gpus``
(the busy percentage summed over replicas -- an ``avg`` would cap the HPA at
ceil(avg / target) replicas). :mod:`.readers` parses the objects back into a policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from costmodels.results import AutoscalingPolicy, PurchaseMix

from .decision import (
    AwsScalingTarget,
    CommitmentPurchase,
    PlanDecision,
    PrometheusMetric,
    ScalingPolicy,
    ScalingRules,
)
from .errors import ExportError, ExportRefused
from .karpenter import spread_fraction

K8S_TOLERANCE = 0.1  # kube-controller-manager --horizontal-pod-autoscaler-tolerance default
AWS_UP_WINDOW_MIN, AWS_DOWN_WINDOW_MIN = 2, 14  # 3 and 15 one-minute datapoints
AWS_REQUESTS_METRIC = "SageMakerVariantInvocationsPerInstance"
SCALE_DOWN_UNLIMITED = ScalingPolicy("Percent", 100, 15)  # the HPA's default scale-down
QUERIES = {
    "vllm": {
        "concurrency": "sum(vllm:num_requests_running{SEL})",
        "queue_length": "sum(vllm:num_requests_running{SEL}) + sum(vllm:num_requests_waiting{SEL})",
    },
    "tgi": {
        "concurrency": "sum(tgi_batch_current_size{SEL})",
        "queue_length": "sum(tgi_batch_current_size{SEL}) + sum(tgi_queue_size{SEL})",
    },
    "generic": {"concurrency": "sum(http_requests_in_flight{SEL})"},
}
REQUESTS_QUERY = "sum(rate(http_requests_total{SEL}[1m]))"
GPU_QUERY = "sum(DCGM_FI_DEV_GPU_UTIL{SEL}) / {GPUS}"


@dataclass(frozen=True)
class ExportTarget:
    """Where a simulated plan runs: the deployment, its metrics and its AWS target."""

    service_slug: str
    namespace: str
    deployment_name: str
    cluster: str
    provider: str
    instance_types: tuple[str, ...]
    gpus_per_replica: int = 1
    mig_profile: str = ""
    prometheus_url: str = "http://prometheus.monitoring:9090"
    selector: str = ""  # PromQL label matchers, e.g. namespace="x",pod=~"dep-.*"
    serving: str = "vllm"  # vllm | tgi | generic (see QUERIES)
    serving_image: str = ""  # the warm pool's placeholder image (holds its layers)
    aws_resource_id: str = ""  # endpoint/<endpoint>/variant/<variant>, or asg/<group>
    alb_resource_label: str = ""  # EC2 groups scaled on ALBRequestCountPerTarget
    aws_region: str = "us-east-1"

    def matchers(self) -> str:
        return self.selector or f'namespace="{self.namespace}",pod=~"{self.deployment_name}-.*"'


def metric_query(metric: str, target: ExportTarget) -> str | None:
    """The PromQL total whose value / per-replica target is the simulated load."""
    if metric == "requests_per_replica":
        query = REQUESTS_QUERY
    elif metric == "gpu_utilisation":
        query = GPU_QUERY.replace("{GPUS}", str(target.gpus_per_replica))
    else:
        query = QUERIES.get(target.serving, {}).get(metric)
        if query is None:
            return None
    return query.replace("SEL", target.matchers())


def _minutes(seconds: float) -> int:
    return math.ceil(seconds / 60 - 1e-9)


def kubernetes_refusals(
    policy: AutoscalingPolicy, target: ExportTarget, kind: str = "keda"
) -> list[str]:
    """Why ``policy`` cannot run as simulated under KEDA (``kind='keda'``) or a plain HPA."""
    out = []
    if metric_query(policy.metric, target) is None:
        out.append(
            f"{policy.metric}: the {target.serving} stack exposes no such gauge; "
            f"use requests_per_replica or gpu_utilisation"
        )
    tol_out = policy.tolerance if policy.scale_out_tolerance is None else policy.scale_out_tolerance
    if policy.tolerance != K8S_TOLERANCE or tol_out != K8S_TOLERANCE:
        out.append(
            f"tolerance {policy.tolerance:g}/{tol_out:g}: the HPA's is the cluster-wide "
            f"--horizontal-pod-autoscaler-tolerance ({K8S_TOLERANCE:g}); simulate with it"
        )
    if policy.polling_interval_s > 60:
        out.append(
            f"polling {policy.polling_interval_s:g} s: the HPA reads the metric every sync "
            f"period (15 s; KEDA's pollingInterval only paces 0 <-> 1); use <= 60 s"
        )
    if policy.cooldown_s > 60:
        out.append(
            f"cooldown {policy.cooldown_s:g} s: Kubernetes has no cooldown between scaling "
            f"events (KEDA's cooldownPeriod only delays scaling to zero); simulate with "
            f"cooldown_s <= 60 and hold scale-downs with the scale-down window"
        )
    for name in ("scale_up_stabilisation_s", "scale_down_stabilisation_s"):
        if getattr(policy, name) > 3600:
            out.append(f"{name} {getattr(policy, name):g} s: the HPA allows at most 3600 s")
    if policy.metric == "queue_length" and policy.scale_up_stabilisation_s > 0:
        out.append(
            "queue_length with a scale-up window: the simulator reads the waiting requests "
            "outside the window, the HPA inside it; simulate with scale_up_stabilisation_s=0"
        )
    if policy.warm_pool and policy.warm_pool_cost_fraction != 1.0:
        out.append(
            f"warm pool at {policy.warm_pool_cost_fraction:g} of the price: on Kubernetes it "
            f"is placeholder pods on running nodes, billed in full; simulate with "
            f"warm_pool_cost_fraction=1"
        )
    if policy.warm_pool and not target.serving_image:
        out.append(
            "warm pool without the serving image: name it (ExportTarget.serving_image) so "
            "the placeholder pods hold its layers and a replica starts warm"
        )
    if kind == "hpa" and abs(round(policy.target * 1000) - policy.target * 1000) > 1e-6:
        out.append(
            f"target {policy.target!r}: an HPA averageValue is a quantity in milli-units; "
            f"round the target to 3 decimals"
        )
    if kind == "hpa" and policy.min_replicas == 0:
        out.append(
            "min_replicas 0: an HPA cannot scale to zero (HPAScaleToZero is alpha); use KEDA"
        )
    return out


def karpenter_refusals(mix: PurchaseMix) -> list[str]:
    """Why ``mix`` cannot be held by the Karpenter NodePools (see :mod:`.karpenter`)."""
    out = []
    if mix.committed_replicas and mix.spot_share > 0:
        out.append(
            f"{mix.committed_replicas} committed replica(s) with spot share "
            f"{mix.spot_share:g}: a commitment covers on-demand capacity only and the "
            f"capacity spread splits all replicas; plan spot without a commitment or "
            f"a commitment without spot"
        )
    try:
        spread_fraction(mix.spot_share)
    except ExportError as exc:
        out.append(str(exc))
    return out


def aws_refusals(policy: AutoscalingPolicy, target: ExportTarget) -> list[str]:
    """Why ``policy`` cannot run as simulated under AAS target tracking (SageMaker)."""
    out = []
    if not target.aws_resource_id.startswith("endpoint/"):
        out.append("AWS target: name a SageMaker variant (endpoint/<endpoint>/variant/<variant>)")
    if policy.metric != "requests_per_replica":
        out.append(
            f"{policy.metric}: applied through {AWS_REQUESTS_METRIC} only; simulate "
            f"requests_per_replica"
        )
    tol_out = policy.tolerance if policy.scale_out_tolerance is None else policy.scale_out_tolerance
    if policy.tolerance != 0.1 or tol_out != 0.0:
        out.append(
            "tolerance: target tracking scales out above the target and in 10 % below "
            "it; simulate with tolerance=0.1, scale_out_tolerance=0"
        )
    windows = (
        _minutes(policy.scale_up_stabilisation_s),
        _minutes(policy.scale_down_stabilisation_s),
    )
    if windows != (AWS_UP_WINDOW_MIN, AWS_DOWN_WINDOW_MIN):
        out.append(
            "windows: the managed alarms need 3 datapoints to scale out and 15 to scale "
            "in; simulate with scale_up/down_stabilisation_s = 120 / 840"
        )
    if policy.polling_interval_s > 60:
        out.append("polling: CloudWatch datapoints are one minute; use polling_interval_s <= 60")
    if policy.max_scale_up_replicas_per_min < policy.max_replicas:
        out.append(
            "scale-out rate: target tracking adds what it computes at once; simulate "
            "with max_scale_up_replicas_per_min >= max_replicas"
        )
    if policy.cooldown_s > policy.scale_down_stabilisation_s + 60:
        out.append(
            "cooldown: AWS holds scale-in only after a scale-in (and, through the "
            "15-datapoint alarm, after a scale-out); use cooldown_s <= the down window"
        )
    if policy.warm_pool:
        out.append("warm pool: SageMaker endpoint variants have none; simulate warm_pool=0")
    return out


def _commitments(mix: PurchaseMix, target: ExportTarget, commit_usd_per_hour: float):
    if not mix.committed_replicas:
        return ()
    months = 12 if mix.commitment_term == "1y" else 36
    return (
        CommitmentPurchase(
            "savings_plan",
            target.instance_types[0],
            mix.committed_replicas,
            months,
            round(mix.committed_replicas * commit_usd_per_hour, 4),
            0.0,
        ),
    )


def refusals(
    exporter: str | None, policy: AutoscalingPolicy, mix: PurchaseMix, target: ExportTarget
) -> list[str]:
    """What ``exporter`` (keda | hpa | karpenter | aws) cannot express of a simulated
    ``policy``/``mix`` (empty: it can; no exporter declared: nothing is checked)."""
    if not exporter:
        return []
    return {
        "keda": lambda: kubernetes_refusals(policy, target, "keda"),
        "hpa": lambda: kubernetes_refusals(policy, target, "hpa"),
        "karpenter": lambda: karpenter_refusals(mix),
        "aws": lambda: aws_refusals(policy, target),
    }[exporter]()


def decision_from_simulation(
    policy: AutoscalingPolicy,
    mix: PurchaseMix,
    target: ExportTarget,
    *,
    exporter: str | None = "keda",
    commit_usd_per_hour: float = 0.0,
    expected_monthly_cost_usd: float = 0.0,
    slo_attainment: float = 1.0,
) -> PlanDecision:
    """The plan decision that makes ``exporter`` (keda | hpa | karpenter | aws) do what the
    simulator did with ``policy`` and ``mix``; raises :class:`ExportRefused` otherwise
    (``exporter`` None: the deployment declares no target and nothing is checked)."""
    reasons = refusals(exporter, policy, mix, target)
    if reasons:
        raise ExportRefused(target.service_slug, exporter, reasons)
    query = metric_query(policy.metric, target) or REQUESTS_QUERY
    caps = ("spot",) if mix.spot_share == 1 else ("spot", "on-demand")
    aws = None
    if exporter == "aws":
        aws = AwsScalingTarget(
            "sagemaker-variant",
            target.aws_resource_id,
            AWS_REQUESTS_METRIC,
            round(policy.target * 60.0, 6),
            math.ceil(policy.cooldown_s),
            0,
            target.aws_region,
        )
    return PlanDecision(
        service_slug=target.service_slug,
        namespace=target.namespace,
        cluster=target.cluster,
        deployment_name=target.deployment_name,
        provider=target.provider,  # type: ignore[arg-type]
        instance_types=target.instance_types,
        gpus_per_replica=target.gpus_per_replica,
        mig_profile=target.mig_profile,
        min_replicas=policy.min_replicas,
        max_replicas=policy.max_replicas,
        metric=PrometheusMetric(
            target.prometheus_url,
            query,
            float(policy.target),
            metric_name=f"{target.service_slug.replace('-', '_')}_{policy.metric}",
        ),
        polling_interval_seconds=max(1, math.ceil(policy.polling_interval_s)),
        cooldown_seconds=math.ceil(policy.scale_down_stabilisation_s),
        scale_up=ScalingRules(
            math.ceil(policy.scale_up_stabilisation_s),
            (ScalingPolicy("Pods", policy.max_scale_up_replicas_per_min, 60),),
        ),
        scale_down=ScalingRules(
            math.ceil(policy.scale_down_stabilisation_s), (SCALE_DOWN_UNLIMITED,)
        ),
        warm_pool_replicas=policy.warm_pool,
        spot_share=mix.spot_share,
        capacity_types=caps if mix.spot_share > 0 else ("on-demand",),
        commitments=_commitments(mix, target, commit_usd_per_hour),
        expected_monthly_cost_usd=expected_monthly_cost_usd,
        slo_attainment=slo_attainment,
        aws_target=aws,
    ).validate()
