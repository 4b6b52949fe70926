"""Seasonal + trend forecaster with prediction intervals, for cost and demand series.

Model (on the values, or on their logarithm when that fits a holdout better):

    y_t = level + slope * t + sum_p Fourier_p(t) + e_t,      e_t = phi * e_{t-1} + u_t

* seasonal periods come from the sampling step: one day (sub-daily data) and one week
  (sub-daily data with at least two weeks of history, or daily data);
* the deterministic part is fitted by weighted ridge least squares with exponentially
  decaying weights (half-life ``half_life_periods`` seasonal periods), so recent level
  shifts and trend changes dominate;
* the slope is damped per day (``trend_damping``) so long horizons do not run away;
* prediction intervals use the AR(1) error variance at each horizon and the empirical
  quantiles of the standardised one-step residuals (heavy tails widen them).

Units are those of the input (USD per day, requests per hour, ...).  Forecasts of a
non-negative series are clipped at zero.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from costmodels.forecast.series_io import SeriesInputError, infer_step, regularise

MIN_POINTS = 8
MAX_PROFILE_PAIRS = 84
LEVELS = (0.8, 0.95)
FORECAST_COLUMNS = ["forecast", "lower_80", "upper_80", "lower_95", "upper_95"]


def seasonal_periods(step: pd.Timedelta, n: int) -> list[int]:
    """Seasonal periods (in steps) worth modelling for a series of n points."""
    day, week = pd.Timedelta(days=1), pd.Timedelta(days=7)
    periods = []
    if step <= pd.Timedelta(hours=6) and day % step == pd.Timedelta(0):
        periods.append(int(day / step))
        if n >= 2 * int(week / step):
            periods.append(int(week / step))
    elif abs(step - day) < pd.Timedelta(hours=1):
        periods.append(7)
    return [p for p in periods if p >= 2 and n >= 2 * p]


def _design(t: np.ndarray, periods: list[int], harmonics: tuple[int, ...]) -> np.ndarray:
    cols = [np.ones_like(t), t]
    for p, n_harmonics in zip(periods, harmonics, strict=True):
        for k in range(1, n_harmonics + 1):
            w = 2 * np.pi * k * t / p
            cols.append(np.cos(w))
            if 2 * k != p:  # at the Nyquist frequency sin(pi t) is identically zero
                cols.append(np.sin(w))
    return np.column_stack(cols)


class SeasonalTrendForecaster:
    """Forecast a regular series (scikit-learn style: fit, then predict a horizon).

    Parameters
    ----------
    max_harmonics : Fourier pairs per seasonal period (capped at period / 2).  For the
        longest period the full profile (period / 2 pairs, i.e. one value per step of the
        week) is also tried on the holdout -- it captures sharp shapes such as nightly
        batch jobs that stop at weekends.
    half_life_periods : half-life of the fit weights in seasonal periods (or in 30 steps
        for non-seasonal series).
    trend_damping : per-day damping factor of the slope for future steps (1 = none).
    ridge : ridge penalty on the seasonal coefficients, relative to the weight sum.
    log_transform : "auto" (try both on a holdout), True or False.  Only used for
        strictly positive series.
    trend : "auto" (keep the slope only if it helps on a holdout), True or False.

    Learned: ``step_``, ``periods_``, ``log_``, ``coef_``, ``phi_``, ``sigma_``,
    ``quantile_z_`` (dict level -> standardised half-width), ``last_timestamp_``,
    ``trend_`` (bool), ``harmonics_`` (Fourier pairs per period), ``memory_`` (half-life multiplier chosen on the holdout).
    """

    def __init__(
        self,
        max_harmonics: int = 8,
        half_life_periods: float = 8.0,
        trend_damping: float = 0.99,
        ridge: float = 1e-3,
        log_transform: bool | str = "auto",
        trend: bool | str = "auto",
    ):
        self.max_harmonics = max_harmonics
        self.half_life_periods = half_life_periods
        self.trend_damping = trend_damping
        self.ridge = ridge
        self.log_transform = log_transform
        self.trend = trend

    def get_params(self, deep: bool = True) -> dict:
        return {
            "max_harmonics": self.max_harmonics,
            "half_life_periods": self.half_life_periods,
            "trend_damping": self.trend_damping,
            "ridge": self.ridge,
            "log_transform": self.log_transform,
            "trend": self.trend,
        }

    def set_params(self, **params) -> SeasonalTrendForecaster:
        for k, v in params.items():
            if k not in self.get_params():
                raise ValueError(f"unknown parameter {k!r}")
            setattr(self, k, v)
        return self

    # ------------------------------------------------------------------ fitting
    def _validate(self, values: pd.Series) -> pd.Series:
        if not isinstance(values, pd.Series) or not isinstance(values.index, pd.DatetimeIndex):
            raise SeriesInputError("values must be a pandas Series with a DatetimeIndex")
        if len(values) < MIN_POINTS:
            raise SeriesInputError(f"need at least {MIN_POINTS} points, got {len(values)}")
        x = pd.to_numeric(values, errors="coerce")
        if not np.isfinite(x.to_numpy(dtype=float)).all():
            raise SeriesInputError("values must be finite numbers (no NaN or inf)")
        if not values.index.is_monotonic_increasing or values.index.has_duplicates:
            raise SeriesInputError("the index must be strictly increasing timestamps")
        if self.max_harmonics < 0 or self.half_life_periods <= 0 or self.ridge < 0:
            raise ValueError("max_harmonics >= 0, half_life_periods > 0 and ridge >= 0 needed")
        if not 0 < self.trend_damping <= 1:
            raise ValueError("trend_damping must be in (0, 1]")
        if self.log_transform not in ("auto", True, False):
            raise ValueError("log_transform must be 'auto', True or False")
        if self.trend not in ("auto", True, False):
            raise ValueError("trend must be 'auto', True or False")
        return regularise(x.astype(float), path="values")

    def _fit_arrays(
        self,
        y: np.ndarray,
        use_log: bool,
        use_trend: bool,
        memory: float,
        harmonics: tuple[int, ...],
    ) -> dict:
        n = len(y)
        z = np.log(y) if use_log else y
        t = np.arange(n, dtype=float)
        X = _design(t, self.periods_, harmonics)
        unit = max(self.periods_) if self.periods_ else 30
        w = 0.5 ** ((n - 1 - t) / (self.half_life_periods * unit * memory))
        sw = np.sqrt(w)
        penalty = np.full(X.shape[1], self.ridge * w.sum())
        penalty[:2] = 0.0
        keep = np.ones(X.shape[1], dtype=bool)
        keep[1] = use_trend
        Xk = X[:, keep] * sw[:, None]
        A = Xk.T @ Xk + np.diag(penalty[keep])
        coef = np.zeros(X.shape[1])
        coef[keep] = np.linalg.lstsq(A, Xk.T @ (z * sw), rcond=None)[0]
        e = z - X @ coef
        if n > 3 and np.sum(w[1:] * e[:-1] ** 2) > 0:
            phi = float(np.sum(w[1:] * e[1:] * e[:-1]) / np.sum(w[1:] * e[:-1] ** 2))
            phi = float(np.clip(phi, 0.0, 0.98))
        else:
            phi = 0.0
        u = e[1:] - phi * e[:-1]
        wu = w[1:]
        sigma = float(np.sqrt(np.sum(wu * u**2) / wu.sum())) if len(u) else 0.0
        if sigma <= 0:
            sigma = 1e-9 * max(1.0, float(np.abs(z).mean()))
        std_u = np.abs(u) / sigma
        qz = (
            {lv: float(max(np.quantile(std_u, lv), 0.5)) for lv in LEVELS}
            if len(u) > 10
            else {0.8: 1.2816, 0.95: 1.96}
        )
        return {
            "coef": coef,
            "phi": phi,
            "sigma": sigma,
            "qz": qz,
            "e_last": float(e[-1]),
            "n": n,
            "harmonics": harmonics,
        }

    def fit(self, values: pd.Series) -> SeasonalTrendForecaster:
        """Fit on a regular series (a few missing steps are interpolated)."""
        series = self._validate(values)
        y = series.to_numpy(dtype=float)
        self.step_ = infer_step(series.index)
        self.periods_ = seasonal_periods(self.step_, len(y))
        self.last_timestamp_ = series.index[-1]
        self.nonnegative_ = bool((y >= 0).all())
        positive = bool((y > 0).all())
        logs = [False, True] if self.log_transform == "auto" else [self.log_transform is True]
        logs = [lg for lg in logs if positive or not lg] or [False]
        trends = [True, False] if self.trend == "auto" else [bool(self.trend)]
        base = tuple(min(int(self.max_harmonics), p // 2) for p in self.periods_)
        candidates = [base]
        # the full profile (one value per step of the longest period) only where it is a
        # few dozen columns (hourly data over a week): 5-minute data would need hundreds
        if self.periods_ and base[-1] < self.periods_[-1] // 2 <= MAX_PROFILE_PAIRS:
            candidates.append((*base[:-1], self.periods_[-1] // 2))
        self.harmonics_ = self._choose_harmonics(y, candidates, logs[0], trends[0])
        self.log_, self.trend_, self.memory_ = self._choose(y, logs, trends, self.harmonics_)
        state = self._fit_arrays(y, self.log_, self.trend_, self.memory_, self.harmonics_)
        self.coef_, self.phi_, self.sigma_ = state["coef"], state["phi"], state["sigma"]
        self.quantile_z_, self._e_last, self.n_train_ = state["qz"], state["e_last"], state["n"]
        return self

    def _holdout(self, y: np.ndarray) -> int:
        return max(1, min(len(y) // 4, max(self.periods_) if self.periods_ else 24))

    def _holdout_error(self, y: np.ndarray, hold: int, option: tuple) -> float:
        use_log, use_trend, memory, harmonics = option
        state = self._fit_arrays(y[:-hold], use_log, use_trend, memory, harmonics)
        mean, _ = self._project(state, hold, use_log)
        return float(np.mean(np.abs(mean - y[-hold:])))

    def _choose_harmonics(
        self, y: np.ndarray, candidates: list[tuple[int, ...]], use_log: bool, use_trend: bool
    ) -> tuple[int, ...]:
        hold = self._holdout(y)
        if len(candidates) == 1 or len(y) - hold < MIN_POINTS:
            return candidates[0]
        errors = [self._holdout_error(y, hold, (use_log, use_trend, 1.0, h)) for h in candidates]
        return candidates[int(np.argmin(errors))]

    def _choose(
        self, y: np.ndarray, logs: list[bool], trends: list[bool], harmonics: tuple[int, ...]
    ) -> tuple[bool, bool, float]:
        """Pick (log, trend, memory) by mean absolute error on the last season (or last
        quarter of the series) held out.  ``memory`` scales the weights' half-life: 1, or
        1/5 or 1/25 for series whose level wanders."""
        options = [(lg, tr, m) for lg in logs for tr in trends for m in (1.0, 0.2, 0.04)]
        hold = self._holdout(y)
        if len(options) == 1 or len(y) - hold < MIN_POINTS:
            return options[0]
        errors = [self._holdout_error(y, hold, (*option, harmonics)) for option in options]
        return options[int(np.argmin(errors))]

    # --------------------------------------------------------------- predicting
    def _project(self, state: dict, horizon: int, use_log: bool) -> tuple[np.ndarray, np.ndarray]:
        n = state["n"]
        h = np.arange(1, horizon + 1, dtype=float)
        t = n - 1 + h
        X = _design(t, self.periods_, state["harmonics"])
        coef = state["coef"]
        steps_per_day = max(pd.Timedelta(days=1) / self.step_, 1e-9)
        d = float(self.trend_damping) ** (1.0 / steps_per_day)
        damped_h = h if d >= 1 else d * (1 - d**h) / (1 - d)
        base = X @ coef - coef[1] * h + coef[1] * damped_h
        phi = state["phi"]
        mean = base + state["e_last"] * phi**h
        var_factor = (1 - phi ** (2 * h)) / (1 - phi**2) if phi > 0 else np.ones_like(h)
        std = state["sigma"] * np.sqrt(var_factor)
        return (np.exp(mean) if use_log else mean), std

    def predict(self, horizon: int) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the last training timestamp.

        Returns columns forecast, lower_80, upper_80, lower_95, upper_95 indexed by the
        future timestamps.
        """
        if not hasattr(self, "coef_"):
            raise RuntimeError("call fit() before predict()")
        if int(horizon) < 1:
            raise ValueError(f"horizon must be a positive number of steps, got {horizon!r}")
        horizon = int(horizon)
        state = {
            "coef": self.coef_,
            "phi": self.phi_,
            "sigma": self.sigma_,
            "e_last": self._e_last,
            "n": self.n_train_,
            "harmonics": self.harmonics_,
        }
        mean, std = self._project(state, horizon, self.log_)
        center = np.log(mean) if self.log_ else mean
        out = {"forecast": mean}
        for lv in LEVELS:
            half = self.quantile_z_[lv] * std
            lo, hi = center - half, center + half
            if self.log_:
                lo, hi = np.exp(lo), np.exp(hi)
            tag = int(round(lv * 100))
            out[f"lower_{tag}"], out[f"upper_{tag}"] = lo, hi
        frame = pd.DataFrame(out, index=self.future_index(horizon))[FORECAST_COLUMNS]
        if self.nonnegative_:
            frame = frame.clip(lower=0.0)
        return frame

    def future_index(self, horizon: int) -> pd.DatetimeIndex:
        return pd.date_range(self.last_timestamp_ + self.step_, periods=horizon, freq=self.step_)


def forecast_series(values: pd.Series, horizon: int, **params) -> pd.DataFrame:
    """Forecast ``horizon`` steps of a regular series with a DatetimeIndex.

    Returns a DataFrame indexed by the future timestamps with columns forecast,
    lower_80, upper_80, lower_95, upper_95 (same units as ``values``): the model chosen by
    rolling-origin backtest with conformal intervals
    (:class:`costmodels.forecast.auto.AutoForecaster`; ``params`` go to it).
    """
    from costmodels.forecast.auto import AutoForecaster

    return AutoForecaster(horizon=horizon, **params).fit(values).predict(horizon)
