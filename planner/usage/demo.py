"""Inference-server metrics for the demo fleet, so measured unit costs and latency SLOs show.

Each demo deployment gets a serving stack (chat on vLLM, embeddings on Triton, the batch
summariser on TGI, image / speech / video services on custom counters) and, per usage step,
the amounts its server would count (tokens, images, audio and video seconds, prefill and
decode seconds), batch sizes and service times, plus hourly latency histograms in the
server's own bucket layout. Everything is derived deterministically from the demo's demand,
replicas and recorded p50/p95 latency, so the histograms agree with the usage samples.

Generating parameters (the tests check the fits recover them):

* chat: 1,100 prompt + 400 generated tokens per request; TTFT median 15 % of the e2e median;
* embeddings (Triton dynamic batching): batch time t1 = 8 ms × (1 + 0.25 (b − 1));
* batch summariser (TGI): 3,000 input + 250 generated tokens per document.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.special import ndtr

from planner.usage.models import ServiceServingTargets, ServingEndpoint

VLLM_E2E_S = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0,
              120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0]  # fmt: skip
VLLM_TTFT_S = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0,
               7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0]  # fmt: skip
VLLM_ITL_S = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5,
              10.0, 20.0, 40.0, 80.0]  # fmt: skip
TGI_S = [0.00015 * 1.5**i for i in range(35)]  # TGI's exponential buckets
GENERIC_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100]  # prometheus_client defaults ×10

#: slug -> (stack, generic mapping)
STACKS = {
    "chat-assistant": ("vllm", {}),
    "embeddings": ("triton", {}),
    "batch-summariser": ("tgi", {}),
    "image-gen": (
        "generic",
        {
            "images": "imagegen_images_generated_total",
            "requests_succeeded": "imagegen_requests_total",
            "e2e_histogram": "imagegen_request_duration_seconds_bucket",
        },
    ),
    "speech-to-text": (
        "generic",
        {
            "audio_seconds": "asr_audio_seconds_total",
            "requests_succeeded": "asr_requests_total",
            "e2e_histogram": "asr_request_duration_seconds_bucket",
        },
    ),
    "text-to-speech": (
        "generic",
        {
            "audio_seconds": "tts_audio_seconds_generated_total",
            "requests_succeeded": "tts_requests_total",
            "e2e_histogram": "tts_request_duration_seconds_bucket",
        },
    ),
    "video-understanding": (
        "generic",
        {
            "video_seconds": "video_seconds_processed_total",
            "requests_succeeded": "video_requests_total",
            "e2e_histogram": "video_request_duration_seconds_bucket",
        },
    ),
}
TOKENS = {"chat-assistant": (1100.0, 400.0), "batch-summariser": (3000.0, 250.0)}
MEDIA = {
    "image-gen": ("images", 1.0),
    "speech-to-text": ("audio_seconds", 30.0),
    "text-to-speech": ("audio_seconds", 15.0),
    "video-understanding": ("video_seconds", 60.0),
}
TRITON_T1_MS, TRITON_FACTOR = 8.0, 0.25
CHAT_TARGETS = {"ttft_slo_p95_ms": 1500, "itl_slo_p95_ms": 100}


def _noise(rng, n: int, sd: float = 0.05) -> np.ndarray:
    return rng.lognormal(0.0, sd, n)


def add_serving_columns(usage: pd.DataFrame, seed: int = 7) -> pd.DataFrame:
    """The demo usage frame with the servers' per-step amounts and levels added."""
    rng = np.random.default_rng(seed + 18)
    parts = []
    for slug, f in usage.groupby("service", sort=False):
        f = f.copy()
        n = len(f)
        served = f["replicas"].to_numpy(float) > 0
        req = np.where(served, f["request_rate_rps"].to_numpy(float) * f["step_seconds"], 0.0)
        f["requests_succeeded"] = np.where(served, np.round(req), np.nan)
        p50 = f["p50_latency_ms"].to_numpy(float)
        per_replica = np.divide(f["request_rate_rps"], f["replicas"].where(served, 1.0))
        if slug in TOKENS:
            tin, tout = TOKENS[slug]
            f["input_tokens"] = np.round(f["requests_succeeded"] * tin * _noise(rng, n))
            f["output_tokens"] = np.round(f["requests_succeeded"] * tout * _noise(rng, n))
            ttft_ms = 0.15 * p50
            f["prefill_seconds"] = f["requests_succeeded"] * ttft_ms / 1000.0
            f["decode_seconds"] = f["requests_succeeded"] * (p50 - ttft_ms) / 1000.0
            f["service_time_ms"] = p50 * _noise(rng, n, 0.02)
            f["batch_size"] = np.maximum(1.0, per_replica * p50 / 1000.0)
            f["running_requests"] = f["batch_size"] * f["replicas"]
            f["kv_cache_pct"] = np.clip(10.0 + 0.8 * f["gpu_util_pct"], 0, 95)
            f["ttft_p95_ms"] = 0.15 * f["p95_latency_ms"]
            f["itl_p95_ms"] = 0.85 * f["p95_latency_ms"] / tout
            if slug == "chat-assistant":  # "1k tokens"; "1k documents" has no measured counter
                f["units_of_work"] = (f["input_tokens"] + f["output_tokens"]) / 1000.0
        elif slug == "embeddings":
            rho = np.clip(f["gpu_util_pct"].to_numpy(float) / 100.0, 0, 1)
            b = np.maximum(1.0, np.round(1.0 + 40.0 * rho**2))
            f["batch_size"] = np.where(served, b, np.nan)
            t = TRITON_T1_MS * (1.0 + TRITON_FACTOR * (b - 1.0)) * _noise(rng, n, 0.02)
            f["service_time_ms"] = np.where(served, t, np.nan)
        elif slug in MEDIA:
            amount, per_request = MEDIA[slug]
            f[amount] = f["requests_succeeded"] * per_request * _noise(rng, n, 0.03)
            divisor = {"images": 1000.0, "audio_seconds": 3600.0, "video_seconds": 60.0}[amount]
            f["units_of_work"] = f[amount] / divisor
        parts.append(f)
    return pd.concat(parts).sort_index()


def _lognormal_counts(bounds_ms: np.ndarray, median_ms: float, p95_ms: float, n: float):
    sigma = max(math.log(max(p95_ms, median_ms * 1.01) / median_ms) / 1.645, 1e-3)
    cdf = ndtr((np.log(bounds_ms) - math.log(median_ms)) / sigma)
    cum = np.round(np.append(cdf, 1.0) * n)
    return np.diff(np.concatenate([[0.0], cum])).tolist()


def _histograms(slug: str, f: pd.DataFrame) -> list[tuple[str, str, list, pd.DataFrame]]:
    stack, mapping = STACKS[slug]
    if stack == "vllm":
        return [
            ("e2e", "vllm:e2e_request_latency_seconds_bucket", VLLM_E2E_S, f),
            (
                "ttft",
                "vllm:time_to_first_token_seconds_bucket",
                VLLM_TTFT_S,
                f.assign(
                    p50_latency_ms=0.15 * f["p50_latency_ms"],
                    p95_latency_ms=0.15 * f["p95_latency_ms"],
                ),
            ),
            (
                "itl",
                "vllm:inter_token_latency_seconds_bucket",
                VLLM_ITL_S,
                f.assign(
                    p50_latency_ms=0.85 * f["p50_latency_ms"] / TOKENS[slug][1],
                    p95_latency_ms=f["itl_p95_ms"],
                ),
            ),
        ]
    if stack == "tgi":
        return [("e2e", "tgi_request_duration_bucket", TGI_S, f)]
    if stack == "generic":
        return [("e2e", mapping["e2e_histogram"], GENERIC_S, f)]
    return []


def seed_serving_metrics(usage: pd.DataFrame, deployments: dict) -> int:
    """Serving endpoints, chat SLO targets and hourly latency histograms; returns histograms."""
    from planner.usage.models import LatencyHistogram
    from planner.whatif.demo_operations import hourly_histogram_counts

    LatencyHistogram.objects.filter(deployment__in=list(deployments.values())).delete()
    objs = []
    for slug, f in usage.groupby("service", sort=False):
        dep = deployments[slug]
        stack, mapping = STACKS[slug]
        ServingEndpoint.objects.update_or_create(
            deployment=dep, defaults={"stack": stack, "metrics_mapping": mapping}
        )
        if stack == "vllm":
            ServiceServingTargets.objects.update_or_create(
                service=dep.service, defaults=CHAT_TARGETS
            )
        for kind, metric, bounds_s, frame in _histograms(slug, f):
            bounds_ms = np.asarray(bounds_s) * 1000.0
            frame = frame[frame["replicas"] > 0]
            for hour, counts in hourly_histogram_counts(frame, bounds_ms):  # steps summed per hour
                objs.append(
                    LatencyHistogram(
                        deployment=dep,
                        kind=kind,
                        end=hour + pd.Timedelta(hours=1),
                        seconds=3600,
                        source_metric=metric,
                        bounds_ms=bounds_ms.tolist() + [None],
                        counts=counts,
                    )
                )
    LatencyHistogram.objects.bulk_create(objs, batch_size=2000)
    return len(objs)
