"""Plan export benchmark: render + validate a large fleet's GitOps bundle; live-target latency.

Builds a synthetic plan of N services (mix of providers, Prometheus and queue triggers,
spot/on-demand pools, schedules) and measures:
  1. ``build_bundle`` — render KEDA ScaledObjects and Karpenter NodePools, validate each against
     the vendored CRD schemas (twice: as dicts and re-parsed from YAML), write CHANGES.md — then
     zip it (the measured figure, ``seconds``);
  2. the baseline: serialising the same, already-rendered manifests to YAML and zipping them with
     no validation at all (``baseline_seconds``), so ``vs_baseline`` is the cost of validation;
  3. ``target_at`` (the KEDA live-target computation) at 500 random instants: p50/p99 ms.
Prints figures and, as its last line, one JSON object.

    python bench/plans_export.py [--services 400]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import random
import sys
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from planner.plans.exports.autoscalers import render_scaled_object  # noqa: E402
from planner.plans.exports.bundle import build_bundle, dump_manifests  # noqa: E402
from planner.plans.exports.decision import (  # noqa: E402
    PlanDecision,
    PrometheusMetric,
    QueueMetric,
    ScheduleWindow,
)
from planner.plans.exports.karpenter import render_node_pools  # noqa: E402
from planner.plans.live_targets import target_at  # noqa: E402

TYPES = {
    "aws": ["p5.48xlarge", "g6e.2xlarge"],
    "gcp": ["a2-highgpu-1g"],
    "azure": ["Standard_NC24ads_A100_v4"],
}


def fleet(n: int, seed: int = 7) -> list[PlanDecision]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        provider = rng.choice(list(TYPES))
        share = rng.choice([0.0, 0.3, 0.5, 1.0])
        caps = ("spot",) if share == 1.0 else (("spot", "on-demand") if share else ("on-demand",))
        if rng.random() < 0.6:
            metric = PrometheusMetric(
                "http://prom:9090", f'sum(rate(req_total{{svc="s{i}"}}[2m]))', rng.uniform(1, 50)
            )
        else:
            metric = QueueMetric(
                "rabbitmq", f"q{i}", rng.randint(5, 100), connection_env="AMQP_URL"
            )
        lo = rng.randint(0, 4)
        hi = lo + rng.randint(2, 40)
        schedules = (
            (
                ScheduleWindow(
                    "peak", "Europe/London", "0 8 * * 1-5", "0 19 * * 1-5", min(hi, lo + 3)
                ),
            )
            if rng.random() < 0.5
            else ()
        )
        out.append(
            PlanDecision(
                service_slug=f"svc-{i}",
                namespace=f"team-{i % 12}",
                cluster=f"{provider}-c{i % 4}",
                deployment_name=f"svc-{i}",
                provider=provider,
                instance_types=tuple(TYPES[provider]),
                min_replicas=lo,
                max_replicas=hi,
                metric=metric,
                spot_share=share,
                capacity_types=caps,
                fallback_replicas=lo,
                schedules=schedules,
                expected_monthly_cost_usd=rng.uniform(500, 90000),
            )
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=400)
    args = ap.parse_args()
    plan = fleet(args.services)
    previous = fleet(args.services, seed=8)
    build_bundle(plan[:2])  # load and compile the schemas once (cached, as in the server)

    t0 = time.perf_counter()
    bundle = build_bundle(plan, previous, plan_version=2)
    zipped = bundle.to_zip()
    seconds = time.perf_counter() - t0

    rendered = [(d, render_scaled_object(d, 2), render_node_pools(d, 2)) for d in plan]
    t0 = time.perf_counter()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for d, so, pools in rendered:
            zf.writestr(f"{d.cluster}/{d.namespace}/{d.deployment_name}.yaml", dump_manifests([so]))
            for p in pools:
                zf.writestr(
                    f"{d.cluster}/karpenter/{p['metadata']['name']}.yaml", dump_manifests([p])
                )
    baseline_seconds = time.perf_counter() - t0

    rng = random.Random(1)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    scheduled = [d for d in plan if d.schedules]
    lat = []
    for _ in range(500):
        d = rng.choice(scheduled)
        when = start + dt.timedelta(minutes=rng.randrange(365 * 24 * 60))
        t = time.perf_counter()
        target_at(d, when)
        lat.append((time.perf_counter() - t) * 1000)
    lat.sort()
    manifests = len(bundle.manifest_paths())
    result = {
        "bench": "plans_export",
        "services": args.services,
        "manifests": manifests,
        "seconds": round(seconds, 4),
        "baseline": "yaml+zip of pre-rendered manifests, no validation",
        "baseline_seconds": round(baseline_seconds, 4),
        "vs_baseline": round(seconds / baseline_seconds, 2),
        "ms_per_manifest": round(seconds * 1000 / manifests, 3),
        "zip_bytes": len(zipped),
        "live_target_p50_ms": round(lat[len(lat) // 2], 3),
        "live_target_p99_ms": round(lat[int(len(lat) * 0.99)], 3),
    }
    print(
        f"{manifests} manifests for {args.services} services validated and zipped in {seconds:.2f} s "
        f"(no-validation baseline {baseline_seconds:.2f} s); live target p50 {result['live_target_p50_ms']} ms"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
