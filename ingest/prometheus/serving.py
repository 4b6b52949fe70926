"""Inference-server metrics per serving stack: vLLM, NVIDIA Triton, Hugging Face TGI, generic.

Each stack maps Headroom's usage fields to the server's own documented Prometheus metrics
(names and types checked against ``../shared/data/metrics/*.prom`` and
``inference_server_metrics.csv`` by the tests). Per-step *amounts* are the counter's
``increase`` over the step, so summing the steps gives the counter's growth over the window;
gauges are read as they are; quantiles come from the server's histograms.

======================  ======================================  ==================================  ===================================
field                   vLLM                                    Triton                              TGI
======================  ======================================  ==================================  ===================================
requests_succeeded      ``vllm:request_success_total``          ``nv_inference_request_success``    ``tgi_request_success``
input_tokens            ``vllm:prompt_tokens_total``            —                                   ``tgi_request_input_length_sum``
output_tokens           ``vllm:generation_tokens_total``        —                                   ``tgi_request_generated_tokens_sum``
prefill/decode_seconds  ``vllm:request_prefill|decode_time_*``  —                                   ``tgi_batch_inference_duration_sum``
batch_size              ``avg(vllm:num_requests_running)``      ``nv_inference_count / _exec_count`` ``avg(tgi_batch_current_size)``
service_time_ms         (prefill + decode) / requests           ``compute_infer_duration_us / req`` ``tgi_request_inference_duration``
queue_depth             ``vllm:num_requests_waiting``           ``nv_inference_pending_request_count`` ``tgi_queue_size``
kv_cache_pct            ``vllm:kv_cache_usage_perc`` × 100      TRT-LLM KV ``fraction`` × 100      —
latency histograms      e2e, TTFT, inter-token, queue           first response (TTFT)               e2e, mean time per token, queue
======================  ======================================  ==================================  ===================================

The *generic* stack maps custom counters (images, audio seconds, video seconds, tokens) given
per deployment: a bare metric name is read as ``sum(increase(name{sel}[step]))`` (a gauge field
as ``sum(name{sel})``); anything else is a PromQL template with the tokens ``SEL``, ``STEP``
and ``WINDOW``. Everything here is pure: no Django.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import ServingConfigError
from .usage import RangeQuerier

STACKS = ("vllm", "triton", "tgi", "generic")
#: Usage fields that are amounts per step (counter increases), summed over a window.
AMOUNT_FIELDS = (
    "requests_succeeded",
    "input_tokens",
    "output_tokens",
    "images",
    "audio_seconds",
    "video_seconds",
    "prefill_seconds",
    "decode_seconds",
)
#: Usage fields that are levels (gauges or ratios) at each step.
LEVEL_FIELDS = (
    "batch_size",
    "service_time_ms",
    "queue_time_ms",
    "running_requests",
    "kv_cache_pct",
    "ttft_p95_ms",
    "itl_p95_ms",
)
SERVING_FIELDS = AMOUNT_FIELDS + LEVEL_FIELDS
HISTOGRAM_KINDS = ("e2e", "ttft", "itl", "queue")
_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def _inc(metric: str, extra: str = "") -> str:
    return f"sum(increase({metric}{{{extra}SEL}}[STEP]))"


def _ratio(num: str, den: str, scale: float = 1.0) -> str:
    tail = "" if scale == 1.0 else f" * {scale:g}"
    return f"({num}) / ({den}){tail}"


def _quantile(q: float, bucket: str, to_ms: float) -> str:
    return f"histogram_quantile({q}, sum by (le) (rate({bucket}{{SEL}}[WINDOW]))) * {to_ms:g}"


@dataclass(frozen=True)
class Histogram:
    """One latency histogram of a stack: the ``_bucket`` series and the factor to milliseconds."""

    bucket_metric: str
    to_ms: float


@dataclass(frozen=True)
class ServingStack:
    """PromQL templates (tokens ``SEL``, ``STEP``, ``WINDOW``) by usage field, and histograms.

    ``unit_metrics`` names, per measured unit field, the server metric it comes from (shown
    beside every unit cost so a reader knows what produced it).
    """

    name: str
    templates: dict[str, str]
    histograms: dict[str, Histogram]
    unit_metrics: dict[str, str]
    queue_metric: str | None = None

    def render(self, selector: str, step_s: int, rate_window: str) -> dict[str, str]:
        return {k: render(v, selector, step_s, rate_window) for k, v in self.templates.items()}


def render(template: str, selector: str, step_s: int, rate_window: str) -> str:
    """Fill ``SEL`` (the label matchers, without braces), ``STEP`` and ``WINDOW``."""
    sel = selector.strip().strip(",")
    out = template.replace(",SEL}", f",{sel}}}" if sel else "}")
    out = out.replace("{SEL}", "{" + sel + "}")
    return out.replace("[STEP]", f"[{int(step_s)}s]").replace("[WINDOW]", f"[{rate_window}]")


def _vllm() -> ServingStack:
    ok = "vllm:request_success_total"
    running_s = _ratio(
        f"{_inc('vllm:request_prefill_time_seconds_sum')} + {_inc('vllm:request_decode_time_seconds_sum')}",
        _inc("vllm:request_decode_time_seconds_count"),
        1000.0,
    )
    e2e = "vllm:e2e_request_latency_seconds_bucket"
    return ServingStack(
        "vllm",
        {
            "request_rate_rps": f"sum(rate({ok}{{SEL}}[WINDOW]))",
            "queue_depth": "sum(vllm:num_requests_waiting{SEL})",
            "p50_latency_ms": _quantile(0.5, e2e, 1000.0),
            "p95_latency_ms": _quantile(0.95, e2e, 1000.0),
            "requests_succeeded": _inc(ok),
            "input_tokens": _inc("vllm:prompt_tokens_total"),
            "output_tokens": _inc("vllm:generation_tokens_total"),
            "prefill_seconds": _inc("vllm:request_prefill_time_seconds_sum"),
            "decode_seconds": _inc("vllm:request_decode_time_seconds_sum"),
            "batch_size": "avg(vllm:num_requests_running{SEL})",
            "running_requests": "sum(vllm:num_requests_running{SEL})",
            "service_time_ms": running_s,
            "queue_time_ms": _ratio(
                _inc("vllm:request_queue_time_seconds_sum"),
                _inc("vllm:request_queue_time_seconds_count"),
                1000.0,
            ),
            "kv_cache_pct": "avg(vllm:kv_cache_usage_perc{SEL}) * 100",
            "ttft_p95_ms": _quantile(0.95, "vllm:time_to_first_token_seconds_bucket", 1000.0),
            "itl_p95_ms": _quantile(0.95, "vllm:inter_token_latency_seconds_bucket", 1000.0),
        },
        {
            "e2e": Histogram(e2e, 1000.0),
            "ttft": Histogram("vllm:time_to_first_token_seconds_bucket", 1000.0),
            "itl": Histogram("vllm:inter_token_latency_seconds_bucket", 1000.0),
            "queue": Histogram("vllm:request_queue_time_seconds_bucket", 1000.0),
        },
        {
            "input_tokens": "vllm:prompt_tokens_total",
            "output_tokens": "vllm:generation_tokens_total",
            "requests_succeeded": ok,
        },
        queue_metric="vllm:num_requests_waiting",
    )


def _triton() -> ServingStack:
    ok = "nv_inference_request_success"
    return ServingStack(
        "triton",
        {
            "request_rate_rps": f"sum(rate({ok}{{SEL}}[WINDOW]))",
            "queue_depth": "sum(nv_inference_pending_request_count{SEL})",
            "p50_latency_ms": "",  # Triton has no end-to-end histogram (summaries are opt-in)
            "p95_latency_ms": "",
            "requests_succeeded": _inc(ok),
            "batch_size": _ratio(_inc("nv_inference_count"), _inc("nv_inference_exec_count")),
            "service_time_ms": _ratio(
                _inc("nv_inference_compute_infer_duration_us"), _inc(ok), 0.001
            ),
            "queue_time_ms": _ratio(_inc("nv_inference_queue_duration_us"), _inc(ok), 0.001),
            "kv_cache_pct": 'avg(nv_trt_llm_kv_cache_block_metrics{kv_cache_block_type="fraction",SEL}) * 100',
            "ttft_p95_ms": _quantile(0.95, "nv_inference_first_response_histogram_ms_bucket", 1.0),
        },
        {"ttft": Histogram("nv_inference_first_response_histogram_ms_bucket", 1.0)},
        {"requests_succeeded": ok},
        queue_metric="nv_inference_pending_request_count",
    )


def _tgi() -> ServingStack:
    ok = "tgi_request_success"  # TGI's counters carry no _total suffix
    e2e = "tgi_request_duration_bucket"
    return ServingStack(
        "tgi",
        {
            "request_rate_rps": f"sum(rate({ok}{{SEL}}[WINDOW]))",
            "queue_depth": "sum(tgi_queue_size{SEL})",
            "p50_latency_ms": _quantile(0.5, e2e, 1000.0),
            "p95_latency_ms": _quantile(0.95, e2e, 1000.0),
            "requests_succeeded": _inc(ok),
            "input_tokens": _inc("tgi_request_input_length_sum"),
            "output_tokens": _inc("tgi_request_generated_tokens_sum"),
            "prefill_seconds": _inc("tgi_batch_inference_duration_sum", 'method="prefill",'),
            "decode_seconds": _inc("tgi_batch_inference_duration_sum", 'method="decode",'),
            "batch_size": "avg(tgi_batch_current_size{SEL})",
            "running_requests": "sum(tgi_batch_current_size{SEL})",
            "service_time_ms": _ratio(
                _inc("tgi_request_inference_duration_sum"),
                _inc("tgi_request_inference_duration_count"),
                1000.0,
            ),
            "queue_time_ms": _ratio(
                _inc("tgi_request_queue_duration_sum"),
                _inc("tgi_request_queue_duration_count"),
                1000.0,
            ),
            "itl_p95_ms": _quantile(
                0.95, "tgi_request_mean_time_per_token_duration_bucket", 1000.0
            ),
        },
        {
            "e2e": Histogram(e2e, 1000.0),
            "itl": Histogram("tgi_request_mean_time_per_token_duration_bucket", 1000.0),
            "queue": Histogram("tgi_request_queue_duration_bucket", 1000.0),
        },
        {
            "input_tokens": "tgi_request_input_length_sum",
            "output_tokens": "tgi_request_generated_tokens_sum",
            "requests_succeeded": ok,
        },
        queue_metric="tgi_queue_size",
    )


GAUGE_FIELDS = {"queue_depth", "batch_size", "running_requests", "kv_cache_pct"}
GENERIC_KEYS = set(SERVING_FIELDS) | {"queue_depth", "request_rate_rps"}


def generic_stack(mapping: dict[str, str]) -> ServingStack:
    """A stack from custom counters: ``{"images": "imagegen_images_total", ...}``.

    Keys are usage fields (``images``, ``audio_seconds``, ``video_seconds``, ``input_tokens``,
    ...), or ``e2e_histogram`` / ``ttft_histogram`` naming a seconds ``_bucket`` series.
    """
    templates: dict[str, str] = {}
    histograms: dict[str, Histogram] = {}
    units: dict[str, str] = {}
    for key, value in sorted(mapping.items()):
        value = str(value).strip()
        if key.endswith("_histogram"):
            kind = key.removesuffix("_histogram")
            if kind not in HISTOGRAM_KINDS or not _METRIC_NAME.match(value):
                raise ServingConfigError(
                    f"generic metrics mapping, key {key!r}: expected one of "
                    f"{[k + '_histogram' for k in HISTOGRAM_KINDS]} naming a _bucket series"
                )
            histograms[kind] = Histogram(value, 1000.0)
            continue
        if key not in GENERIC_KEYS:
            raise ServingConfigError(
                f"generic metrics mapping, key {key!r}: not a usage field; use one of {sorted(GENERIC_KEYS)}"
            )
        if _METRIC_NAME.match(value):
            templates[key] = f"sum({value}{{SEL}})" if key in GAUGE_FIELDS else _inc(value)
            if key in AMOUNT_FIELDS:
                units[key] = value
        elif "SEL" in value:
            templates[key] = value
            if key in AMOUNT_FIELDS:
                units[key] = value
        else:
            raise ServingConfigError(
                f"generic metrics mapping, key {key!r}: {value!r} is neither a metric name nor a "
                "PromQL template containing SEL"
            )
    if "requests_succeeded" in templates and "request_rate_rps" not in templates:
        name = mapping["requests_succeeded"]
        if _METRIC_NAME.match(name):
            templates["request_rate_rps"] = f"sum(rate({name}{{SEL}}[WINDOW]))"
    return ServingStack("generic", templates, histograms, units, queue_metric=None)


_BUILT = {"vllm": _vllm(), "triton": _triton(), "tgi": _tgi()}


def stack(name: str, mapping: dict[str, str] | None = None) -> ServingStack:
    """The :class:`ServingStack` called ``name`` (``generic`` needs ``mapping``)."""
    if name == "generic":
        return generic_stack(mapping or {})
    try:
        return _BUILT[name]
    except KeyError:
        raise ServingConfigError(f"serving stack {name!r}: expected one of {STACKS}") from None


# -- latency histograms over whole hours ---------------------------------------------------
@dataclass
class HistogramWindow:
    """Requests per latency bucket over ``[end - seconds, end]``; bounds in ms, +Inf last."""

    kind: str
    end: dt.datetime
    seconds: int
    bounds_ms: list[float]
    counts: list[float] = field(default_factory=list)  # per bucket, not cumulative


def _bucket_counts(series: list[dict[str, Any]], to_ms: float) -> dict[int, tuple[list, list]]:
    """{ts: (bounds_ms, per-bucket counts)} from ``sum by (le)`` series of cumulative counts."""
    by_ts: dict[int, dict[float, float]] = {}
    for s in series:
        le = float(s["metric"]["le"])
        for ts, text in s["values"]:
            v = float(text)
            if math.isfinite(v):
                by_ts.setdefault(int(ts), {})[le] = v
    out = {}
    for ts, cum in by_ts.items():
        bounds = sorted(cum)
        counts, prev = [], 0.0
        for b in bounds:
            c = max(cum[b], prev)  # increase() extrapolation can break monotonicity slightly
            counts.append(c - prev)
            prev = c
        out[ts] = ([b * to_ms if math.isfinite(b) else math.inf for b in bounds], counts)
    return out


def read_histograms(
    client: RangeQuerier,
    serving: ServingStack,
    selector: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    hour_s: int = 3600,
) -> tuple[list[HistogramWindow], list[str]]:
    """Latency histograms over each whole hour that ends inside ``(start, end]``.

    Returns the windows and gap reports (a histogram with no series is reported, not zero).
    """
    s = int(start.timestamp()) // hour_s * hour_s + hour_s
    e = int(end.timestamp()) // hour_s * hour_s
    if e < s:
        return [], []
    first, last = dt.datetime.fromtimestamp(s, dt.UTC), dt.datetime.fromtimestamp(e, dt.UTC)
    windows, missing = [], []
    for kind, h in sorted(serving.histograms.items()):
        promql = render(
            f"sum by (le) (increase({h.bucket_metric}{{SEL}}[STEP]))", selector, hour_s, "5m"
        )
        series = client.query_range(promql, first, last, hour_s)
        if not series:
            missing.append(f"{kind} histogram: no series for {promql}")
            continue
        for ts, (bounds, counts) in sorted(_bucket_counts(series, h.to_ms).items()):
            if sum(counts) > 0:
                windows.append(
                    HistogramWindow(
                        kind, dt.datetime.fromtimestamp(ts, dt.UTC), hour_s, bounds, counts
                    )
                )
    return windows, missing
