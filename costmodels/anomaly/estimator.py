"""scikit-learn estimator: the streaming detector ensemble of :mod:`costmodels.anomaly.ensemble`.

Pipeline per step ``t`` (every quantity from ``x_0..x_t`` only -- online):

1. robust residual ``z_t`` against a seasonal / level baseline (``detector.expected_values``);
2. raw score streams of the chosen base detectors (``detectors``);
3. Numenta anomaly likelihood per stream, the largest z over the streams (Bonferroni);
4. optional rules against alarm floods: ``record_ratio`` -- the statistic must exceed
   ``record_ratio`` x its largest value over the trailing ``max(record_periods * period,
   record_fraction * t)`` steps (a bursty series' 20th burst is not news) -- and
   ``time_bonferroni`` -- ``z^2`` is reduced by ``2 ln(1 + t / period)``, the union bound
   over the periods seen so far;
5. alarm when that statistic reaches ``min_z``; one alarm per ``suppress_periods``.

The defaults are the parameters chosen by leave-one-category-out cross-validation on the
NAB development categories (``bench/nab_cv.py``: maximise the worst training category's
NAB standard score); they are the same for every series -- nothing is fitted per
category, per series or to the demo fleet.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from costmodels.anomaly.detector import MIN_POINTS, infer_period
from costmodels.anomaly.ensemble import (
    STREAMS,
    decide,
    ensemble_statistic,
    raw_streams,
    residual_z,
)

RESULT_COLUMNS = ["value", "expected", "lower", "upper", "anomaly_score", "is_anomaly"]
EXPLAIN_COLUMNS = ["z", "likelihood_z", "detector"]
UNIT_WITHOUT_PERIOD = 24  # steps that stand for "a period" when the series has no season


class OnlineAnomalyDetector(BaseEstimator):
    """Online anomaly detector for one regular series (cost in USD, requests, GPU-hours...).

    Parameters (step counts unless stated):

    period
        Seasonal period in steps; ``None`` infers it from a DatetimeIndex (one day for
        sub-daily data, one week for daily data); ``0`` disables seasonality.
    level_window, seasonal_cycles, scale_window
        Baseline: median of the last ``level_window`` values or of the last
        ``seasonal_cycles`` cycles; robust residual scale over ``scale_window`` residuals.
    detectors
        Base detectors of the ensemble, from ``residual``, ``up``, ``down``, ``shift``,
        ``spectral``, ``entropy`` (see :mod:`costmodels.anomaly.ensemble`).
    short_window, long_window
        Anomaly likelihood: moving average of the raw score over ``short_window`` steps
        against the Gaussian of those averages over the previous ``long_window`` steps.
    min_z
        Alarm threshold on the likelihood z (robust standard deviations).
    record_ratio, record_periods, record_fraction
        Record rule (``None`` disables it); see the module docstring.
    time_bonferroni
        Raise the threshold with the number of periods seen (union bound).
    suppress_periods
        After an alarm, no new alarm for this many periods: one alarm per episode.
    band_z
        Half-width of the expected band in robust standard deviations (display only).

    After :meth:`fit`: ``period_``, ``unit_`` (the period, or 24 steps without one),
    ``suppress_steps_``, ``n_anomalies_`` and ``result_`` (DataFrame indexed like the input
    with columns value, expected, lower, upper -- input units -- anomaly_score in [0, 1],
    is_anomaly 0/1 with is_anomaly == (anomaly_score >= 0.5), and z (robust residual),
    likelihood_z and detector (the base detector with the largest likelihood) to explain
    a point).
    """

    def __init__(
        self,
        period: int | None = None,
        level_window: int = 20,
        seasonal_cycles: int = 3,
        scale_window: int = 1500,
        detectors: tuple[str, ...] = ("residual",),
        short_window: int = 1,
        long_window: int = 8640,
        min_z: float = 4.0,
        record_ratio: float | None = 0.7,
        record_periods: float = 3.5,
        record_fraction: float = 0.3,
        time_bonferroni: bool = False,
        suppress_periods: float = 0.5,
        band_z: float = 3.0,
    ):
        self.period = period
        self.level_window = level_window
        self.seasonal_cycles = seasonal_cycles
        self.scale_window = scale_window
        self.detectors = detectors
        self.short_window = short_window
        self.long_window = long_window
        self.min_z = min_z
        self.record_ratio = record_ratio
        self.record_periods = record_periods
        self.record_fraction = record_fraction
        self.time_bonferroni = time_bonferroni
        self.suppress_periods = suppress_periods
        self.band_z = band_z

    def _validate(self) -> None:
        for name in (
            "level_window",
            "seasonal_cycles",
            "scale_window",
            "short_window",
            "long_window",
        ):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.period is not None and (
            not isinstance(self.period, (int, np.integer)) or self.period < 0
        ):
            raise ValueError(f"period must be None or a non-negative integer, got {self.period!r}")
        if not self.detectors or any(d not in STREAMS for d in self.detectors):
            raise ValueError(
                f"detectors must be a non-empty subset of {STREAMS}, got {self.detectors!r}"
            )
        if not self.min_z > 0:
            raise ValueError(f"min_z must be > 0, got {self.min_z!r}")
        if self.record_ratio is not None and not self.record_ratio > 0:
            raise ValueError(f"record_ratio must be None or > 0, got {self.record_ratio!r}")
        if self.record_periods < 0 or not 0 <= self.record_fraction < 1:
            raise ValueError("need record_periods >= 0 and 0 <= record_fraction < 1")
        if self.suppress_periods < 0 or self.band_z <= 0:
            raise ValueError("need suppress_periods >= 0 and band_z > 0")

    def fit(self, values: pd.Series, y=None) -> OnlineAnomalyDetector:
        """Score every step of ``values`` (time order, numeric, no NaN)."""
        self._validate()
        series = values if isinstance(values, pd.Series) else pd.Series(values)
        if len(series) < MIN_POINTS:
            raise ValueError(f"need at least {MIN_POINTS} points, got {len(series)}")
        x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
        if not np.isfinite(x).all():
            bad = int(np.flatnonzero(~np.isfinite(x))[0])
            raise ValueError(
                f"value at position {bad} ({series.iloc[bad]!r}) is not a finite number"
            )
        if isinstance(series.index, pd.DatetimeIndex) and not series.index.is_monotonic_increasing:
            raise ValueError("the index must be in increasing time order")
        self.period_ = infer_period(series.index) if self.period is None else (self.period or None)
        unit = self.period_ or UNIT_WITHOUT_PERIOD
        self.unit_ = unit
        self.suppress_steps_ = max(1, int(self.suppress_periods * unit))
        z, expected, scale = residual_z(
            x,
            self.period_,
            int(self.level_window),
            int(self.seasonal_cycles),
            int(self.scale_window),
        )
        streams = raw_streams(x, z, tuple(self.detectors))
        stat, which = ensemble_statistic(
            streams, int(self.short_window), int(self.long_window), warmup=max(unit, MIN_POINTS)
        )
        eff, is_anomaly = decide(
            stat,
            unit,
            min_z=float(self.min_z),
            record_ratio=self.record_ratio,
            record_periods=float(self.record_periods),
            record_fraction=float(self.record_fraction),
            time_bonferroni=bool(self.time_bonferroni),
            suppress_steps=self.suppress_steps_,
        )
        score = eff / (eff + float(self.min_z))  # 0.5 exactly at the threshold
        # threshold-crossers muted by the one-alarm-per-episode rule drop below 0.5, so that
        # anomaly_score >= 0.5 exactly where is_anomaly is 1
        score = np.where((score >= 0.5) & (is_anomaly == 0), 0.49 * score, score)
        band = float(self.band_z) * np.nan_to_num(scale, nan=0.0)
        names = np.array(list(streams))
        self.result_ = pd.DataFrame(
            {
                "value": x,
                "expected": expected,
                "lower": expected - band,
                "upper": expected + band,
                "anomaly_score": score,
                "is_anomaly": is_anomaly.astype(int),
                "z": z,
                "likelihood_z": stat,
                "detector": names[which],
            },
            index=series.index,
        )
        self.n_anomalies_ = int(self.result_["is_anomaly"].sum())
        return self

    def fit_predict(self, values: pd.Series, y=None) -> np.ndarray:
        """0/1 decision per step."""
        return self.fit(values).result_["is_anomaly"].to_numpy()


def detect(values: pd.Series, **params) -> pd.DataFrame:
    """Detect anomalies in a series (DatetimeIndex recommended, for seasonality).

    Returns a DataFrame indexed like ``values`` with columns value, expected, lower, upper
    (the expected band, same units as the series), anomaly_score (0..1), is_anomaly (0/1)
    and the explanation columns z, likelihood_z, detector.  ``params`` are
    :class:`OnlineAnomalyDetector` parameters.
    """
    return OnlineAnomalyDetector(**params).fit(values).result_
