"""Unit-cost maths: the token split rule, histogram quantiles (Prometheus' interpolation), SLO
attainment, trend, and the batch service-time fit, against hand calculations and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels.unit_economics import (
    RULE_MEASURED,
    fit_batch_service_time,
    fraction_within,
    histogram_quantile,
    merge_histograms,
    split_token_cost,
    trend_pct_per_week,
)

INF = math.inf


def test_unit_cost_split_by_measured_prefill_and_decode_time():
    # $90 of GPU time; prefill took 30 s, decode 60 s -> input pays $30, output $60
    s = split_token_cost(90.0, 3_000_000, 500_000, prefill_seconds=30.0, decode_seconds=60.0)
    assert s.rule == RULE_MEASURED
    assert s.usd_per_1m_input == pytest.approx(10.0)  # $30 / 3M tokens
    assert s.usd_per_1m_output == pytest.approx(120.0)  # $60 / 0.5M tokens


def test_unit_cost_split_by_tokens_when_the_server_does_not_time_phases():
    s = split_token_cost(12.0, 1_000_000, 1_000_000, output_token_weight=3.0)
    assert s.rule == "token count (output weight 3)"
    assert s.input_share == pytest.approx(0.25)
    assert s.usd_per_1m_input == pytest.approx(3.0) and s.usd_per_1m_output == pytest.approx(9.0)
    only_in = split_token_cost(5.0, 2_000_000, 0.0)  # embeddings: every dollar is input
    assert only_in.usd_per_1m_input == pytest.approx(2.5) and only_in.usd_per_1m_output is None


@settings(max_examples=200, deadline=None)
@given(
    cost=st.floats(0, 1e6),
    tin=st.one_of(st.just(0.0), st.floats(1e-3, 1e12)),  # token counts: none, or measurable
    tout=st.one_of(st.just(0.0), st.floats(1e-3, 1e12)),
    pf=st.one_of(st.none(), st.floats(0, 1e6)),
    dc=st.one_of(st.none(), st.floats(0, 1e6)),
    w=st.floats(0.01, 100),
)
def test_unit_cost_split_conserves_cost(cost, tin, tout, pf, dc, w):
    s = split_token_cost(
        cost, tin, tout, prefill_seconds=pf, decode_seconds=dc, output_token_weight=w
    )
    assert 0.0 <= s.input_share <= 1.0
    back = (s.usd_per_1m_input or 0.0) * tin / 1e6 + (s.usd_per_1m_output or 0.0) * tout / 1e6
    if tin > 0 or tout > 0:
        assert back == pytest.approx(cost, rel=1e-9, abs=1e-6)


def test_histogram_quantile_matches_prometheus_interpolation():
    bounds = [0.1, 0.25, 0.5, 1.0, INF]
    counts = [2, 4, 3, 1, 0]  # cumulative 2, 6, 9, 10, 10
    # rank 5 falls in (0.1, 0.25] holding ranks 2..6: 0.1 + 0.15 * 3/4
    assert histogram_quantile(0.5, bounds, counts) == pytest.approx(0.2125)
    # rank 9.5 in (0.5, 1]: 0.5 + 0.5 * 0.5/1
    assert histogram_quantile(0.95, bounds, counts) == pytest.approx(0.75)
    # a quantile in the +Inf bucket is the highest finite bound
    assert histogram_quantile(0.99, [1.0, INF], [1, 9]) == 1.0
    assert histogram_quantile(0.5, bounds, [0, 0, 0, 0, 0]) is None


def test_histogram_quantile_tracks_the_sample_quantile_of_binned_data():
    rng = np.random.default_rng(3)
    x = rng.lognormal(np.log(400.0), 0.6, 200_000)
    bounds = np.r_[np.geomspace(10, 20_000, 60), INF]
    counts = np.histogram(x, bins=np.r_[0.0, bounds[:-1], np.inf])[0]
    for q in (0.5, 0.9, 0.95, 0.99):
        assert histogram_quantile(q, bounds, counts) == pytest.approx(np.quantile(x, q), rel=0.02)
        assert fraction_within(np.quantile(x, q), bounds, counts) == pytest.approx(q, abs=0.005)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=4, max_size=12), st.floats(0.01, 0.99))
def test_fraction_within_inverts_histogram_quantile(raw, q):
    counts = raw + [0]
    bounds = [float(10 * (i + 1)) for i in range(len(raw))] + [INF]
    value = histogram_quantile(q, bounds, counts)
    if value is None:
        assert sum(counts) == 0
        return
    assert fraction_within(value, bounds, counts) == pytest.approx(q, abs=1e-9)


def test_merging_histograms_adds_buckets_and_refuses_other_layouts():
    b, c = merge_histograms([([1, 2, INF], [1, 2, 3]), ([1, 2, INF], [4, 0, 1])])
    assert c == [5, 2, 4]
    with pytest.raises(ValueError, match="different bucket bounds"):
        merge_histograms([([1, 2, INF], [1, 2, 3]), ([1, 5, INF], [1, 2, 3])])


def test_trend_is_percent_of_mean_per_week():
    idx = pd.date_range("2026-01-01", periods=28, freq="D")
    s = pd.Series(10.0 + 0.1 * np.arange(28), index=idx)  # +0.7/week on a mean of 11.35
    assert trend_pct_per_week(s) == pytest.approx(0.7 / 11.35 * 100)
    assert trend_pct_per_week(s.iloc[:5]) is None


def test_batch_fit_recovers_the_generating_service_time_and_batch_cost():
    rng = np.random.default_rng(0)
    b = rng.integers(1, 33, 500).astype(float)
    t = 12.0 * (1 + 0.3 * (b - 1)) * rng.lognormal(0, 0.02, 500)
    fit = fit_batch_service_time(b, t)
    assert fit.service_time_ms == pytest.approx(12.0, rel=0.02)
    assert fit.batch_cost_factor == pytest.approx(0.3, rel=0.03)
    batch_ms = 12.0 * (1 + 0.3 * (fit.typical_batch_size - 1))
    assert fit.throughput_rps == pytest.approx(fit.typical_batch_size * 1000 / batch_ms, rel=0.03)
    assert fit.r2 > 0.95
    with pytest.raises(ValueError, match="at least 3 samples"):
        fit_batch_service_time([1, 2], [5, 6])
