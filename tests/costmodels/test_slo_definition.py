"""The one SLO definition (costmodels.slo): hand calculations and properties."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels.slo import Z95, hourly_p95, pooled_p95, simulated_attainment, window_attainment


def test_window_attainment_by_hand():
    # hours: 100 ms (30 req), 300 ms (10 req), no requests (ignored), NaN p95 with requests = miss
    p95 = [100.0, 300.0, 50.0, math.nan]
    req = [30.0, 10.0, 0.0, 10.0]
    assert window_attainment(p95, req, 200.0) == pytest.approx(30 / 50)
    assert window_attainment([1.0], [0.0], 200.0) is None
    with pytest.raises(ValueError, match="2 p95 values but"):
        window_attainment([1.0, 2.0], [1.0], 5.0)


def test_pooled_p95_of_one_interval_is_its_p95_and_of_equal_intervals_the_same():
    assert pooled_p95(np.array([[400.0]]), np.array([[5.0]]))[0] == pytest.approx(400.0, rel=1e-6)
    same = pooled_p95(np.full((1, 6), 250.0), np.arange(1.0, 7.0)[None, :])
    assert same[0] == pytest.approx(250.0, rel=1e-6)


def test_pooled_p95_is_unbounded_when_over_5_percent_of_requests_see_no_capacity():
    p = np.array([[100.0, math.inf]])
    assert math.isinf(pooled_p95(p, np.array([[90.0, 10.0]]))[0])
    assert math.isfinite(pooled_p95(p, np.array([[99.0, 1.0]]))[0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(10.0, 1e5), min_size=1, max_size=12),
    st.lists(st.floats(0.1, 100.0), min_size=12, max_size=12),
)
def test_pooled_p95_lies_between_the_smallest_and_largest_interval_p95(p95s, weights):
    p = np.array(p95s)[None, :]
    w = np.array(weights[: len(p95s)])[None, :]
    got = pooled_p95(p, w)[0]
    assert p.min() * (1 - 1e-6) <= got <= p.max() * (1 + 1e-6)
    # and it is the mixture's 95th percentile: the lognormal CDFs weighted sum to 0.95 there
    from scipy.special import ndtr

    cdf = (w * ndtr((np.log(got) - np.log(p)) / 0.4 + Z95)).sum() / w.sum()
    assert cdf == pytest.approx(0.95, abs=1e-6)


def test_hourly_windows_and_a_partial_last_hour():
    p95 = np.r_[np.full(60, 100.0), np.full(30, 900.0)]
    demand = np.ones(90)
    p, req = hourly_p95(p95, demand)
    assert req.tolist() == [60.0, 30.0]
    assert p[0] == pytest.approx(100.0, rel=1e-6) and p[1] == pytest.approx(900.0, rel=1e-6)
    assert simulated_attainment(p95, demand, 500.0) == pytest.approx(60 / 90)


def test_bucketed_p95_reads_the_mixture_through_the_buckets_like_prometheus():
    from scipy.special import ndtr

    from costmodels.slo import bucketed_p95

    bounds = [50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, math.inf]
    p = np.array([[700.0]])
    got = bucketed_p95(p, np.array([[100.0]]), bounds)[0]
    # by hand: lognormal CDF at each bound (p95 = 700, log-sd 0.4), rank 95 lies in (500, 1000]
    cdf = ndtr((np.log(bounds[:-1]) - np.log(700.0)) / 0.4 + Z95)
    lo_c, hi_c = cdf[3], cdf[4]
    assert lo_c < 0.95 <= hi_c
    assert got == pytest.approx(500.0 + 500.0 * (0.95 - lo_c) / (hi_c - lo_c), rel=1e-9)
    # fine buckets: the bucketed reading converges to the pooled p95
    fine = list(np.geomspace(10, 1e5, 400)) + [math.inf]
    assert bucketed_p95(p, np.array([[1.0]]), fine)[0] == pytest.approx(700.0, rel=0.01)
