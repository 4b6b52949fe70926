"""Seasonal + trend forecaster: accuracy and interval coverage on series with known structure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels.forecast import (
    FORECAST_COLUMNS,
    SeasonalTrendForecaster,
    backtest,
    forecast_series,
    seasonal_naive,
)
from costmodels.forecast.model import seasonal_periods
from costmodels.forecast.series_io import SeriesInputError


def hourly_demand(n: int, seed: int) -> pd.Series:
    """Requests per hour: daily and weekly cycles, +2 %/week trend, Gaussian noise (sd 5)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = 100 + 0.012 * t + 30 * np.sin(2 * np.pi * t / 24) + 15 * np.sin(2 * np.pi * t / 168)
    return pd.Series(
        y + rng.normal(0, 5, n), index=pd.date_range("2025-01-06", periods=n, freq="h")
    )


def daily_cost(n: int, seed: int) -> pd.Series:
    """USD per day: growing spend with a multiplicative weekday/weekend cycle, 5 % noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    weekly = np.where(t % 7 >= 5, 0.7, 1.0)
    y = (1000 + 2.0 * t) * weekly * np.exp(rng.normal(0, 0.05, n))
    return pd.Series(y, index=pd.date_range("2025-01-06", periods=n, freq="D"))


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(predicted - actual) / np.abs(actual)) * 100)


# ----------------------------------------------------------------------------- accuracy


def test_hourly_demand_one_week_ahead_is_accurate():
    series = hourly_demand(24 * 63, seed=1)
    train, test = series.iloc[: -24 * 7], series.iloc[-24 * 7 :]
    fc = forecast_series(train, 24 * 7)
    assert fc.index.equals(test.index)
    # noise sd 5 on a level ~120: the best possible MAPE is about 3.5 %
    assert mape(test.to_numpy(), fc["forecast"].to_numpy()) < 6.0


def test_interval_coverage_is_near_nominal_over_rolling_origins():
    result = backtest(hourly_demand(24 * 70, seed=2), horizon=24 * 7, n_origins=6)
    assert 0.70 <= result.coverage_80 <= 0.90
    assert 0.85 <= result.coverage_95 <= 1.0
    assert result.mape_pct < 6.0
    assert result.mase < result.naive_mase


def test_daily_cost_to_end_of_next_month():
    """Forecast from mid-month to the end of next month (45 days) on a year of history."""
    series = daily_cost(365 + 45, seed=3)
    result = backtest(series, horizon=45, n_origins=5, step=15)
    assert result.mape_pct < 8.0
    assert result.mase < result.naive_mase
    assert 0.70 <= result.coverage_80 <= 0.90
    assert result.coverage_95 >= 0.85


def test_constant_series_is_forecast_exactly():
    series = pd.Series(250.0, index=pd.date_range("2025-01-01", periods=60, freq="D"))
    fc = forecast_series(series, 10)
    np.testing.assert_allclose(fc["forecast"], 250.0, rtol=1e-9)
    np.testing.assert_allclose(fc["upper_95"] - fc["lower_95"], 0.0, atol=1e-6)


def test_straight_line_is_continued_without_damping():
    idx = pd.date_range("2025-01-01", periods=50, freq="7D")  # no seasonal period
    series = pd.Series(10.0 + 3.0 * np.arange(50), index=idx)
    fc = SeasonalTrendForecaster(trend=True, trend_damping=1.0, log_transform=False).fit(series)
    np.testing.assert_allclose(fc.predict(5)["forecast"], 10.0 + 3.0 * np.arange(50, 55), rtol=1e-6)


def test_pure_daily_cycle_is_recovered():
    idx = pd.date_range("2025-01-01", periods=24 * 10, freq="h")
    t = np.arange(24 * 12)
    y = 50 + 20 * np.sin(2 * np.pi * t / 24) + 5 * np.cos(2 * np.pi * 3 * t / 24)
    model = SeasonalTrendForecaster(ridge=0.0, log_transform=False)  # no shrinkage: exact fit
    fc = model.fit(pd.Series(y[: len(idx)], index=idx)).predict(48)
    np.testing.assert_allclose(fc["forecast"], y[len(idx) :], atol=1e-6)


# ----------------------------------------------------------------------------- properties


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(30, 400),
    horizon=st.integers(1, 60),
    level=st.floats(0.0, 1e5),
)
def test_intervals_are_nested_and_non_negative_series_stay_non_negative(seed, n, horizon, level):
    rng = np.random.default_rng(seed)
    y = np.abs(level + rng.normal(0, 1 + level * 0.1, n))
    fc = forecast_series(
        pd.Series(y, index=pd.date_range("2025-01-01", periods=n, freq="h")), horizon
    )
    assert list(fc.columns) == FORECAST_COLUMNS
    assert len(fc) == horizon
    tol = 1e-9 * (1 + level)
    assert (fc["lower_95"] <= fc["lower_80"] + tol).all()
    assert (fc["lower_80"] <= fc["forecast"] + tol).all()
    assert (fc["forecast"] <= fc["upper_80"] + tol).all()
    assert (fc["upper_80"] <= fc["upper_95"] + tol).all()
    assert (fc.to_numpy() >= 0).all()


# ----------------------------------------------------------------------------- helpers


def test_seasonal_naive_repeats_the_last_season():
    assert seasonal_naive(np.array([1.0, 2, 3, 4, 5]), 5, 2).tolist() == [4, 5, 4, 5, 4]
    assert seasonal_naive(np.array([1.0, 2, 3]), 2, 1).tolist() == [3, 3]


def test_backtest_mase_by_hand():
    """A series that repeats exactly every 7 days: seasonal-naive is perfect (MASE 0),
    and the scale is the in-sample seasonal-naive error of the first training window."""
    idx = pd.date_range("2025-01-01", periods=70, freq="D")
    y = np.tile([1.0, 2, 3, 4, 5, 6, 7], 10)
    result = backtest(pd.Series(y, index=idx), horizon=7, n_origins=2)
    assert result.naive_mase == 0.0
    assert result.naive_mape_pct == 0.0
    assert result.season_steps == 7
    assert result.n_origins == 2


@pytest.mark.parametrize(
    ("freq", "n", "expected"),
    [
        ("h", 24 * 20, [24, 168]),
        ("h", 24 * 10, [24]),
        ("5min", 600, [288]),
        ("D", 90, [7]),
        ("D", 10, []),
        ("7D", 100, []),
    ],
)
def test_seasonal_periods_follow_the_sampling_step(freq, n, expected):
    step = pd.tseries.frequencies.to_offset(freq)
    assert seasonal_periods(pd.Timedelta(step), n) == expected


# ----------------------------------------------------------------------------- contract


def test_estimator_follows_scikit_learn_conventions():
    params = {"max_harmonics": 3, "half_life_periods": 4.0, "trend": False}
    model = SeasonalTrendForecaster(**params)
    for name, value in params.items():
        assert getattr(model, name) == value
    assert not [a for a in vars(model) if a.endswith("_")]
    series = hourly_demand(24 * 21, seed=0)
    assert model.fit(series) is model
    assert model.periods_ == [24, 168]
    assert model.trend_ is False
    assert model.coef_[1] == 0.0
    assert model.set_params(max_harmonics=2).max_harmonics == 2
    with pytest.raises(RuntimeError):
        SeasonalTrendForecaster().predict(3)


def test_a_few_missing_steps_are_interpolated():
    series = hourly_demand(24 * 14, seed=5).drop(
        index=pd.date_range("2025-01-10", periods=3, freq="h")
    )
    fc = forecast_series(series, 24)
    assert fc.index[0] == pd.Timestamp("2025-01-20")


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (pd.Series([1.0, 2, 3]), "DatetimeIndex"),
        (
            pd.Series([1.0] * 5, index=pd.date_range("2025-01-01", periods=5, freq="D")),
            "at least 8",
        ),
        (
            pd.Series([1.0, np.nan] * 6, index=pd.date_range("2025-01-01", periods=12, freq="D")),
            "finite",
        ),
        (
            pd.Series(
                np.arange(12.0),
                index=pd.DatetimeIndex(
                    [
                        "2025-01-01",
                        "2025-01-02",
                        "2025-01-03",
                        "2025-01-05 07:00",
                        "2025-01-09",
                        "2025-01-10",
                        "2025-01-11",
                        "2025-01-12",
                        "2025-01-13",
                        "2025-01-14",
                        "2025-01-15",
                        "2025-01-16",
                    ]
                ),
            ),
            "not on the regular",
        ),
    ],
)
def test_bad_series_are_rejected_with_a_clear_message(series, message):
    with pytest.raises(SeriesInputError, match=message):
        forecast_series(series, 3)
