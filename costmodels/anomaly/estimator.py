"""scikit-learn-style estimator around :func:`costmodels.anomaly.detector.score_series`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodels.anomaly.detector import MIN_POINTS, infer_period, score_series

RESULT_COLUMNS = ["value", "expected", "lower", "upper", "anomaly_score", "is_anomaly"]


class OnlineAnomalyDetector:
    """Online anomaly detector for one regular series (cost in USD, requests, GPU %, ...).

    Parameters are counts of steps of the series (not durations) except ``period``.

    period
        Seasonal period in steps; ``None`` infers it from a DatetimeIndex (one day for
        sub-daily data, one week for daily data) and ``0`` disables seasonality.
    level_window
        Steps in the median level baseline.
    seasonal_cycles
        Past periods whose median forms the seasonal baseline.
    scale_window
        Steps of past residuals in the robust scale.
    shift_windows
        Window lengths of the mean-shift statistics.
    record_window, record_fraction
        An alarm must beat the largest statistic over the last
        ``max(record_window, record_fraction * t)`` steps.
    record_cap
        A record-breaking value raises that bar by at most this factor, so one huge
        event cannot mask later anomalies.
    warmup_periods
        Seasonal periods at the start (while the seasonal baseline is learning) that
        raise no alert and never enter the record reference.
    min_z
        Minimum statistic (robust standard deviations) for an alarm.
    extreme_z
        Beyond this many robust standard deviations ``|z|`` is compressed
        logarithmically before the statistics and records are computed.
    suppress_periods, suppress_steps
        After an alert no new alert is raised for ``suppress_periods`` seasonal periods
        (half a day for sub-daily data, 3.5 days for daily data), or for
        ``suppress_steps`` steps when the series has no seasonal period: one alert per
        episode.
    band_z
        Half-width of the expected band in robust standard deviations (display only).

    After :meth:`fit`: ``period_`` (int or None), ``suppress_steps_``, ``n_anomalies_``
    and ``result_`` (DataFrame indexed like the input with columns value, expected,
    lower, upper -- same units as the input -- anomaly_score in [0, 1] and is_anomaly
    0/1, where is_anomaly == (anomaly_score >= 0.5)).

    >>> import numpy as np, pandas as pd
    >>> idx = pd.date_range("2024-01-01", periods=400, freq="h")
    >>> y = pd.Series(np.r_[np.full(300, 10.0), np.full(100, 30.0)], index=idx)
    >>> y += np.random.default_rng(0).normal(0, 0.5, 400)
    >>> OnlineAnomalyDetector().fit(y).result_["is_anomaly"].to_numpy().nonzero()[0].tolist()
    [300]
    """

    def __init__(
        self,
        period: int | None = None,
        level_window: int = 20,
        seasonal_cycles: int = 3,
        scale_window: int = 1500,
        shift_windows: tuple[int, ...] = (3, 12),
        record_window: int = 1000,
        record_fraction: float = 0.3,
        record_cap: float = 3.0,
        warmup_periods: float = 1.0,
        min_z: float = 6.0,
        extreme_z: float = 15.0,
        suppress_periods: float = 0.5,
        suppress_steps: int = 100,
        band_z: float = 3.0,
    ):
        self.period = period
        self.level_window = level_window
        self.seasonal_cycles = seasonal_cycles
        self.scale_window = scale_window
        self.shift_windows = shift_windows
        self.record_window = record_window
        self.record_fraction = record_fraction
        self.record_cap = record_cap
        self.warmup_periods = warmup_periods
        self.min_z = min_z
        self.extreme_z = extreme_z
        self.suppress_periods = suppress_periods
        self.suppress_steps = suppress_steps
        self.band_z = band_z

    def get_params(self, deep: bool = True) -> dict:
        """Constructor parameters (scikit-learn convention)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> OnlineAnomalyDetector:
        for name, value in params.items():
            if name not in self._param_names():
                raise ValueError(f"unknown parameter {name!r} for OnlineAnomalyDetector")
            setattr(self, name, value)
        return self

    @staticmethod
    def _param_names() -> list[str]:
        return [
            "period", "level_window", "seasonal_cycles", "scale_window", "shift_windows",
            "record_window", "record_fraction", "record_cap", "warmup_periods", "min_z", "extreme_z", "suppress_periods", "suppress_steps",
            "band_z",
        ]  # fmt: skip

    def _validate(self) -> None:
        for name in ("level_window", "seasonal_cycles", "scale_window", "record_window"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.period is not None and (
            not isinstance(self.period, (int, np.integer)) or self.period < 0
        ):
            raise ValueError(f"period must be None or a non-negative integer, got {self.period!r}")
        if not self.shift_windows or any(int(k) < 2 for k in self.shift_windows):
            raise ValueError(f"shift_windows must be integers >= 2, got {self.shift_windows!r}")
        if self.warmup_periods < 0:
            raise ValueError(f"warmup_periods must be >= 0, got {self.warmup_periods!r}")
        if self.record_cap < 1:
            raise ValueError(f"record_cap must be >= 1, got {self.record_cap!r}")
        if not 0 <= self.record_fraction < 1:
            raise ValueError(f"record_fraction must be in [0, 1), got {self.record_fraction!r}")
        if self.min_z <= 0 or self.extreme_z < self.min_z:
            raise ValueError("need 0 < min_z <= extreme_z")
        if self.suppress_steps < 1 or self.suppress_periods < 0 or self.band_z <= 0:
            raise ValueError("need suppress_steps >= 1, suppress_periods >= 0 and band_z > 0")

    def fit(self, values: pd.Series) -> OnlineAnomalyDetector:
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
        self.suppress_steps_ = (
            max(1, int(round(self.suppress_periods * self.period_)))
            if self.period_
            else int(self.suppress_steps)
        )
        out = score_series(
            x,
            period=self.period_,
            level_window=int(self.level_window),
            seasonal_cycles=int(self.seasonal_cycles),
            scale_window=int(self.scale_window),
            shift_windows=tuple(int(k) for k in self.shift_windows),
            record_window=int(self.record_window),
            record_fraction=float(self.record_fraction),
            record_cap=float(self.record_cap),
            warmup_periods=float(self.warmup_periods),
            min_z=float(self.min_z),
            extreme_z=float(self.extreme_z),
            suppress_steps=self.suppress_steps_,
            band_z=float(self.band_z),
        )
        self.result_ = pd.DataFrame(
            {"value": x, **{c: out[c] for c in RESULT_COLUMNS[1:]}}, index=series.index
        )
        self.result_["is_anomaly"] = self.result_["is_anomaly"].astype(int)
        self.n_anomalies_ = int(self.result_["is_anomaly"].sum())
        return self

    def fit_predict(self, values: pd.Series) -> np.ndarray:
        """0/1 decision per step."""
        return self.fit(values).result_["is_anomaly"].to_numpy()


def detect(values: pd.Series, **params) -> pd.DataFrame:
    """Detect anomalies in a series (DatetimeIndex recommended, for seasonality).

    Returns a DataFrame indexed like ``values`` with columns value, expected, lower, upper
    (the expected band, same units as the series), anomaly_score (0..1) and is_anomaly (0/1).
    ``params`` are :class:`OnlineAnomalyDetector` parameters.
    """
    return OnlineAnomalyDetector(**params).fit(values).result_
