"""Online anomaly detector: no look-ahead, quiet on normal series, finds injected anomalies."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodels.anomaly import RESULT_COLUMNS, OnlineAnomalyDetector, detect
from costmodels.anomaly.detector import capped_record_ratio, first_alerts, infer_period
from costmodels.anomaly.estimator import EXPLAIN_COLUMNS


def _seasonal_series(n: int, seed: int, freq: str = "h") -> pd.Series:
    """Hourly demand-like series: daily + weekly cycle, slow trend, noise (units: req/s)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    y = (
        200
        + 0.01 * t
        + 60 * np.sin(2 * np.pi * t / 24)
        + 20 * np.sin(2 * np.pi * t / 168)
        + rng.normal(0, 5, n)
    )
    return pd.Series(y, index=pd.date_range("2025-01-01", periods=n, freq=freq))


def _alerts(result: pd.DataFrame) -> list[int]:
    return np.flatnonzero(result["is_anomaly"].to_numpy()).tolist()


# ----------------------------------------------------------------------------- online


@settings(max_examples=12, deadline=None)
@given(cut=st.integers(min_value=12, max_value=1199), seed=st.integers(0, 5))
def test_appending_future_points_never_changes_past_output(cut, seed):
    series = _seasonal_series(1200, seed)
    series.iloc[[300, 700, 701, 702]] += [400, -300, -300, -300]  # spike and a dip
    series.iloc[900:] += 150  # level shift
    full = detect(series)
    prefix = detect(series.iloc[:cut])
    pd.testing.assert_frame_equal(prefix, full.iloc[:cut])


def test_online_property_holds_on_a_series_without_time_index():
    rng = np.random.default_rng(3)
    values = pd.Series(np.cumsum(rng.normal(0, 1, 800)))
    full = detect(values)
    for cut in (50, 333, 799):
        pd.testing.assert_frame_equal(detect(values.iloc[:cut]), full.iloc[:cut])


# ----------------------------------------------------------------------------- quiet


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_flat_noisy_series_raises_no_anomaly(seed):
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2025-01-01", periods=5000, freq="5min")
    result = detect(pd.Series(100 + rng.normal(0, 3, 5000), index=idx))
    assert _alerts(result) == []


def test_seasonal_series_with_trend_raises_no_anomaly():
    result = detect(_seasonal_series(24 * 60, seed=11))
    assert _alerts(result) == []


def test_constant_series_raises_no_anomaly_and_has_flat_band():
    idx = pd.date_range("2025-01-01", periods=500, freq="h")
    result = detect(pd.Series(42.0, index=idx))
    assert _alerts(result) == []
    assert np.allclose(result["expected"], 42.0)
    assert (result["anomaly_score"] == 0).all()


def test_recurring_identical_blips_stop_alerting_after_the_first_few():
    """A quantised metric (0.1, blipping to 0.2 on 2 % of the steps): the blips are its
    normal behaviour, so only the first occurrences are news."""
    rng = np.random.default_rng(1)
    y = np.where(rng.random(4000) < 0.02, 0.2, 0.1)
    result = detect(pd.Series(y, index=pd.date_range("2025-01-01", periods=4000, freq="5min")))
    alerts = _alerts(result)
    assert (y[alerts] == 0.2).all()
    # 78 blips; the record rule and the likelihood keep all but the unusual ones quiet
    # (measured: 19 alerts, mostly blips close to the previous one)
    assert len(alerts) <= 0.3 * (y == 0.2).sum()


# ----------------------------------------------------------------------------- detects


def test_level_shift_is_flagged_within_a_few_steps():
    rng = np.random.default_rng(5)
    y = 50 + rng.normal(0, 1, 4000)
    y[3000:] += 8  # eight noise standard deviations
    result = detect(pd.Series(y, index=pd.date_range("2025-01-01", periods=4000, freq="5min")))
    alerts = _alerts(result)
    assert alerts and 3000 <= alerts[0] <= 3003
    assert all(a >= 3000 for a in alerts)


def test_spike_off_peak_in_a_seasonal_series_is_flagged_at_its_step():
    series = _seasonal_series(24 * 45, seed=7)
    spike_at = 24 * 30 + 3  # 03:00, the quiet part of the day
    series.iloc[spike_at] += 120  # below the daily peak, but far off the expected value
    result = detect(series)
    assert _alerts(result) == [spike_at]
    row = result.iloc[spike_at]
    assert row["value"] > row["upper"]
    assert row["anomaly_score"] >= 0.5


@pytest.mark.parametrize(("seed", "days"), [(11, 60), (3, 90)])
def test_demo_fleets_the_detector_was_not_tuned_on_have_their_anomalies_found(seed, days):
    """Daily cost per (service tag, cloud service) of demo fleets with other seeds and
    lengths than the test database's (the detector's settings come from NAB CV, not from
    any demo): each injected anomaly alerts on its day; besides them only the monthly credit
    (a real event) and at most one more series alert."""
    demo = pytest.importorskip("planner.core.demo")
    billing, _, injected = demo.generate(
        days=days, seed=seed, end=dt.date(2026, 10, 1), usage_step_min=60
    )
    service = billing["Tags"].str.extract(r'"service": "([^"]+)"')[0].fillna("(unallocated)")
    day = pd.DatetimeIndex(billing["ChargePeriodStart"]).tz_convert(None).normalize()
    days_index = pd.date_range(day.min(), day.max(), freq="D")
    alerts = {}
    for key, group in billing.groupby([service, billing["ServiceName"]]):
        daily = (
            group["BilledCost"].groupby(day[group.index]).sum().reindex(days_index, fill_value=0.0)
        )
        result = detect(daily)
        found = [str(t.date()) for t in result.index[result["is_anomaly"] == 1]]
        if found:
            alerts[key] = found
    where = {
        "runaway-scale-out": ("image-gen", "Amazon Elastic Compute Cloud"),
        "untagged-gpu-instance": ("(unallocated)", "Amazon Elastic Compute Cloud"),
        "egress-spike": ("chat-assistant", "AWS Data Transfer"),
    }
    for a in injected:
        assert str(a.start.date()) in alerts.get(where[a.kind], []), (a.kind, alerts)
    others = {k: v for k, v in alerts.items() if k not in where.values()}
    assert (
        set(others) <= {("(unallocated)", "AWS Credits"), *others}
        and len([k for k in others if k != ("(unallocated)", "AWS Credits")]) <= 1
    ), others


# ----------------------------------------------------------------------------- output


def test_result_frame_contract():
    series = _seasonal_series(600, seed=2)
    series.iloc[[400, 401, 402, 405]] += 300  # one episode: one alert, muted repeats
    result = detect(series)
    assert list(result.columns) == RESULT_COLUMNS + EXPLAIN_COLUMNS
    assert result.index.equals(series.index)
    assert result["anomaly_score"].between(0, 1).all()
    assert set(result["is_anomaly"].unique()) <= {0, 1}
    # the decision is exactly "score >= 0.5" (muted repeats of an episode score below it)
    np.testing.assert_array_equal(
        result["is_anomaly"], (result["anomaly_score"] >= 0.5).astype(int)
    )
    assert (result["lower"] <= result["expected"]).all()
    assert (result["expected"] <= result["upper"]).all()
    np.testing.assert_array_equal(result["value"], series.to_numpy())


def test_level_baseline_is_the_median_of_the_previous_values():
    rng = np.random.default_rng(9)
    values = pd.Series(rng.normal(10, 2, 200))  # no time index: no seasonality
    result = detect(values, level_window=20)
    for t in (1, 5, 20, 150, 199):
        assert result["expected"].iloc[t] == pytest.approx(
            np.median(values.iloc[max(0, t - 20) : t])
        )


def test_first_alerts_keeps_one_alert_per_episode():
    candidate = np.array([0, 1, 1, 1, 0, 0, 1, 0, 1, 1], dtype=bool)
    assert first_alerts(candidate, 5).tolist() == [0, 1, 0, 0, 0, 0, 1, 0, 0, 0]
    assert first_alerts(candidate, 1).tolist() == candidate.astype(int).tolist()


def test_capped_record_ratio_by_hand():
    stat = np.array([1.0, 2.0, 1.0, 10.0, 3.0, 7.0])
    # min_history 1: t=0 is warm-up (never a reference); t=1 no record yet -> inf;
    # t=2 record 2 -> 0.5; t=3 record 2 -> 5, enters capped at 3*2=6; t=4 record 6 -> 0.5;
    # t=5 record 6 -> 7/6
    ratio = capped_record_ratio(stat, floor=100, fraction=0.0, cap=3.0, min_history=1)
    assert np.isnan(ratio[0])
    np.testing.assert_allclose(ratio[1:], [np.inf, 0.5, 5.0, 0.5, 7.0 / 6.0])
    # a window of 2 steps forgets old records: t=5 sees kept values at t=3,4 -> (6, 3)
    ratio = capped_record_ratio(stat, floor=2, fraction=0.0, cap=3.0, min_history=1)
    assert ratio[5] == pytest.approx(7.0 / 6.0)
    ratio = capped_record_ratio(stat, floor=1, fraction=0.0, cap=3.0, min_history=1)
    assert ratio[5] == pytest.approx(7.0 / 3.0)


@pytest.mark.parametrize(
    ("freq", "period"), [("5min", 288), ("h", 24), ("15min", 96), ("D", 7), ("7D", None)]
)
def test_period_is_inferred_from_the_sampling_step(freq, period):
    assert infer_period(pd.date_range("2025-01-01", periods=50, freq=freq)) == period


# ----------------------------------------------------------------------------- estimator


def test_estimator_follows_scikit_learn_conventions():
    params = {"level_window": 7, "min_z": 5.0, "detectors": ("up", "down"), "period": 0}
    detector = OnlineAnomalyDetector(**params)
    for name, value in params.items():
        assert getattr(detector, name) == value
    assert detector.get_params()["level_window"] == 7
    assert not [a for a in vars(detector) if a.endswith("_")]
    series = _seasonal_series(300, seed=1)
    assert detector.fit(series) is detector
    assert detector.period_ is None  # period=0 disables seasonality
    assert detector.result_.shape == (300, len(RESULT_COLUMNS + EXPLAIN_COLUMNS))
    assert detector.fit_predict(series).tolist() == detector.result_["is_anomaly"].tolist()
    assert detector.set_params(min_z=7.0).min_z == 7.0


@pytest.mark.parametrize(
    "params",
    [
        {"level_window": 0},
        {"min_z": 0},
        {"detectors": ("htm",)},
        {"record_ratio": 0.0},
        {"suppress_periods": -1},
        {"record_fraction": 1.5},
        {"long_window": 0},
    ],
)
def test_invalid_parameters_are_rejected_at_fit(params):
    detector = OnlineAnomalyDetector(**params)  # construction never validates
    with pytest.raises(ValueError):
        detector.fit(_seasonal_series(100, seed=0))


def test_bad_values_are_rejected():
    with pytest.raises(ValueError, match="at least"):
        detect(pd.Series([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="position 4"):
        detect(pd.Series([1.0, 2, 3, 4, np.nan, 6, 7, 8, 9, 10, 11]))
