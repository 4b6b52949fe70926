"""Inference-server metrics (vLLM, Triton, TGI, custom counters) through the real Prometheus server.

Two hours of series in each server's own metric names (vLLM's ``vllm:`` counters, gauges and
histograms; Triton's ``nv_inference_*`` counters without ``_total``; TGI's ``tgi_*``; a custom
images counter) are backfilled with promtool and read by the usage ingest task. The stored
samples, hourly latency histograms, unit costs and the KEDA queue trigger are checked against
values worked out by hand from the series written.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
import requests

from tests.system.prometheus_server import backfilled_prometheus

pytestmark = pytest.mark.system

T0 = int(dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp())
MINUTES = 120
START = dt.datetime.fromtimestamp(T0, dt.UTC)
END = START + dt.timedelta(minutes=MINUTES - 1)
CHAT_PODS = (0, 1)


def r_chat(p: int) -> int:
    return 2 * (p + 1) + 1  # requests per minute: pod 0 -> 3, pod 1 -> 5


# per-minute cumulative bucket increments per pod (bounds in the server's unit)
E2E = ((0.5, 1, 2.5, 5, math.inf), {0: (1, 2, 3, 3, 3), 1: (1, 3, 4, 5, 5)})
TTFT = ((0.1, 0.25, 0.5, math.inf), {0: (1, 2, 3, 3), 1: (2, 4, 5, 5)})
ITL = ((0.01, 0.025, 0.05, math.inf), {0: (10, 40, 50, 50), 1: (20, 60, 100, 100)})
TRITON_TTFT = ((10, 50, 100, math.inf), (30, 54, 60, 60))
TGI_E2E = ((1, 5, 10, math.inf), (2, 8, 10, 10))


def _le(b: float) -> str:
    return "+Inf" if math.isinf(b) else repr(float(b))


def openmetrics() -> str:
    lines: list[str] = []

    def series(name: str, labels: dict[str, str], per_minute: float, gauge: bool = False) -> None:
        lab = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for m in range(MINUTES):
            v = per_minute if gauge else per_minute * m
            lines.append(f"{name}{{{lab}}} {v} {T0 + 60 * m}")

    def hist(name: str, labels: dict, bounds, cum) -> None:
        for b, c in zip(bounds, cum, strict=True):
            series(f"{name}_bucket", {**labels, "le": _le(b)}, c)

    for p in CHAT_PODS:
        pod = {"namespace": "prod", "pod": f"chat-vllm-{p}", "model_name": "llama"}
        series("vllm:prompt_tokens_total", pod, 1000 * (p + 1))
        series("vllm:generation_tokens_total", pod, 300 * (p + 1))
        series("vllm:request_success_total", {**pod, "finished_reason": "stop"}, r_chat(p) - 1)
        series("vllm:request_success_total", {**pod, "finished_reason": "length"}, 1)
        series("vllm:request_prefill_time_seconds_sum", pod, 0.5 * (p + 1))
        series("vllm:request_decode_time_seconds_sum", pod, 4 * (p + 1))
        series("vllm:request_decode_time_seconds_count", pod, r_chat(p))
        series("DCGM_FI_DEV_FB_USED", {**pod, "gpu": "0"}, 10000, gauge=True)
        series("vllm:num_requests_running", pod, 4 + p, gauge=True)
        series("vllm:kv_cache_usage_perc", pod, 0.5 + 0.1 * p, gauge=True)
        lab = ",".join(f'{k}="{v}"' for k, v in pod.items())
        for m in range(MINUTES):
            lines.append(f"vllm:num_requests_waiting{{{lab}}} {p + m % 5} {T0 + 60 * m}")
        hist("vllm:e2e_request_latency_seconds", pod, E2E[0], E2E[1][p])
        hist("vllm:time_to_first_token_seconds", pod, TTFT[0], TTFT[1][p])
        hist("vllm:inter_token_latency_seconds", pod, ITL[0], ITL[1][p])
    tri = {"namespace": "prod", "pod": "embed-triton-0", "model": "embed", "version": "1"}
    series("nv_inference_request_success", tri, 60)
    series("nv_inference_count", tri, 60)
    series("nv_inference_exec_count", tri, 7.5)
    series("nv_inference_compute_infer_duration_us", tri, 60 * 24000)
    series("nv_inference_queue_duration_us", tri, 60 * 5000)
    series("nv_inference_pending_request_count", tri, 3, gauge=True)
    hist("nv_inference_first_response_histogram_ms", tri, *TRITON_TTFT)
    tgi = {"namespace": "prod", "pod": "summ-tgi-0"}
    series("tgi_request_success", tgi, 10)
    series("tgi_request_input_length_sum", tgi, 3000)
    series("tgi_request_generated_tokens_sum", tgi, 500)
    series("tgi_batch_inference_duration_sum", {**tgi, "method": "prefill"}, 2)
    series("tgi_batch_inference_duration_sum", {**tgi, "method": "decode"}, 38)
    series("tgi_request_inference_duration_sum", tgi, 40)
    series("tgi_request_inference_duration_count", tgi, 10)
    series("tgi_queue_size", tgi, 7, gauge=True)
    series("tgi_batch_current_size", tgi, 4, gauge=True)
    hist("tgi_request_duration", tgi, *TGI_E2E)
    img = {"namespace": "prod", "pod": "img-gen-0"}
    series("imagegen_images_generated_total", img, 4)
    series("imagegen_requests_total", img, 2)
    return "\n".join(lines + ["# EOF"]) + "\n"


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory):
    with backfilled_prometheus(tmp_path_factory.mktemp("serving"), openmetrics()) as url:
        yield url


def _deployment(slug, name, unit, stack, mapping=None, **kw):
    from planner.core.models import Deployment, Service
    from planner.usage.models import ServingEndpoint

    svc = Service.objects.create(
        slug=slug,
        name=slug,
        modality=kw.pop("modality", "llm_chat"),
        unit_of_work=unit,
        units_per_request=kw.pop("units_per_request", 1.0),
        latency_slo_p95_ms=kw.pop("slo", 6000),
    )
    dep = Deployment.objects.create(
        service=svc,
        name=name,
        provider="aws",
        region="us-east-1",
        instance_type="g5.xlarge",
        gpu_model="A10G",
        namespace="prod",
        throughput_rps_per_replica=kw.pop("rps", 4.0),
    )
    ServingEndpoint.objects.create(deployment=dep, stack=stack, metrics_mapping=mapping or {})
    return dep


def _ingest(dep, url, settings):
    from planner.usage.tasks import ingest_prometheus_usage

    settings.PROMETHEUS_URL = url
    return ingest_prometheus_usage.delay(dep.pk, START.isoformat(), END.isoformat(), 60).get()


def _at(dep, m):
    return dep.usage_samples.get(ts=START + dt.timedelta(minutes=m))


@pytest.mark.django_db
def test_vllm_tokens_latency_and_unit_cost_through_prometheus(prometheus_url, settings):
    from planner.billing.models import CostRollup
    from planner.core.models import CloudAccount
    from planner.usage.economics import service_unit_costs
    from planner.usage.models import LatencyHistogram
    from planner.usage.slo import latency_slos

    dep = _deployment("vllm-chat", "chat-vllm", "1k tokens", "vllm", slo=3000, rps=1.0)
    out = _ingest(dep, prometheus_url, settings)
    for m in (1, 7, 64, 119):
        s = _at(dep, m)
        assert s.input_tokens == pytest.approx(3000) and s.output_tokens == pytest.approx(900)
        assert s.requests_succeeded == pytest.approx(8)
        assert s.prefill_seconds == pytest.approx(1.5) and s.decode_seconds == pytest.approx(12)
        assert s.service_time_ms == pytest.approx(13.5 / 8 * 1000)
        assert s.batch_size == pytest.approx(4.5) and s.running_requests == pytest.approx(9)
        assert s.queue_depth == 1 + 2 * (m % 5) and s.kv_cache_pct == pytest.approx(55.0)
        assert s.units_of_work == pytest.approx(3.9)  # measured tokens / 1000, not requests × 1.0
        assert s.replicas == 2
    s = _at(dep, 7)  # rate window full: per-step quantiles from the histograms
    assert s.p50_latency_ms == pytest.approx(500 + 500 * 2 / 3)  # rank 4 of 8 in (0.5, 1] s
    assert s.p95_latency_ms == pytest.approx(4000)  # rank 7.6 in (2.5, 5] s
    assert s.ttft_p95_ms == pytest.approx(450)  # rank 7.6 of 8 in (0.25, 0.5] s
    assert s.itl_p95_ms == pytest.approx(46.25)  # rank 142.5 of 150 in (25, 50] ms
    assert _at(dep, 0).input_tokens is None  # no earlier sample: not measured, not zero
    assert any(x.startswith("queue histogram: no series") for x in out["missing"])

    hists = {h.kind: h for h in LatencyHistogram.objects.filter(deployment=dep)}
    assert set(hists) == {"e2e", "ttft", "itl"}
    assert hists["e2e"].end == START + dt.timedelta(hours=1)
    assert hists["e2e"].counts == pytest.approx([120, 180, 120, 60, 0])  # 60 min × per-minute
    assert hists["e2e"].bounds_ms[:4] == pytest.approx([500, 1000, 2500, 5000])
    assert hists["e2e"].bounds_ms[-1] is None and hists["e2e"].source_metric.startswith("vllm:e2e")
    slos = {x.kind: x for x in latency_slos(dep.service, START.date(), START.date())}
    assert slos["e2e"].p95_ms == pytest.approx(4000) and slos["ttft"].p95_ms == pytest.approx(450)
    # share within 3 s: 420 of 480 within 2.5 s, plus 0.5/2.5 of the 60 in (2.5, 5]
    assert slos["e2e"].attainment == pytest.approx((420 + 60 * 0.2) / 480)

    account = CloudAccount.objects.create(provider="aws", account_id="1", name="a")
    CostRollup.objects.create(
        date=START.date(),
        account=account,
        billing_period_start=START.date().replace(day=1),
        provider="AWS",
        service=dep.service,
        billed_cost=Decimal(12),
        effective_cost=Decimal(12),
        list_cost=Decimal(12),
    )
    costs = {u.unit: u for u in service_unit_costs(dep.service, START.date(), START.date())}
    tin, tout = 119 * 3000, 119 * 900  # minutes 1..119 carry an increase
    assert costs["1M input tokens"].usd_per_unit == pytest.approx(12 / 9 / (tin / 1e6))
    assert costs["1M output tokens"].usd_per_unit == pytest.approx(12 * 8 / 9 / (tout / 1e6))
    assert costs["1M input tokens"].metric == "vllm:prompt_tokens_total (vLLM)"
    assert costs["1M input tokens"].rule == "measured prefill/decode GPU time"
    gpu_s = 120 * 2 * 60  # every stored minute: 2 replicas × 1 GPU × 60 s
    assert costs["1M output tokens"].gpu_seconds_per_unit == pytest.approx(
        gpu_s * 8 / 9 / (tout / 1e6)
    )


@pytest.mark.django_db
def test_vllm_waiting_requests_drive_the_keda_queue_trigger(prometheus_url, settings):
    from planner.plans.demo import decision_from_deployment
    from planner.plans.exports.autoscalers import render_scaled_object
    from planner.usage.slo import keda_queue_metric

    dep = _deployment("vllm-queue", "chat-vllm", "1k tokens", "vllm", slo=3000, rps=1.0)
    _ingest(dep, prometheus_url, settings)
    metric = keda_queue_metric(dep, prometheus_url)
    # budget = SLO 3000 ms − measured p95 service time 1687.5 ms; 1 req/s drains 1.3 waiting
    assert metric.threshold == pytest.approx(1.3)
    scaled = render_scaled_object(decision_from_deployment(dep, metric=metric))
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "prometheus" and trigger["metadata"]["threshold"] == "1.3"
    assert "vllm:num_requests_waiting" in trigger["metadata"]["query"]
    at = T0 + 7 * 60  # waiting = 0 + 1 + 2 × (7 % 5) = 5 requests
    answer = requests.get(
        f"{prometheus_url}/api/v1/query",
        params={"query": trigger["metadata"]["query"], "time": at},
        timeout=10,
    ).json()
    value = float(answer["data"]["result"][0]["value"][1])
    assert value == 5.0
    assert math.ceil(value / float(trigger["metadata"]["threshold"])) == 4  # KEDA's replicas


@pytest.mark.django_db
def test_triton_batch_size_service_time_and_first_response(prometheus_url, settings):
    from planner.usage.slo import latency_slos

    dep = _deployment("triton-embed", "embed-triton", "1k tokens", "triton", units_per_request=0.5)
    _ingest(dep, prometheus_url, settings)
    s = _at(dep, 30)
    assert s.batch_size == pytest.approx(8.0)  # 60 inferences / 7.5 executions
    assert s.service_time_ms == pytest.approx(24.0) and s.queue_time_ms == pytest.approx(5.0)
    assert s.queue_depth == 3 and s.requests_succeeded == pytest.approx(60)
    # Triton counts no tokens: units stay estimated from requests × units_per_request
    assert s.input_tokens is None and s.units_of_work == pytest.approx(1.0 * 60 * 0.5)
    ttft = {x.kind: x for x in latency_slos(dep.service, START.date(), START.date())}["ttft"]
    assert ttft.p95_ms == pytest.approx(75.0)  # rank 57 of 60 in (50, 100] ms
    assert ttft.metric == "nv_inference_first_response_histogram_ms_bucket"


@pytest.mark.django_db
def test_tgi_tokens_split_and_latency(prometheus_url, settings):
    from planner.usage.slo import latency_slos

    dep = _deployment("tgi-summ", "summ-tgi", "1k tokens", "tgi")
    out = _ingest(dep, prometheus_url, settings)
    s = _at(dep, 30)
    assert s.input_tokens == pytest.approx(3000) and s.output_tokens == pytest.approx(500)
    assert s.prefill_seconds == pytest.approx(2) and s.decode_seconds == pytest.approx(38)
    assert s.service_time_ms == pytest.approx(4000) and s.batch_size == 4 and s.queue_depth == 7
    assert s.p50_latency_ms == pytest.approx(3000) and s.p95_latency_ms == pytest.approx(8750)
    assert s.ttft_p95_ms is None  # TGI exports no TTFT; not invented
    e2e = {x.kind: x for x in latency_slos(dep.service, START.date(), START.date())}["e2e"]
    assert e2e.p95_ms == pytest.approx(8750) and e2e.requests == pytest.approx(600)
    assert not any("ttft" in x for x in out["missing"])  # TGI's map does not ask for it


@pytest.mark.django_db
def test_generic_images_counter_measures_units(prometheus_url, settings):
    dep = _deployment(
        "img",
        "img-gen",
        "1k images",
        "generic",
        {
            "images": "imagegen_images_generated_total",
            "requests_succeeded": "imagegen_requests_total",
        },
        modality="image_generation",
    )
    _ingest(dep, prometheus_url, settings)
    s = _at(dep, 30)
    assert s.images == pytest.approx(4) and s.requests_succeeded == pytest.approx(2)
    assert s.units_of_work == pytest.approx(0.004)  # 4 images in "1k images"
    assert s.request_rate_rps == pytest.approx(2 / 60)
