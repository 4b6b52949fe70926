"""Usage ingest against the real Prometheus server (Debian package), backfilled with promtool.

Generated DCGM-exporter-style series (counter names from ../shared/data/metrics/ when present)
for two deployments — whole A10G GPUs with a 20-minute gap, and an A100 split into MIG
instances — plus request counters, a latency histogram and a queue gauge, are written as
OpenMetrics, turned into TSDB blocks by ``promtool tsdb create-blocks-from openmetrics`` and
served by ``prometheus`` on a free local port. The stored UsageSample rows are checked
against the values written (with Prometheus' 5-minute lookback reproduced independently).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from ingest.prometheus import PrometheusClient, read_usage, selector_for
from ingest.retry import RetryPolicy
from tests.conftest import SHARED_DATA
from tests.system.prometheus_server import backfilled_prometheus

pytestmark = pytest.mark.system

T0 = int(dt.datetime(2026, 1, 5, tzinfo=dt.UTC).timestamp())
MINUTES = 120
GAP = range(60, 80)  # deployment A's GPU series stop reporting for these minutes
PODS = (0, 1)
FB_TOTAL_MIB = 24564.0
BUCKETS = (
    ("0.1", 2),
    ("0.25", 6),
    ("0.5", 9),
    ("1", 10),
    ("+Inf", 10),
)  # cumulative requests/s per pod
MIG = (("1g.10gb", "1"), ("1g.10gb", "2"), ("3g.40gb", "3"))


def util(p: int, m: int) -> float:
    return 40.0 + 10 * p + (m % 30)


def fb_used(p: int, m: int) -> float:
    return 10000.0 + 100 * p + m


def gr_active(gi: str, m: int) -> float:
    return {"1": 0.2 + 0.01 * (m % 10), "2": 0.4, "3": 0.75}[gi]


def mig_fb_used(gi: str, m: int) -> float:
    return {"1": 5000.0 + m, "2": 7000.0, "3": 30000.0 - m}[gi]


MIG_FB_TOTAL = {"1": 9856.0, "2": 9856.0, "3": 40192.0}


def _dcgm_names() -> set[str]:
    path = SHARED_DATA / "metrics" / "dcgm_default_counters_parsed.csv"
    if not path.exists():
        return set()
    with open(path, newline="") as f:
        return {r["field"] for r in csv.DictReader(f)}


def write_openmetrics(path: Path) -> None:
    names = _dcgm_names()
    for used in (
        "DCGM_FI_DEV_GPU_UTIL",
        "DCGM_FI_DEV_FB_USED",
        "DCGM_FI_DEV_FB_FREE",
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
    ):
        assert not names or used in names, f"{used} is not a dcgm-exporter default counter"
    lines: list[str] = []

    def series(name: str, labels: dict[str, str], values) -> None:
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for m, v in values:
            lines.append(f"{name}{{{lab}}} {v} {T0 + 60 * m}")

    a_minutes = [m for m in range(MINUTES) if m not in GAP]

    def pod_a(p):
        return {
            "namespace": "prod",
            "pod": f"chat-a10g-{p}",
            "gpu": "0",
            "UUID": f"GPU-a{p}",
            "modelName": "NVIDIA A10G",
        }  # noqa: E731

    pod_m = {
        "namespace": "prod",
        "pod": "embed-mig-0",
        "gpu": "0",
        "UUID": "GPU-m0",
        "modelName": "NVIDIA A100-SXM4-40GB",
    }
    lines.append("# TYPE DCGM_FI_DEV_GPU_UTIL gauge")
    for p in PODS:
        series("DCGM_FI_DEV_GPU_UTIL", pod_a(p), [(m, util(p, m)) for m in a_minutes])
    for name, fn in (
        ("DCGM_FI_DEV_FB_USED", lambda p, m: fb_used(p, m)),
        ("DCGM_FI_DEV_FB_FREE", lambda p, m: FB_TOTAL_MIB - fb_used(p, m)),
    ):
        lines.append(f"# TYPE {name} gauge")
        for p in PODS:
            series(name, pod_a(p), [(m, fn(p, m)) for m in a_minutes])
        for prof, gi in MIG:
            labels = {**pod_m, "GPU_I_PROFILE": prof, "GPU_I_ID": gi}
            if name == "DCGM_FI_DEV_FB_USED":
                series(name, labels, [(m, mig_fb_used(gi, m)) for m in range(MINUTES)])
            else:
                series(
                    name,
                    labels,
                    [(m, MIG_FB_TOTAL[gi] - mig_fb_used(gi, m)) for m in range(MINUTES)],
                )
    lines.append("# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge")
    for prof, gi in MIG:
        series(
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
            {**pod_m, "GPU_I_PROFILE": prof, "GPU_I_ID": gi},
            [(m, gr_active(gi, m)) for m in range(MINUTES)],
        )
    lines.append("# TYPE http_requests counter")
    for p in PODS:
        series(
            "http_requests_total",
            {"namespace": "prod", "pod": f"chat-a10g-{p}"},
            [(m, (5 + p) * 60 * m) for m in range(MINUTES)],
        )
    series(
        "http_requests_total",
        {"namespace": "prod", "pod": "embed-mig-0"},
        [(m, 3 * 60 * m) for m in range(MINUTES)],
    )
    lines.append("# TYPE inference_queue_depth gauge")
    for p in PODS:
        series(
            "inference_queue_depth",
            {"namespace": "prod", "pod": f"chat-a10g-{p}"},
            [(m, p + m % 4) for m in range(MINUTES)],
        )
    lines.append("# TYPE http_request_duration_seconds histogram")
    for p in PODS:
        base = {"namespace": "prod", "pod": f"chat-a10g-{p}"}
        for le, per_s in BUCKETS:
            series(
                "http_request_duration_seconds_bucket",
                {**base, "le": le},
                [(m, per_s * 60 * m) for m in range(MINUTES)],
            )
        series(
            "http_request_duration_seconds_count", base, [(m, 10 * 60 * m) for m in range(MINUTES)]
        )
        series(
            "http_request_duration_seconds_sum", base, [(m, 3.0 * 60 * m) for m in range(MINUTES)]
        )
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prom")
    write_openmetrics(tmp / "series.om")
    with backfilled_prometheus(tmp, (tmp / "series.om").read_text()) as url:
        yield url


def _latest(minutes_present: list[int], m: int) -> int | None:
    """Prometheus' instant-vector lookback: newest sample at most 5 minutes old."""
    older = [x for x in minutes_present if x <= m and m - x < 5]
    return max(older) if older else None


START = dt.datetime.fromtimestamp(T0, dt.UTC)
END = START + dt.timedelta(minutes=MINUTES - 1)


def _client(url: str) -> PrometheusClient:
    return PrometheusClient(url, policy=RetryPolicy(attempts=2, base_s=0.0))


def test_whole_gpu_usage_matches_the_series_written(prometheus_url):
    res = read_usage(
        _client(prometheus_url), selector_for("prod", "chat-a10g"), START, END, step_s=60
    )
    rows = {int(r.ts.timestamp() - T0) // 60: r for r in res.rows}
    assert {r.mig_profile for r in res.rows} == {""}
    present = [m for m in range(MINUTES) if m not in GAP]
    for m in range(MINUTES):
        r = rows[m]
        src = _latest(present, m)
        if m - 59 == 5:
            continue  # exactly on the lookback boundary
        if src is None:
            assert r.gpu_util_pct is None and r.gpu_mem_used_gib is None and r.replicas is None, m
        else:
            assert r.gpu_util_pct == pytest.approx((util(0, src) + util(1, src)) / 2), m
            assert r.gpu_mem_used_gib == pytest.approx(
                (fb_used(0, src) + fb_used(1, src)) / 2 / 1024
            ), m
            assert r.gpu_mem_total_gib == pytest.approx(FB_TOTAL_MIB / 1024)
            assert r.replicas == 2
        assert r.queue_depth == 0 + 1 + 2 * (m % 4), m
        if m >= 5:  # a full 5-minute rate window
            assert r.request_rate_rps == pytest.approx(11.0, rel=1e-9)
            assert r.p50_latency_ms == pytest.approx(
                212.5, rel=1e-9
            )  # 0.1 + 0.15 * (10-4)/(12-4) s
            assert r.p95_latency_ms == pytest.approx(
                750.0, rel=1e-9
            )  # 0.5 + 0.5 * (19-18)/(20-18) s
    gaps = [x for x in res.missing if x.startswith("gpu_util_pct")]
    assert gaps and "no data at 15 of 120 steps" in gaps[0]  # minutes 65..79


@pytest.mark.django_db
def test_mig_instances_stay_separate_and_missing_series_are_reported(prometheus_url, settings):
    from planner.billing.models import IngestRun
    from planner.core.models import Deployment, Service
    from planner.usage.models import UsageSample
    from planner.usage.tasks import ingest_prometheus_usage

    svc = Service.objects.create(
        slug="prom-embeddings",
        name="Embeddings",
        modality="embeddings",
        unit_of_work="1k tokens",
        units_per_request=0.5,
        latency_slo_p95_ms=200,
    )
    dep = Deployment.objects.create(
        service=svc,
        name="embed-mig",
        provider="aws",
        region="us-east-1",
        instance_type="p4d.24xlarge",
        gpu_model="A100",
        mig_profile="1g.10gb",
        throughput_rps_per_replica=50,
        namespace="prod",
    )
    settings.PROMETHEUS_URL = prometheus_url
    out = ingest_prometheus_usage.delay(dep.pk, START.isoformat(), END.isoformat(), 60).get()
    samples = UsageSample.objects.filter(deployment=dep)
    assert set(samples.values_list("mig_profile", flat=True)) == {"1g.10gb", "3g.40gb"}
    assert samples.count() == 2 * MINUTES
    for m in (0, 7, 42, 119):
        ts = START + dt.timedelta(minutes=m)
        small = samples.get(ts=ts, mig_profile="1g.10gb")
        big = samples.get(ts=ts, mig_profile="3g.40gb")
        assert small.gpu_util_pct == pytest.approx(
            (gr_active("1", m) + gr_active("2", m)) / 2 * 100
        )
        assert big.gpu_util_pct == pytest.approx(75.0)
        assert small.gpu_mem_used_gib == pytest.approx(
            (mig_fb_used("1", m) + mig_fb_used("2", m)) / 2 / 1024
        )
        assert big.gpu_mem_total_gib == pytest.approx(MIG_FB_TOTAL["3"] / 1024)
        assert big.request_rate_rps is None  # traffic belongs to the deployment's own profile
        if m >= 5:
            assert small.request_rate_rps == pytest.approx(3.0)
            assert small.units_of_work == pytest.approx(3.0 * 60 * 0.5)
        assert small.queue_depth is None and small.p95_latency_ms is None  # missing, not zero
    missing = out["missing"]
    assert any(x.startswith("queue_depth: no series") for x in missing)
    assert any(x.startswith("p95_latency_ms: no series") for x in missing)
    run = IngestRun.objects.get(source="prometheus")
    assert run.status == "succeeded" and run.rows_stored == 2 * MINUTES
    assert any("queue_depth" in w for w in run.warnings)

    # Re-reading the same window replaces the rows (idempotent), it does not duplicate them.
    ingest_prometheus_usage.delay(dep.pk, START.isoformat(), END.isoformat(), 60).get()
    assert UsageSample.objects.filter(deployment=dep).count() == 2 * MINUTES

    # A read that returns nothing at all (here: a selector matching no series) keeps what was stored.
    from django.test import override_settings

    from planner.usage.tasks import store_usage

    with override_settings(PROMQL_SELECTOR='namespace="nowhere"'):
        empty = store_usage(dep, START, END, step_s=60)
    assert all(r.gpu_util_pct is None for r in empty.rows)
    assert any(m.startswith("gpu_util_pct: no series") for m in empty.missing)
    assert UsageSample.objects.filter(deployment=dep).count() == 2 * MINUTES
