"""Per-series model choice by rolling-origin backtest, with conformal prediction intervals.

:class:`AutoForecaster` (a scikit-learn estimator) does, for one regular series:

1. **Rolling-origin backtest** (Tashman, "Out-of-sample tests of forecasting accuracy",
   IJF 2000): origins ``o_k = n - H_b - k * s`` (``H_b`` the backtest horizon, ``s`` half
   of it), each candidate fitted on ``y[:o_k]`` and scored on ``y[o_k:o_k + H_b]``.
2. **Model choice** among the candidates -- last value, seasonal naive (same time
   yesterday; same time last week), simple exponential smoothing, seasonal mean (mean of the last four seasons at the
   same position, robust to bursts) and the seasonal-trend regression
   (:class:`~costmodels.forecast.model.SeasonalTrendForecaster`) -- by pooled WAPE over
   the origins.  The naive forecasts are candidates, so the choice is never worse than
   the best naive forecast *on the backtest*.
3. **Conformal intervals** (split conformal prediction on the backtest residuals, as in
   Stankeviciute et al., "Conformal time-series forecasting", NeurIPS 2021, and the
   rolling-origin variant used by statsforecast's ``ConformalIntervals``): the chosen
   model's residuals ``actual - forecast`` at the backtest origins, grouped into horizon
   buckets, give the lower and upper quantiles at ``(1 -/+ level) / 2`` with the
   finite-sample correction ``ceil((m + 1) q) / m``; widths never shrink with the horizon.
4. **Honest accuracy**: ``backtest_`` reports the chosen model's WAPE, the best naive
   WAPE, and the interval coverage measured *leave-one-origin-out* (each origin's points
   checked against intervals calibrated on the other origins), so the displayed coverage
   is out-of-sample.

Units are the input's.  Non-negative series get non-negative forecasts and bounds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from costmodels.forecast.model import MIN_POINTS, SeasonalTrendForecaster
from costmodels.forecast.series_io import SeriesInputError, infer_step, regularise

LEVELS = (0.8, 0.95)
NAIVE = ("naive", "seasonal_naive_day", "seasonal_naive_week")
CANDIDATES = (*NAIVE, "ses", "seasonal_mean", "seasonal_trend")
SES_ALPHAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
MEAN_SEASONS = 4
MAX_TREND_POINTS = 24 * 7 * 12  # the regression sees at most this many recent points


def season_lengths(step: pd.Timedelta) -> dict[str, int]:
    """Steps per day and per week for this sampling step (absent when not whole)."""
    out = {}
    for name, span in (("day", pd.Timedelta(days=1)), ("week", pd.Timedelta(days=7))):
        if step <= span and span % step == pd.Timedelta(0) and span // step >= 2:
            out[name] = int(span // step)
    return out


def _season_for_mean(seasons: dict[str, int]) -> int | None:
    return seasons.get("day") if "day" in seasons and seasons["day"] > 1 else seasons.get("week")


def candidate_forecast(
    name: str, train: pd.Series, horizon: int, seasons: dict[str, int]
) -> np.ndarray | None:
    """``horizon`` values of candidate ``name`` fitted on ``train``; None if it needs more
    history than ``train`` has."""
    y = train.to_numpy(dtype=float)
    n = len(y)
    reps = np.arange(horizon)
    if name == "naive":
        return np.full(horizon, y[-1])
    if name in ("seasonal_naive_day", "seasonal_naive_week"):
        m = seasons.get(name.rsplit("_", 1)[1])
        if not m or n < m:
            return None
        return y[n - m + (reps % m)]
    if name == "seasonal_mean":
        m = _season_for_mean(seasons)
        if not m or n < 2 * m:
            return None
        k = min(MEAN_SEASONS, n // m)
        past = np.vstack([y[n - (j + 1) * m + (reps % m)] for j in range(k)])
        return past.mean(axis=0)
    if name == "ses":
        return np.full(horizon, simple_exponential_smoothing(y))
    if name == "seasonal_trend":
        if n < MIN_POINTS:
            return None
        recent = train.iloc[-MAX_TREND_POINTS:]
        return SeasonalTrendForecaster().fit(recent).predict(horizon)["forecast"].to_numpy()
    raise ValueError(f"unknown candidate {name!r}; choose from {', '.join(CANDIDATES)}")


def simple_exponential_smoothing(y: np.ndarray) -> float:
    """Level of simple exponential smoothing (ETS(A,N,N), Hyndman et al., "Forecasting
    with exponential smoothing", 2008, ch. 2) with the smoothing constant from a small
    grid minimising the one-step squared error; returns the final level."""
    best = (np.inf, float(y[-1]))
    for alpha in SES_ALPHAS:
        level, sse = float(y[0]), 0.0
        # recursion l_t = l_{t-1} + alpha (y_t - l_{t-1}), vectorised as an EWM
        levels = pd.Series(y).ewm(alpha=alpha, adjust=False).mean().to_numpy()
        sse = float(np.sum((y[1:] - levels[:-1]) ** 2))
        level = float(levels[-1])
        if sse < best[0]:
            best = (sse, level)
    return best[1]


def wape(actual: np.ndarray, pred: np.ndarray) -> float:
    den = float(np.sum(np.abs(actual)))
    return float(np.sum(np.abs(actual - pred)) / den) if den > 0 else float("nan")


def conformal_quantile(residuals: np.ndarray, q: float) -> float:
    """Finite-sample conformal quantile: the ceil((m + 1) q)-th smallest of m residuals
    (q < 0.5: the floor((m + 1) q)-th, symmetric), clamped to the sample."""
    r = np.sort(residuals)
    m = len(r)
    if m == 0:
        return 0.0
    k = min(m, math.ceil((m + 1) * q)) if q >= 0.5 else max(1, math.floor((m + 1) * q))
    return float(r[k - 1])


def _step_label(step: pd.Timedelta) -> str:
    for label, span in (("days", "1D"), ("hours", "1h"), ("minutes", "1min")):
        if step == pd.Timedelta(span):
            return label
    return f"steps of {step}"


@dataclass(frozen=True)
class BacktestSummary:
    """Rolling-origin accuracy of the chosen model (fractions, not percent)."""

    model: str
    wape: float
    best_naive: str
    best_naive_wape: float
    coverage_80: float
    coverage_95: float
    origins: int
    horizon_steps: int
    window_start: pd.Timestamp
    window_end: pd.Timestamp
    step: pd.Timedelta

    def display(self) -> dict:
        """Figures for a page: model, WAPE and coverages in percent, the backtest window."""
        return {
            "model": self.model.replace("_", " "),
            "wape_pct": 100 * self.wape,
            "best_naive": self.best_naive.replace("_", " "),
            "best_naive_wape_pct": 100 * self.best_naive_wape,
            "coverage_80_pct": 100 * self.coverage_80,
            "coverage_95_pct": 100 * self.coverage_95,
            "origins": self.origins,
            "horizon_steps": self.horizon_steps,
            "step": _step_label(self.step),
            "window_start": self.window_start.date(),
            "window_end": self.window_end.date(),
        }

    def text(self) -> str:
        """One line for emails and method labels."""
        d = self.display()
        return (
            f"{d['model']}; backtest {d['window_start']} to {d['window_end']}, "
            f"{d['origins']} origins x {d['horizon_steps']} {d['step']}: WAPE "
            f"{d['wape_pct']:.1f} % (best naive {d['best_naive_wape_pct']:.1f} %), 80 % interval "
            f"covered {d['coverage_80_pct']:.0f} %"
        )

    def as_dict(self) -> dict:
        d = asdict(self)
        d["window_start"], d["window_end"] = str(self.window_start), str(self.window_end)
        d["step"] = str(self.step)
        return d


class AutoForecaster(BaseEstimator):
    """Choose the forecast model per series by rolling-origin backtest and calibrate its
    intervals on the backtest residuals (conformal).

    horizon
        Steps the forecast is for; the backtest uses ``min(horizon, n // 3)`` steps.
    n_origins
        Backtest origins (at most; fewer when the series is short).
    candidates
        Model names from :data:`CANDIDATES`.
    buckets
        Horizon buckets with their own conformal quantiles.  1 (pooled over the backtest
        horizon) is the default: on held-back parts of the shared LLM traces 4 buckets
        over-covered (80 % intervals held 91 % of points, 1 bucket 82 %), the bucket
        quantiles being noisy and the widths forced non-decreasing.

    After :meth:`fit`: ``model_``, ``backtest_`` (:class:`BacktestSummary`), ``wapes_``
    (candidate -> backtest WAPE), ``offsets_`` ({level: (lower, upper) arrays per
    backtest step}), ``step_``.
    """

    def __init__(
        self,
        horizon: int = 24,
        n_origins: int = 8,
        candidates: tuple[str, ...] = CANDIDATES,
        buckets: int = 1,
    ):
        self.horizon = horizon
        self.n_origins = n_origins
        self.candidates = candidates
        self.buckets = buckets

    def fit(self, values: pd.Series, y=None) -> AutoForecaster:
        if not isinstance(values, pd.Series) or not isinstance(values.index, pd.DatetimeIndex):
            raise SeriesInputError("values must be a pandas Series with a DatetimeIndex")
        if int(self.horizon) < 1 or int(self.n_origins) < 2 or int(self.buckets) < 1:
            raise ValueError("need horizon >= 1, n_origins >= 2 and buckets >= 1")
        unknown = [c for c in self.candidates if c not in CANDIDATES]
        if unknown or not self.candidates:
            raise ValueError(f"unknown candidates {unknown}; choose from {CANDIDATES}")
        if len(values) < MIN_POINTS:
            raise SeriesInputError(f"need at least {MIN_POINTS} points, got {len(values)}")
        numeric = pd.to_numeric(values, errors="coerce").astype(float)
        if not np.isfinite(numeric.to_numpy()).all():
            raise SeriesInputError("values must be finite numbers (no NaN or inf)")
        series = regularise(numeric, path="values")
        self.step_ = infer_step(series.index)
        self.seasons_ = season_lengths(self.step_)
        self.series_ = series
        n = len(series)
        y_all = series.to_numpy(dtype=float)
        hb = max(1, min(int(self.horizon), n // 3))
        stride = max(1, hb // 2)
        min_train = max(MIN_POINTS, n // 3)
        origins = [n - hb - k * stride for k in range(int(self.n_origins))]
        origins = sorted(o for o in origins if o >= min_train)
        if len(origins) < 2:
            origins = sorted({max(MIN_POINTS, n - hb), max(MIN_POINTS, n - hb - stride)})
        forecasts: dict[str, list[np.ndarray]] = {}
        for name in self.candidates:
            preds = []
            for o in origins:
                p = candidate_forecast(name, series.iloc[:o], hb, self.seasons_)
                if p is None:
                    break
                preds.append(p)
            if len(preds) == len(origins):
                forecasts[name] = preds
        actual = [y_all[o : o + hb] for o in origins]
        pooled = np.concatenate(actual)
        self.wapes_ = {
            name: wape(pooled, np.concatenate(preds)) for name, preds in forecasts.items()
        }
        finite = {k: v for k, v in self.wapes_.items() if np.isfinite(v)}
        order = [c for c in CANDIDATES if c in finite]  # simpler models first on ties
        self.model_ = min(order, key=lambda c: finite[c]) if order else "naive"
        naive = {k: v for k, v in finite.items() if k in NAIVE}
        best_naive = min(naive, key=naive.get) if naive else "naive"
        residuals = [a - p for a, p in zip(actual, forecasts.get(self.model_, []), strict=True)]
        if not residuals:  # degenerate: everything is zero -- last value, zero-width interval
            residuals = [np.zeros(hb) for _ in origins]
        R = np.vstack(residuals)  # origins x steps
        self.offsets_ = self._offsets(R)
        cov = {lv: self._loo_coverage(R, lv) for lv in LEVELS}
        self.backtest_ = BacktestSummary(
            model=self.model_,
            wape=float(self.wapes_.get(self.model_, float("nan"))),
            best_naive=best_naive,
            best_naive_wape=float(naive.get(best_naive, float("nan"))),
            coverage_80=cov[0.8],
            coverage_95=cov[0.95],
            origins=len(origins),
            horizon_steps=hb,
            window_start=series.index[origins[0]],
            window_end=series.index[min(n - 1, origins[-1] + hb - 1)],
            step=self.step_,
        )
        self.nonnegative_ = bool((y_all >= 0).all())
        return self

    def _bucket_of(self, steps: int) -> np.ndarray:
        b = min(int(self.buckets), steps)
        return np.minimum((np.arange(steps) * b) // steps, b - 1)

    def _offsets(self, R: np.ndarray) -> dict[float, tuple[np.ndarray, np.ndarray]]:
        steps = R.shape[1]
        bucket = self._bucket_of(steps)
        out = {}
        for lv in LEVELS:
            lo = np.empty(steps)
            hi = np.empty(steps)
            for b in np.unique(bucket):
                cols = bucket == b
                r = R[:, cols].ravel()
                lo[cols] = conformal_quantile(r, (1 - lv) / 2)
                hi[cols] = conformal_quantile(r, (1 + lv) / 2)
            # widths never shrink with the horizon
            out[lv] = (
                np.minimum.accumulate(np.minimum(lo, 0.0)),
                np.maximum.accumulate(np.maximum(hi, 0.0)),
            )
        return out

    def _loo_coverage(self, R: np.ndarray, lv: float) -> float:
        """Share of backtest points inside intervals calibrated without their origin."""
        inside = total = 0
        for k in range(R.shape[0]):
            rest = np.delete(R, k, axis=0)
            lo, hi = self._offsets(rest)[lv]
            inside += int(np.sum((R[k] >= lo) & (R[k] <= hi)))
            total += R.shape[1]
        return inside / total if total else float("nan")

    def predict(self, horizon: int | None = None) -> pd.DataFrame:
        """Columns forecast, lower_80, upper_80, lower_95, upper_95 for the ``horizon``
        steps after the last timestamp (default: the fitted ``horizon``)."""
        if not hasattr(self, "model_"):
            raise RuntimeError("call fit() before predict()")
        h = int(horizon or self.horizon)
        if h < 1:
            raise ValueError(f"horizon must be a positive number of steps, got {horizon!r}")
        point = candidate_forecast(self.model_, self.series_, h, self.seasons_)
        if point is None:
            point = candidate_forecast("naive", self.series_, h, self.seasons_)
        out = {"forecast": point}
        for lv in LEVELS:
            lo, hi = self.offsets_[lv]
            idx = np.minimum(np.arange(h), len(lo) - 1)
            tag = int(round(lv * 100))
            out[f"lower_{tag}"], out[f"upper_{tag}"] = point + lo[idx], point + hi[idx]
        index = pd.date_range(self.series_.index[-1] + self.step_, periods=h, freq=self.step_)
        frame = pd.DataFrame(out, index=index)
        if self.nonnegative_:
            frame = frame.clip(lower=0.0)
        return frame


def forecast_with_backtest(
    values: pd.Series, horizon: int, **params
) -> tuple[pd.DataFrame, BacktestSummary]:
    """Forecast ``horizon`` steps and return the chosen model's backtest summary too."""
    model = AutoForecaster(horizon=horizon, **params).fit(values)
    return model.predict(horizon), model.backtest_
