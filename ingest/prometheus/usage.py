"""Per-deployment GPU and traffic usage from Prometheus range queries (DCGM exporter + service metrics).

For one deployment (a PromQL label selector) and a window, :func:`read_usage` runs one range
query per usage field and returns one :class:`UsageRow` per step and MIG profile:

==================  =========================================================================
field               default PromQL (``{sel}`` = the deployment's selector, ``{w}`` = rate window)
==================  =========================================================================
gpu_util_pct        ``avg by (GPU_I_PROFILE) (DCGM_FI_PROF_GR_ENGINE_ACTIVE{sel}) * 100`` where
                    DCP metrics exist, else ``avg by (GPU_I_PROFILE) (DCGM_FI_DEV_GPU_UTIL{sel})``
gpu_mem_used_gib    ``avg by (GPU_I_PROFILE) (DCGM_FI_DEV_FB_USED{sel}) / 1024`` (MiB -> GiB, per GPU)
gpu_mem_total_gib   ``avg by (GPU_I_PROFILE) (DCGM_FI_DEV_FB_USED{sel} + DCGM_FI_DEV_FB_FREE{sel}) / 1024``
replicas            ``count(count by (pod) (DCGM_FI_DEV_FB_USED{sel}))``
request_rate_rps    ``sum(rate(http_requests_total{sel}[{w}]))``
queue_depth         ``sum(inference_queue_depth{sel})``
p50/p95_latency_ms  ``histogram_quantile(q, sum by (le) (rate(http_request_duration_seconds_bucket{sel}[{w}]))) * 1000``
==================  =========================================================================

Every query is configurable per service (:class:`UsageQueries`). MIG instances (series with a
``GPU_I_PROFILE`` label) stay separate rows; series without the label (whole GPUs, traffic)
belong to the deployment's own profile (``default_profile``, ``""`` for whole GPUs).

Missing data is reported, never zero: a field with no series at all, or steps where a
series has no sample (Prometheus' 5-minute lookback exceeded), stay ``None`` and are listed
in :attr:`UsageResult.missing`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol

PROFILE_LABEL = "GPU_I_PROFILE"
DEFAULT_SELECTOR = 'namespace="{namespace}",pod=~"{name}-.*"'

DEFAULT_QUERIES: dict[str, str] = {
    "gpu_util_dcp": "avg by (GPU_I_PROFILE) (DCGM_FI_PROF_GR_ENGINE_ACTIVE{sel}) * 100",
    "gpu_util_pct": "avg by (GPU_I_PROFILE) (DCGM_FI_DEV_GPU_UTIL{sel})",
    "gpu_mem_used_gib": "avg by (GPU_I_PROFILE) (DCGM_FI_DEV_FB_USED{sel}) / 1024",
    "gpu_mem_total_gib": "avg by (GPU_I_PROFILE) (DCGM_FI_DEV_FB_USED{sel} + DCGM_FI_DEV_FB_FREE{sel}) / 1024",
    "replicas": "count(count by (pod) (DCGM_FI_DEV_FB_USED{sel}))",
    "request_rate_rps": "sum(rate(http_requests_total{sel}[{w}]))",
    "queue_depth": "sum(inference_queue_depth{sel})",
    "p50_latency_ms": "histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{sel}[{w}]))) * 1000",
    "p95_latency_ms": "histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{sel}[{w}]))) * 1000",
}
#: Fields every deployment should have; the others (traffic) are reported missing only if configured.
GPU_FIELDS = ("gpu_util_pct", "gpu_mem_used_gib", "gpu_mem_total_gib", "replicas")


class RangeQuerier(Protocol):
    def query_range(
        self, promql: str, start: dt.datetime, end: dt.datetime, step_s: int
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class UsageQueries:
    """PromQL templates by field: ``metric{sel}`` becomes ``metric{<selector>}``, ``{w}`` the rate window.

    ``overrides`` maps a service slug to {field: template}; a template of ``""`` disables a field.
    """

    templates: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_QUERIES))
    rate_window: str = "5m"

    def for_service(self, overrides: dict[str, str] | None) -> UsageQueries:
        return replace(self, templates={**self.templates, **(overrides or {})})

    def render(self, name: str, selector: str) -> str | None:
        template = self.templates.get(name)
        if not template:
            return None
        return template.replace("{sel}", "{" + selector + "}").replace("{w}", self.rate_window)


@dataclass
class UsageRow:
    """One step of one deployment (and MIG profile). Units in the field names; ``None`` = no data."""

    ts: dt.datetime
    mig_profile: str
    gpu_util_pct: float | None = None
    gpu_mem_used_gib: float | None = None
    gpu_mem_total_gib: float | None = None
    replicas: float | None = None
    request_rate_rps: float | None = None
    queue_depth: float | None = None
    p50_latency_ms: float | None = None
    p95_latency_ms: float | None = None
    # inference-server fields (see serving.py); amounts are per step, levels at the step
    requests_succeeded: float | None = None
    input_tokens: float | None = None
    output_tokens: float | None = None
    images: float | None = None
    audio_seconds: float | None = None
    video_seconds: float | None = None
    prefill_seconds: float | None = None
    decode_seconds: float | None = None
    batch_size: float | None = None
    service_time_ms: float | None = None
    queue_time_ms: float | None = None
    running_requests: float | None = None
    kv_cache_pct: float | None = None
    ttft_p95_ms: float | None = None
    itl_p95_ms: float | None = None


VALUE_FIELDS = tuple(f.name for f in fields(UsageRow) if f.name not in ("ts", "mig_profile"))


@dataclass
class UsageResult:
    rows: list[UsageRow]
    missing: list[str]
    queries: dict[str, str]
    step_s: int


def selector_for(namespace: str, name: str, template: str = DEFAULT_SELECTOR) -> str:
    return template.format(namespace=namespace, name=name)


def _grid(start: dt.datetime, end: dt.datetime, step_s: int) -> list[int]:
    s, e = int(start.timestamp()), int(end.timestamp())
    return list(range(s, e + 1, step_s))


def _value(text: str) -> float | None:
    v = float(text)
    return None if math.isnan(v) or math.isinf(v) else v


def read_usage(
    client: RangeQuerier,
    selector: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    step_s: int = 60,
    queries: UsageQueries | None = None,
    default_profile: str = "",
) -> UsageResult:
    """Usage rows of one deployment over [start, end] at ``step_s`` seconds (aligned to ``start``)."""
    if step_s < 1:
        raise ValueError("step_s must be at least 1 second")
    if end <= start:
        raise ValueError(
            f"empty window: end {end.isoformat()} is not after start {start.isoformat()}"
        )
    q = queries or UsageQueries()
    grid = _grid(start, end, step_s)
    data: dict[tuple[int, str], dict[str, float | None]] = {}
    missing: list[str] = []
    rendered: dict[str, str] = {}
    seen_profiles: set[str] = set()
    window = f"{start.isoformat()} to {end.isoformat()}"

    def run(name: str) -> list[dict[str, Any]] | None:
        promql = q.render(name, selector)
        if promql is None:
            return None
        rendered[name] = promql
        return client.query_range(promql, start, end, step_s)

    results: dict[str, list[dict[str, Any]]] = {}
    for name in q.templates:
        res = run(name)
        if res is not None:
            results[name] = res
    dcp = results.pop("gpu_util_dcp", None)
    if dcp:
        # DCP engine activity is the better utilisation signal (and the only one per MIG instance).
        base = results.get("gpu_util_pct", [])
        dcp_profiles = {s["metric"].get(PROFILE_LABEL, default_profile) for s in dcp}
        results["gpu_util_pct"] = dcp + [
            s for s in base if s["metric"].get(PROFILE_LABEL, default_profile) not in dcp_profiles
        ]
    for name, series_list in results.items():
        if not series_list:
            missing.append(
                f"{name}: no series for {rendered.get(name) or rendered.get('gpu_util_dcp')} ({window})"
            )
            continue
        for series in series_list:
            profile = series["metric"].get(PROFILE_LABEL, default_profile)
            seen_profiles.add(profile)
            for ts, text in series["values"]:
                data.setdefault((int(ts), profile), {})[name] = _value(text)
    profiles = sorted(seen_profiles) or [default_profile]
    rows = []
    for profile in profiles:
        gaps: dict[str, int] = {}
        for ts in grid:
            got = data.get((ts, profile), {})
            if profile != default_profile and not got:
                continue  # this MIG profile did not exist at this step
            row = UsageRow(
                ts=dt.datetime.fromtimestamp(ts, dt.UTC),
                mig_profile=profile,
                **{k: got.get(k) for k in VALUE_FIELDS},
            )
            for name in VALUE_FIELDS:
                if getattr(row, name) is None and _applies(name, profile, default_profile, results):
                    gaps[name] = gaps.get(name, 0) + 1
            rows.append(row)
        for name, n in sorted(gaps.items()):
            missing.append(
                f"{name}: no data at {n} of {len(grid)} steps for profile {profile or '(whole GPU)'} ({window})"
            )
    return UsageResult(rows=rows, missing=missing, queries=rendered, step_s=step_s)


def _applies(
    name: str, profile: str, default_profile: str, results: dict[str, list[dict[str, Any]]]
) -> bool:
    """Whether a field is expected on a profile's rows (per-profile GPU fields vs deployment-wide)."""
    return any(
        s["metric"].get(PROFILE_LABEL, default_profile) == profile for s in results.get(name, [])
    )
