"""Forecasting of cost and demand series (pure Python, no Django).

Public API: :func:`forecast_series`, :class:`SeasonalTrendForecaster`, :func:`backtest`
(:class:`BacktestResult`); command line
``python -m costmodels.forecast --input IN.csv --horizon H --output OUT.csv``.
"""

import os

# The models solve many small least-squares problems and rolling windows: a multi-threaded
# BLAS only adds contention (20k points: 25 s -> 8 s wall on a loaded 2-core machine).
# Takes effect when this package is imported before numpy, as the command line does.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


from costmodels.forecast.auto import AutoForecaster, BacktestSummary, forecast_with_backtest  # noqa: E402
from costmodels.forecast.backtest import BacktestResult, backtest, seasonal_naive  # noqa: E402
from costmodels.forecast.model import FORECAST_COLUMNS, SeasonalTrendForecaster, forecast_series  # noqa: E402

__all__ = [
    "AutoForecaster",
    "BacktestSummary",
    "forecast_with_backtest",
    "FORECAST_COLUMNS",
    "BacktestResult",
    "SeasonalTrendForecaster",
    "backtest",
    "forecast_series",
    "seasonal_naive",
]
