"""Bridge from the database to the cost models: a service's recorded demand, its current
configuration, and the what-if variants, simulated by :func:`costmodels.simulator.simulate_scenarios`.

Nothing here does cost or queueing maths itself; it gathers inputs and shapes outputs.

Assumptions (also shown to users beside the results):

* Demand is the sum over the service's deployments of ``request_rate_rps`` per usage sample,
  held constant within a sample's step, converted to requests per minute.
* The per-request GPU time is fitted by :class:`costmodels.capacity.CapacityModel` from the
  primary deployment's samples (GPU utilisation against requests per replica), then expressed
  at A100 speed so other GPU types and quantisations scale it with the capacity model's factors.
* The current autoscaler is scaled on GPU utilisation within the deployment's replica bounds
  (Headroom does not read live autoscaler objects); its target is inferred from the recorded
  replica series (:func:`costmodels.calibration.infer_target_pct`). The current purchase mix
  comes from the billing rollups of the same window (committed instance-hours = committed
  ListCost / on-demand price; spot share inferred from the spot / on-demand hours of the
  instance SKU over the recorded replicas, :func:`costmodels.calibration.infer_spot_share`).
* A MIG slice costs its share of the GPU's compute of one GPU's price
  (:meth:`costmodels.catalog.InstanceOffer.mig_slice`, the one place slices are priced).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db.models import Q, Sum

from costmodels.calibration import infer_spot_share, infer_target_pct
from costmodels.capacity import QUANT_SPEEDUP, CapacityModel, gpu_speed_factor
from costmodels.catalog import InstanceOffer
from costmodels.results import AutoscalingPolicy, PurchaseMix, SimulationResult
from costmodels.simulator import simulate_scenarios
from costmodels.slo import request_timeout_s, simulated_attainment
from planner.billing.models import CostRollup
from planner.billing.pricing import catalog
from planner.core.models import Deployment, Service
from planner.usage.models import UsageSample
from planner.whatif.errors import ScenarioInputError
from planner.whatif.slo import histogram_bounds

DEFAULT_WINDOW_DAYS = 7
BASELINE_METRIC, BASELINE_TARGET = "gpu_utilisation", 70.0
RANDOM_STATE = 20261001  # fixed so the same scenario always gives the same interruptions


@dataclass
class ServiceInputs:
    """Everything the simulator needs for one service, as found in the database."""

    service: Service
    deployment: Deployment
    start: dt.datetime
    end: dt.datetime
    demand_per_min: np.ndarray  # requests per minute
    offer: InstanceOffer
    t1_a100_ms: float  # fitted single-request GPU time at A100 speed, FP16
    fitted_from_samples: bool
    sample_hours: float
    policy: AutoscalingPolicy
    mix: PurchaseMix
    notes: list[str]
    latency_bounds_ms: tuple[float, ...] | None = None  # the servers' histogram buckets


def primary_deployment(service: Service) -> Deployment:
    dep = service.deployments.order_by("-max_replicas", "pk").first()
    if dep is None:
        raise ScenarioInputError(
            f"service {service.slug!r} has no deployment: add one (GPU type, region) first"
        )
    return dep


def load_inputs(
    service: Service, window_days: int = DEFAULT_WINDOW_DAYS, end: dt.datetime | None = None
) -> ServiceInputs:
    """Demand trace, fitted capacity and current policy/mix of ``service`` over the window
    of ``window_days`` days ending at ``end`` (default: its last usage sample)."""
    dep = primary_deployment(service)
    samples = UsageSample.objects.filter(deployment__service=service)
    if end is None:
        last_row = samples.order_by("-ts").values_list("ts", "step_seconds").first()
        last = None if last_row is None else last_row[0]
        if last is None:
            raise ScenarioInputError(
                f"service {service.slug!r} has no usage samples: load metrics (Prometheus) or the demo fleet first"
            )
        end = last + dt.timedelta(seconds=max(60, int(last_row[1] or 60)))  # end of its step
    start = end - dt.timedelta(days=window_days)
    rows = list(
        samples.filter(ts__gte=start, ts__lt=end)
        .values_list(
            "deployment_id", "ts", "step_seconds", "request_rate_rps", "gpu_util_pct", "replicas"
        )
        .order_by("ts")
    )
    if len(rows) < 2:
        raise ScenarioInputError(
            f"service {service.slug!r}: fewer than 2 usage samples between {start:%Y-%m-%d} and {end:%Y-%m-%d}"
        )
    frame = pd.DataFrame(rows, columns=["dep", "ts", "step", "rps", "util", "replicas"])
    demand = _demand_per_minute(frame)
    offer = catalog().offer(dep.provider, dep.instance_type, dep.region)
    notes: list[str] = []
    own = frame[(frame.dep == dep.pk) & frame.util.notna() & frame.rps.notna()]
    fit_rows = pd.DataFrame(
        {
            "request_rate_rps": own.rps,
            "gpu_util_pct": own.util,
            "replicas": own.replicas.fillna(1.0),
        }
    )
    try:
        fitted = CapacityModel(
            service.modality, gpu_model=dep.gpu_model, gpu_count=dep.gpu_count
        ).fit(fit_rows)
        from_samples = True
    except ValueError as exc:
        fitted = CapacityModel(
            service.modality, gpu_model=dep.gpu_model, gpu_count=dep.gpu_count
        ).fit()
        from_samples = False
        notes.append(f"GPU time per request from modality defaults ({exc})")
    t1_a100 = fitted.service_time_ms_ * gpu_speed_factor(dep.gpu_model)
    hours = float((frame.step.groupby(frame.dep).sum().max() or 0) / 3600.0)
    template = AutoscalingPolicy(
        metric=BASELINE_METRIC,
        target=BASELINE_TARGET,
        min_replicas=dep.min_replicas,
        max_replicas=dep.max_replicas,
    )
    inputs = ServiceInputs(
        service, dep, start, end, demand, offer, t1_a100, from_samples, hours, template,
        PurchaseMix(), notes,
    )  # fmt: skip
    own_reps = frame[frame.dep == dep.pk]
    reps = own_reps.replicas.fillna(0.0).to_numpy(float)
    weights = own_reps.step.to_numpy(float)
    recorded = float(np.average(reps, weights=weights)) if weights.sum() > 0 else 0.0
    target, simulated = infer_target_pct(
        demand, recorded, template, offer, capacity_for(inputs, offer),
        float(service.latency_slo_p95_ms), random_state=RANDOM_STATE,
    )  # fmt: skip
    inputs.policy = dataclasses.replace(template, target=target)
    notes.append(
        f"Current autoscaler inferred from the replica series: GPU utilisation {target:g} % "
        f"gives {simulated:.2f} mean replicas against {recorded:.2f} recorded"
    )
    inputs.mix = current_mix(service, dep, offer, start, end, reps)
    inputs.latency_bounds_ms = histogram_bounds(service)
    return inputs


def _demand_per_minute(frame: pd.DataFrame) -> np.ndarray:
    """Requests per minute on a 1-minute grid: each sample's rate held over its step, summed
    over deployments; gaps count as no demand."""
    t0 = frame.ts.min()
    minute = ((frame.ts - t0).dt.total_seconds() // 60).astype(int).to_numpy()
    steps = np.maximum(1, (frame.step.to_numpy() // 60).astype(int))
    length = int((minute + steps).max())
    out = np.zeros(length)
    rpm = frame.rps.fillna(0.0).to_numpy() * 60.0
    for s in np.unique(steps):  # vectorised per distinct step length
        sel = steps == s
        idx = (minute[sel][:, None] + np.arange(s)[None, :]).ravel()
        np.add.at(out, idx, np.repeat(rpm[sel], s))
    return out


def current_mix(
    service: Service, dep: Deployment, offer: InstanceOffer, start, end, replicas=None
) -> PurchaseMix:
    """The purchase mix the bills show for the deployment's instance type over the window: the
    committed replicas, and the pool's spot share inferred from the billed spot / on-demand
    hours over the recorded replica series (``replicas``, per usage step) when given."""
    agg = CostRollup.objects.filter(
        service=service,
        instance_type=dep.instance_type,
        date__gte=start.date(),
        date__lt=end.date(),
    ).aggregate(
        committed_list=Sum("list_cost", filter=Q(pricing_category="Committed")),
        spot_hours=Sum("consumed_quantity", filter=Q(pricing_category="Dynamic")),
        od_hours=Sum("consumed_quantity", filter=Q(pricing_category="Standard")),
    )
    days = max(1, (end.date() - start.date()).days)
    committed = 0
    if agg["committed_list"] and offer.ondemand_usd_per_hour > 0:
        committed = int(
            round(float(agg["committed_list"]) / offer.ondemand_usd_per_hour / (24 * days))
        )
    spot, od = float(agg["spot_hours"] or 0.0), float(agg["od_hours"] or 0.0)
    share = spot / (spot + od) if spot + od > 0 and offer.spot_usd_per_hour else 0.0
    if committed and offer.commit_usd_per_hour("1y") is None:
        committed = 0
    if replicas is not None and share > 0:
        share = infer_spot_share(np.asarray(replicas, float), committed, spot, od)
    return PurchaseMix(committed_replicas=committed, spot_share=round(share, 2))


def offer_for(
    inputs: ServiceInputs, instance_type: str = "", mig_profile: str = ""
) -> InstanceOffer:
    """The catalog offer a variant runs on: another instance type in the same provider and
    region, optionally one MIG slice of it priced at its compute share of one GPU."""
    dep = inputs.deployment
    offer = inputs.offer
    if instance_type and instance_type != offer.instance_type:
        try:
            offer = catalog().offer(dep.provider, instance_type, dep.region)
        except KeyError as exc:
            raise ScenarioInputError(f"{inputs.service.slug}: {exc.args[0]}") from None
    if not mig_profile:
        return offer
    try:
        part = offer.mig_slice(mig_profile)  # the one MIG slice pricing (costmodels.catalog)
    except ValueError:
        names = ", ".join(p.name for p in offer.mig_profiles) or "none (this GPU has no MIG)"
        raise ScenarioInputError(
            f"{inputs.service.slug}: MIG profile {mig_profile!r} not available on {offer.instance_type}; choose one of {names}"
        ) from None
    return dataclasses.replace(part, instance_type=f"{offer.instance_type} ({mig_profile})")


def offers_with_slices(provider: str, region: str) -> list[tuple[InstanceOffer, str]]:
    """Every offer of ``provider`` in ``region`` and each of its MIG slices, as (offer, MIG
    profile name or "") with slices priced by :meth:`InstanceOffer.mig_slice`."""
    out: list[tuple[InstanceOffer, str]] = []
    for o in catalog().offers(provider=provider, region=region):
        out.append((o, ""))
        for m in o.mig_profiles:
            part = o.mig_slice(m.name)
            out.append(
                (dataclasses.replace(part, instance_type=f"{o.instance_type} ({m.name})"), m.name)
            )
    return out


def capacity_for(
    inputs: ServiceInputs,
    offer: InstanceOffer,
    batch_size=1,
    quantisation="fp16",
    cache_hit_rate=0.0,
    max_batch_wait_ms=None,
):
    """A fitted capacity model for ``offer`` from the service's A100-equivalent GPU time
    (``max_batch_wait_ms`` None: the modality's default batch wait)."""
    if quantisation not in QUANT_SPEEDUP:
        raise ScenarioInputError(f"quantisation must be one of {', '.join(QUANT_SPEEDUP)}")
    return CapacityModel(
        inputs.service.modality,
        gpu_model=offer.gpu_model,
        gpu_count=offer.gpu_count,
        batch_size=int(batch_size),
        quantisation=quantisation,
        cache_hit_rate=float(cache_hit_rate),
        service_time_ms=inputs.t1_a100_ms,
        max_batch_wait_ms=None if max_batch_wait_ms in (None, "") else float(max_batch_wait_ms),
    ).fit()


@dataclass(frozen=True)
class Variant:
    """One configuration of a service to simulate."""

    offer: InstanceOffer
    capacity: CapacityModel
    policy: AutoscalingPolicy
    mix: PurchaseMix


def baseline(inputs: ServiceInputs) -> Variant:
    return Variant(inputs.offer, capacity_for(inputs, inputs.offer), inputs.policy, inputs.mix)


def variant(inputs: ServiceInputs, p: dict) -> Variant:
    """The variant described by what-if parameters ``p`` (blank / missing = keep current)."""
    offer = offer_for(inputs, p.get("instance_type") or "", p.get("mig_profile") or "")
    cap = capacity_for(
        inputs,
        offer,
        p.get("batch_size") or 1,
        p.get("quantisation") or "fp16",
        p.get("cache_hit_rate") or 0.0,
        p.get("max_batch_wait_ms"),
    )
    cur = inputs.policy
    pick = lambda key, default: default if p.get(key) in (None, "") else p[key]  # noqa: E731
    try:
        policy = AutoscalingPolicy(
            metric=pick("metric", cur.metric),
            target=float(pick("target", cur.target)),
            min_replicas=int(pick("min_replicas", cur.min_replicas)),
            max_replicas=int(pick("max_replicas", cur.max_replicas)),
            scale_down_stabilisation_s=float(
                pick("scale_down_stabilisation_s", cur.scale_down_stabilisation_s)
            ),
            cooldown_s=float(pick("cooldown_s", cur.cooldown_s)),
            warm_pool=int(pick("warm_pool", 0)),
            polling_interval_s=float(pick("polling_interval_s", cur.polling_interval_s)),
            scale_up_stabilisation_s=float(
                pick("scale_up_stabilisation_s", cur.scale_up_stabilisation_s)
            ),
        )
        mix = PurchaseMix(
            committed_replicas=int(pick("committed_replicas", inputs.mix.committed_replicas)),
            spot_share=float(pick("spot_share", inputs.mix.spot_share)),
            commitment_term=pick("commitment_term", "1y"),
        )
    except ValueError as exc:
        raise ScenarioInputError(f"{inputs.service.slug}: {exc}") from None
    if mix.spot_share > 0 and offer.spot_usd_per_hour is None:
        raise ScenarioInputError(
            f"{inputs.service.slug}: {offer.instance_type} has no spot price; set spot share to 0"
        )
    if mix.committed_replicas > 0 and offer.commit_usd_per_hour(mix.commitment_term) is None:
        raise ScenarioInputError(
            f"{inputs.service.slug}: {offer.instance_type} has no {mix.commitment_term} commitment price; "
            "set committed replicas to 0"
        )
    return Variant(offer, cap, policy, mix)


def run(
    inputs: ServiceInputs, variants: list[Variant], keep_series: bool = True
) -> list[SimulationResult]:
    """Simulate every variant over the service's demand in one vectorised call."""
    try:
        return simulate_scenarios(
            [inputs.demand_per_min] * len(variants),
            [v.policy for v in variants],
            [v.mix for v in variants],
            [v.offer for v in variants],
            [v.capacity for v in variants],
            [float(inputs.service.latency_slo_p95_ms)] * len(variants),
            random_state=RANDOM_STATE,
            keep_series=keep_series,
            request_timeout_s=request_timeout_s(float(inputs.service.latency_slo_p95_ms)),
        )
    except ValueError as exc:
        raise ScenarioInputError(f"{inputs.service.slug}: {exc}") from None


def summary(r: SimulationResult, v: Variant, bounds_ms=None) -> dict:
    """JSON-ready figures of one simulation, monthly costs per 730-hour month; SLO attainment
    by the one definition, read through the servers' histogram ``bounds_ms`` when given."""
    scale = r.monthly_cost_usd / r.total_cost_usd if r.total_cost_usd else 0.0
    p95 = r.request_weighted_p95_latency_ms if len(r.p95_latency_ms) else float("nan")
    return {
        "instance_type": v.offer.instance_type,
        "gpu_model": v.offer.gpu_model,
        "policy": v.policy.label,
        "mix": {
            "committed_replicas": v.mix.committed_replicas,
            "spot_share": v.mix.spot_share,
            "commitment_term": v.mix.commitment_term,
        },
        "monthly_cost_usd": round(r.monthly_cost_usd, 2),
        "monthly_cost_usd_by_category": {
            k: round(c * scale, 2) for k, c in r.cost_usd_by_category.items()
        },
        "slo_attainment": _attainment(r, bounds_ms),
        "p95_latency_ms": None if not np.isfinite(p95) else round(p95, 1),
        "requests": round(r.requests),
        "dropped_requests": round(r.dropped_requests),
        "cold_starts": int(r.cold_starts),
        "spot_interruptions": int(r.spot_interruptions),
        "replica_minutes": round(r.replica_minutes),
        "throughput_rps_per_replica": round(v.capacity.throughput_rps_, 3),
    }


def _attainment(r: SimulationResult, bounds_ms=None) -> float | None:
    """SLO attainment by the one definition (costmodels.slo); needs the per-minute series."""
    if not len(r.p95_latency_ms):
        raise ValueError("SLO attainment needs the simulation's series: run with keep_series=True")
    att = simulated_attainment(r.p95_latency_ms, r.demand_per_min, r.slo_p95_ms, bounds_ms)
    return 1.0 if att is None else round(att, 5)


def series(r: SimulationResult) -> dict:
    """Per-minute replicas and p95 latency (ms; null where no capacity) for the charts."""
    lat = np.asarray(r.p95_latency_ms, float)
    return {
        "replicas": np.asarray(r.replicas).astype(int).tolist(),
        "p95_latency_ms": [None if not np.isfinite(x) else round(float(x), 1) for x in lat],
    }
