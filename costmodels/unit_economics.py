"""Unit cost from measured units of work, latency quantiles from histograms, batch capacity fit.

Units are in the names: ``cost_usd``, ``usd_per_unit``, ``gpu_seconds``, ``*_ms``.

**Token split rule.** An LLM deployment's cost is split between input (prompt) and output
(generated) tokens by the GPU time the server measured for each phase — prefill seconds for
input, decode seconds for output (vLLM's ``request_prefill/decode_time_seconds``, TGI's
``batch_inference_duration{method}``). Where the server does not time the phases, the split is
by token count with each output token weighted ``output_token_weight`` input tokens (default 1,
i.e. every token costs the same); :class:`TokenCostSplit` says which rule applied.

>>> s = split_token_cost(100.0, 2e6, 1e6, prefill_seconds=20.0, decode_seconds=80.0)
>>> (s.rule, round(s.usd_per_1m_input, 2), round(s.usd_per_1m_output, 2))
('measured prefill/decode GPU time', 10.0, 80.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

RULE_MEASURED = "measured prefill/decode GPU time"
RULE_TOKENS = "token count (output weight {w:g})"


@dataclass(frozen=True)
class TokenCostSplit:
    cost_usd: float
    input_tokens: float
    output_tokens: float
    input_share: float
    rule: str
    usd_per_1m_input: float | None
    usd_per_1m_output: float | None


def split_token_cost(
    cost_usd: float,
    input_tokens: float,
    output_tokens: float,
    *,
    prefill_seconds: float | None = None,
    decode_seconds: float | None = None,
    output_token_weight: float = 1.0,
) -> TokenCostSplit:
    """Split ``cost_usd`` between input and output tokens (rule in the module docstring)."""
    if cost_usd < 0 or input_tokens < 0 or output_tokens < 0:
        raise ValueError("cost and token counts must be >= 0")
    if not output_token_weight > 0:
        raise ValueError(f"output_token_weight must be > 0, got {output_token_weight!r}")
    timed = (prefill_seconds or 0.0) + (decode_seconds or 0.0)
    if prefill_seconds is not None and decode_seconds is not None and timed > 0:
        share, rule = prefill_seconds / timed, RULE_MEASURED
    else:
        weighted = input_tokens + output_token_weight * output_tokens
        share = input_tokens / weighted if weighted > 0 else 0.0
        rule = RULE_TOKENS.format(w=output_token_weight)
    if input_tokens == 0:
        share = 0.0 if output_tokens > 0 else share
    if output_tokens == 0 and input_tokens > 0:
        share = 1.0
    cin, cout = cost_usd * share, cost_usd * (1.0 - share)
    return TokenCostSplit(
        cost_usd,
        input_tokens,
        output_tokens,
        share,
        rule,
        cin / input_tokens * 1e6 if input_tokens > 0 else None,
        cout / output_tokens * 1e6 if output_tokens > 0 else None,
    )


def histogram_quantile(q: float, bounds: Sequence[float], counts: Sequence[float]) -> float | None:
    """Prometheus' ``histogram_quantile`` on per-bucket (not cumulative) counts.

    ``bounds`` are the buckets' upper bounds, ascending, the last one ``inf``. Linear
    interpolation inside the bucket; the lowest bucket starts at 0; a quantile in the +Inf
    bucket is the highest finite bound. ``None`` when there are no observations.

    >>> histogram_quantile(0.5, [0.1, 0.25, 0.5, 1, math.inf], [2, 4, 3, 1, 0])
    0.175
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q!r}")
    cum = np.cumsum(np.asarray(counts, float))
    if len(cum) == 0 or cum[-1] <= 0:
        return None
    rank = q * cum[-1]
    i = int(np.searchsorted(cum, rank, side="left"))
    i = min(i, len(cum) - 1)
    if math.isinf(bounds[i]):
        return float(bounds[i - 1]) if i > 0 else None
    lower = 0.0 if i == 0 else float(bounds[i - 1])
    below = 0.0 if i == 0 else float(cum[i - 1])
    inside = float(cum[i]) - below
    if inside <= 0:
        return float(bounds[i])
    return lower + (float(bounds[i]) - lower) * (rank - below) / inside


def fraction_within(
    threshold: float, bounds: Sequence[float], counts: Sequence[float]
) -> float | None:
    """Share of observations at or below ``threshold``, interpolating linearly inside a bucket
    (the inverse of :func:`histogram_quantile`). ``None`` without observations."""
    c = np.asarray(counts, float)
    total = c.sum()
    if total <= 0:
        return None
    within, lower = 0.0, 0.0
    for b, n in zip(bounds, c, strict=True):
        if threshold >= b:
            within += n
        elif math.isfinite(b) and threshold > lower:
            within += n * (threshold - lower) / (b - lower)
            break
        else:
            break
        lower = b
    return float(within / total)


def merge_histograms(
    parts: Sequence[tuple[Sequence[float], Sequence[float]]],
) -> tuple[list[float], list[float]]:
    """Sum per-bucket counts of histograms; bounds must agree (a re-bucketed server is refused)."""
    if not parts:
        return [], []
    bounds = [float(b) for b in parts[0][0]]
    total = np.zeros(len(bounds))
    for b, c in parts:
        if len(b) != len(bounds) or not np.allclose(np.asarray(b, float), bounds, equal_nan=False):
            raise ValueError("histograms with different bucket bounds cannot be merged")
        total += np.asarray(c, float)
    return bounds, total.tolist()


def trend_pct_per_week(series: pd.Series) -> float | None:
    """Least-squares slope of a daily series, as % of its mean per 7 days (None if < 7 points)."""
    s = series.dropna()
    if len(s) < 7 or s.mean() == 0:
        return None
    days = (pd.to_datetime(s.index) - pd.to_datetime(s.index[0])).days.to_numpy(float)
    slope = np.polyfit(days, s.to_numpy(float), 1)[0]
    return float(slope * 7.0 / s.mean() * 100.0)


@dataclass(frozen=True)
class BatchServiceFit:
    """``batch_time_ms = service_time_ms * (1 + batch_cost_factor * (batch_size - 1))``, fitted.

    ``service_time_ms`` is one request alone on the GPU (t1); ``typical_batch_size`` the
    traffic-weighted median batch; ``throughput_rps`` per GPU copy at that batch size;
    ``r2`` the in-sample fit (reported as in-sample); ``n`` the samples used.
    """

    service_time_ms: float
    batch_cost_factor: float
    typical_batch_size: float
    throughput_rps: float
    r2: float | None
    n: int


def fit_batch_service_time(
    batch_size: Sequence[float],
    batch_time_ms: Sequence[float],
    weight: Sequence[float] | None = None,
) -> BatchServiceFit:
    """Weighted least squares of measured batch service time on batch size.

    With one batch size only, the factor cannot be identified: it is reported as 1
    (no batching gain assumed) and t1 = the mean time / batch size.
    """
    b = np.asarray(batch_size, float)
    t = np.asarray(batch_time_ms, float)
    w = np.ones_like(b) if weight is None else np.asarray(weight, float)
    keep = np.isfinite(b) & np.isfinite(t) & np.isfinite(w) & (b >= 1.0) & (t > 0) & (w > 0)
    b, t, w = b[keep], t[keep], w[keep]
    if len(b) < 3:
        raise ValueError("need at least 3 samples with a batch size >= 1 and a service time > 0")
    order = np.argsort(b)
    cw = np.cumsum(w[order])
    typical = float(b[order][np.searchsorted(cw, cw[-1] / 2.0)])
    x = b - 1.0
    if np.ptp(b) < 1e-9:
        t1 = float(np.average(t, weights=w) / b.mean())
        f, r2 = 1.0, None
    else:
        a_mat = np.column_stack([np.ones_like(x), x]) * np.sqrt(w)[:, None]
        (t1, slope), *_ = np.linalg.lstsq(a_mat, t * np.sqrt(w), rcond=None)
        t1 = float(max(t1, 1e-6))
        f = float(np.clip(slope / t1, 1e-3, 1.0))
        pred = t1 * (1.0 + f * x)
        ss_tot = float(np.sum(w * (t - np.average(t, weights=w)) ** 2))
        r2 = 1.0 - float(np.sum(w * (t - pred) ** 2)) / ss_tot if ss_tot > 0 else None
    batch_ms = t1 * (1.0 + f * (typical - 1.0))
    return BatchServiceFit(t1, f, typical, typical * 1000.0 / batch_ms, r2, int(len(b)))
