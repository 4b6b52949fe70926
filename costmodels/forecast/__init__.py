"""Forecasting of cost and demand series (pure Python, no Django).

Public API: :func:`forecast_series`, :class:`SeasonalTrendForecaster`, :func:`backtest`
(:class:`BacktestResult`); command line
``python -m costmodels.forecast --input IN.csv --horizon H --output OUT.csv``.
"""

from costmodels.forecast.backtest import BacktestResult, backtest, seasonal_naive
from costmodels.forecast.model import FORECAST_COLUMNS, SeasonalTrendForecaster, forecast_series

__all__ = [
    "FORECAST_COLUMNS",
    "BacktestResult",
    "SeasonalTrendForecaster",
    "backtest",
    "forecast_series",
    "seasonal_naive",
]
