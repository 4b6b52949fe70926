"""Every metric the vLLM, Triton and TGI maps query exists, with the queried type, in the servers'
real exposition (../shared/data/metrics/*.prom) or the metric catalog (inference_server_metrics.csv);
the generic mapping renders custom counters and refuses what it cannot read."""

from __future__ import annotations

import csv
import re

import pytest

from ingest.prometheus.serving import (
    ServingConfigError,
    generic_stack,
    render,
    stack,
)
from tests.conftest import SHARED_DATA

METRICS = SHARED_DATA / "metrics"
SERVER_OF = {"vllm": "vllm", "triton": "triton", "tgi": "tgi"}
FIXTURE = {"vllm": "vllm_metrics.prom", "triton": "triton_metrics.prom", "tgi": "tgi_metrics.prom"}
SUFFIX_TYPES = {"_bucket": "histogram", "_sum": "histogram", "_count": "histogram"}
NAME = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{")


def documented_types(server: str) -> dict[str, str]:
    """{family: type} from the fixture's # TYPE lines and the catalog rows of ``server``."""
    if not METRICS.exists():
        pytest.skip("../shared/data/metrics is not available")
    types: dict[str, str] = {}
    for line in (METRICS / FIXTURE[server]).read_text().splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()[:4]
            types[name] = kind
    with open(METRICS / "inference_server_metrics.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["server"] == server:
                name = row["metric"]
                if row["type"] == "counter" and name.endswith("_total"):
                    name = name.removesuffix("_total")
                assert types.get(name, row["type"]) == row["type"], name
                types.setdefault(name, row["type"])
    return types


def family_and_type(series: str, types: dict[str, str]) -> tuple[str, str]:
    """The family a queried series belongs to and the type that series implies."""
    for suffix, kind in SUFFIX_TYPES.items():
        if series.endswith(suffix) and series.removesuffix(suffix) in types:
            return series.removesuffix(suffix), kind
    if series.endswith("_total") and series.removesuffix("_total") in types:
        return series.removesuffix("_total"), "counter"
    return series, types.get(series, "missing")


def queried_series(promql: str) -> list[str]:
    return NAME.findall(promql)


@pytest.mark.parametrize("server", ["vllm", "triton", "tgi"])
def test_vllm_triton_tgi_queries_use_documented_names_and_types(server):
    types = documented_types(server)
    s = stack(server)
    promqls = list(s.templates.values()) + [
        h.bucket_metric + "{SEL}" for h in s.histograms.values()
    ]
    checked = 0
    for promql in filter(None, promqls):
        for series in queried_series(promql):
            family, implied = family_and_type(series, types)
            assert family in types, f"{server}: {series} is not a documented metric"
            documented = types[family]
            if "increase(" in promql and series in promql.split("increase(", 1)[1]:
                # increase()/rate() only on counters or a histogram's cumulative series
                assert documented in ("counter", "histogram"), (series, documented)
            if implied == "histogram":
                assert documented == "histogram", (series, documented)
            if promql.startswith(("avg(" + series, "sum(" + series)):
                assert documented == "gauge", (series, documented)
            checked += 1
    assert checked >= {"vllm": 15, "triton": 8, "tgi": 12}[server]


def test_vllm_tokens_and_queue_come_from_the_documented_counters():
    s = stack("vllm")
    assert s.unit_metrics["input_tokens"] == "vllm:prompt_tokens_total"
    assert s.unit_metrics["output_tokens"] == "vllm:generation_tokens_total"
    assert s.queue_metric == "vllm:num_requests_waiting"
    sel = 'namespace="prod",pod=~"chat-.*"'
    assert (
        render(s.templates["input_tokens"], sel, 60, "5m")
        == 'sum(increase(vllm:prompt_tokens_total{namespace="prod",pod=~"chat-.*"}[60s]))'
    )
    # vLLM reports KV-cache usage as a fraction (0-1): Headroom stores percent
    assert render(s.templates["kv_cache_pct"], sel, 60, "5m").endswith("* 100")


def test_triton_batch_size_is_inference_count_over_execution_count():
    q = render(stack("triton").templates["batch_size"], 'namespace="a"', 60, "5m")
    assert q == (
        '(sum(increase(nv_inference_count{namespace="a"}[60s]))) / '
        '(sum(increase(nv_inference_exec_count{namespace="a"}[60s])))'
    )
    # the TRT-LLM KV fraction keeps its own label matcher beside the deployment's selector
    kv = render(stack("triton").templates["kv_cache_pct"], 'namespace="a"', 60, "5m")
    assert 'kv_cache_block_type="fraction",namespace="a"' in kv


def test_tgi_counters_have_no_total_suffix_and_split_prefill_from_decode():
    s = stack("tgi")
    assert "tgi_request_success{SEL}" in s.templates["requests_succeeded"]
    assert 'method="prefill",SEL' in s.templates["prefill_seconds"]
    assert 'method="decode",SEL' in s.templates["decode_seconds"]
    assert "ttft_p95_ms" not in s.templates  # TGI exports no time-to-first-token histogram


def test_generic_mapping_renders_counters_gauges_and_templates():
    g = generic_stack(
        {
            "images": "imagegen_images_total",
            "queue_depth": "imagegen_queue_length",
            "audio_seconds": "sum(increase(asr_ms_total{SEL}[STEP])) / 1000",
            "requests_succeeded": "imagegen_requests_total",
            "e2e_histogram": "imagegen_request_duration_seconds_bucket",
        }
    )
    r = g.render('job="x"', 300, "5m")
    assert r["images"] == 'sum(increase(imagegen_images_total{job="x"}[300s]))'
    assert r["queue_depth"] == 'sum(imagegen_queue_length{job="x"})'
    assert r["audio_seconds"] == 'sum(increase(asr_ms_total{job="x"}[300s])) / 1000'
    assert r["request_rate_rps"] == 'sum(rate(imagegen_requests_total{job="x"}[5m]))'
    assert g.unit_metrics["images"] == "imagegen_images_total"
    assert g.histograms["e2e"].bucket_metric == "imagegen_request_duration_seconds_bucket"


@pytest.mark.parametrize(
    "mapping, where",
    [
        ({"pixels": "x_total"}, "'pixels'"),
        ({"images": "rate(x[5m])"}, "'images'"),
        ({"latency_histogram": "x_bucket"}, "'latency_histogram'"),
    ],
)
def test_generic_mapping_errors_name_the_key(mapping, where):
    with pytest.raises(ServingConfigError, match=where):
        generic_stack(mapping)


def test_unknown_stack_is_refused():
    with pytest.raises(ServingConfigError, match="'sglang'"):
        stack("sglang")
