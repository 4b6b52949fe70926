"""Command line: ``python -m costmodels.forecast --input IN.csv --horizon H --output OUT.csv``.

IN.csv has columns ``timestamp,value`` at a regular frequency (inferred from the most
common step; a few missing steps are interpolated).  OUT.csv has
``timestamp,forecast,lower,upper`` for the H steps after the last input timestamp, where
lower/upper bound the 80 % prediction interval (conformal, calibrated on the series' own
rolling-origin backtest residuals); the model is chosen per series by that backtest among
naive, seasonal-naive and fitted candidates (:class:`costmodels.forecast.auto.AutoForecaster`);
timestamps are written in the input's
style.  Exit status 2 with a message on bad input.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

from costmodels.forecast.auto import AutoForecaster
from costmodels.forecast.model import MIN_POINTS
from costmodels.forecast.series_io import SeriesInputError, read_series_csv, regularise

MAX_HORIZON = 100_000


def run(input_path: str, horizon: int, output_path: str) -> pd.DataFrame:
    """Forecast ``input_path`` ``horizon`` steps ahead and write ``output_path``."""
    if horizon < 1 or horizon > MAX_HORIZON:
        raise SeriesInputError(f"--horizon must be between 1 and {MAX_HORIZON}, got {horizon}")
    loaded = read_series_csv(input_path, min_points=MIN_POINTS)
    series = regularise(loaded.values, path=input_path)
    forecast = AutoForecaster(horizon=horizon).fit(series).predict(horizon)
    out = pd.DataFrame(
        {
            "timestamp": loaded.style.format(pd.DatetimeIndex(forecast.index)),
            "forecast": np.round(forecast["forecast"].to_numpy(), 6),
            "lower": np.round(forecast["lower_80"].to_numpy(), 6),
            "upper": np.round(forecast["upper_80"].to_numpy(), 6),
        }
    )
    out.to_csv(output_path, index=False)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m costmodels.forecast",
        description="Forecast a regular timestamp,value series with an 80 % interval.",
    )
    parser.add_argument("--input", required=True, help="CSV with columns timestamp,value")
    parser.add_argument("--horizon", required=True, type=int, help="steps to forecast")
    parser.add_argument("--output", required=True, help="CSV to write")
    args = parser.parse_args(argv)
    try:
        out = run(args.input, args.horizon, args.output)
    except SeriesInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc}", file=sys.stderr)
        return 2
    print(f"{len(out)} steps forecast -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
