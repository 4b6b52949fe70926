"""The commitment rule against brute force (the optimiser's plan tests moved to
test_engine_search.py: plans come from the one engine, costmodels.engine)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels.commitment import commitment_cost, optimal_commitment_level

usage = st.lists(st.integers(0, 12), min_size=1, max_size=60).map(lambda xs: np.array(xs, float))


def _brute(d, c, p):
    levels = np.unique(np.concatenate([[0.0], d]))
    return min(commitment_cost(d, x, c, p) for x in levels)


@settings(max_examples=200, deadline=None)
@given(d=usage, ratio=st.floats(0.01, 1.5), o=st.floats(0.1, 10))
def test_quantile_rule_matches_brute_force(d, ratio, o):
    c = ratio * o
    level = optimal_commitment_level(d, c, o)
    assert commitment_cost(d, level, c, o) == pytest.approx(_brute(d, c, o), rel=1e-9, abs=1e-9)
    if ratio < 1:  # the level is the demand quantile at 1 - c/o
        share_above = np.mean(d > level)
        assert share_above <= c / o + 1e-9 and np.mean(d >= level) >= c / o - 1e-9


@settings(max_examples=200, deadline=None)
@given(data=st.data(), c=st.floats(0.05, 3))
def test_exact_method_with_varying_overflow_prices_matches_brute_force(data, c):
    d = data.draw(usage)
    p = np.array(data.draw(st.lists(st.floats(0.1, 4), min_size=d.size, max_size=d.size)))
    level = optimal_commitment_level(d, c, 1.0, method="exact", overflow_price=p)
    assert commitment_cost(d, level, c, p) == pytest.approx(_brute(d, c, p), rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(
    d=st.lists(st.floats(0, 20), min_size=1, max_size=40).map(np.array), ratio=st.floats(0.05, 0.95)
)
def test_integer_commitment_is_best_whole_number(d, ratio):
    level = optimal_commitment_level(d, ratio, 1.0, method="exact", integer=True)
    assert level == int(level)
    best = min(commitment_cost(d, k, ratio, 1.0) for k in range(0, 22))
    assert commitment_cost(d, level, ratio, 1.0) == pytest.approx(best, rel=1e-9, abs=1e-9)


def test_commitment_by_hand():
    d = np.array([1, 2, 2, 3, 5], float)  # c/o = 0.6: commit to units used > 60 % of the time
    assert optimal_commitment_level(d, 0.6, 1.0) == 2
    assert optimal_commitment_level(d, 0.3, 1.0) == 3  # 3rd unit used in 2 of 5 periods > 30 %
    assert optimal_commitment_level(d, 1.0, 1.0) == 0
    assert optimal_commitment_level(d, 0.0, 1.0) == 5
    with pytest.raises(ValueError, match=r"usage\[1\]"):
        optimal_commitment_level([1, -1], 0.5, 1.0)
    with pytest.raises(ValueError, match="exact"):
        optimal_commitment_level(d, 0.5, 1.0, overflow_price=np.ones(5))
