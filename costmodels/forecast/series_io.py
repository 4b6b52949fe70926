"""Reading and writing the ``timestamp,value`` CSV series used by the command-line tools.

Both ``python -m costmodels.forecast`` and ``python -m costmodels.anomaly`` read a CSV with
a header row and the columns ``timestamp`` and ``value``.  Errors name the file, the line
(physical line number, the header being line 1) and the column, and say what to do.
Nothing here imports Django.

Timestamps may be ISO-8601 text (``2024-05-01``, ``2024-05-01 13:00:00``,
``2024-05-01T13:00:00Z``, with or without fractional seconds / UTC offset) or epoch
seconds; :class:`TimestampStyle` remembers the style so generated timestamps (forecast
horizons) are written the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from costmodels.errors import SeriesInputError

_EPOCH_RE = re.compile(r"^-?\d+(\.\d+)?$")
_ISO_RE = re.compile(
    r"^(?P<date>\d{4}(?P<dsep>[-/])\d{2}(?P=dsep)\d{2})"
    r"(?:(?P<tsep>[T ])(?P<hm>\d{2}:\d{2})(?P<sec>:\d{2})?(?P<frac>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


@dataclass(frozen=True)
class TimestampStyle:
    """How the input wrote its timestamps, so outputs can be written alike."""

    kind: str  # "epoch" or "text"
    strftime: str = "%Y-%m-%d %H:%M:%S"
    frac_digits: int = 0
    tz_suffix: str = ""  # "Z", "+00:00", "+0000" or ""
    epoch_unit: str = "s"  # "s" or "ms"

    def format(self, index: pd.DatetimeIndex) -> list[str]:
        """Format UTC-naive timestamps in this style."""
        if self.kind == "epoch":
            ns = index.as_unit("ns").asi8
            div = 1_000_000_000 if self.epoch_unit == "s" else 1_000_000
            return [str(v // div) if v % div == 0 else repr(v / div) for v in ns]
        out = []
        for ts in index:
            text = ts.strftime(self.strftime)
            if self.frac_digits:
                text += "." + f"{ts.microsecond:06d}{ts.nanosecond:03d}"[: self.frac_digits]
            out.append(text + self.tz_suffix)
        return out


def infer_timestamp_style(sample: str) -> TimestampStyle:
    """Infer the writing style from one timestamp string."""
    s = sample.strip()
    if _EPOCH_RE.match(s):
        unit = "ms" if abs(float(s)) > 1e11 else "s"
        return TimestampStyle(kind="epoch", epoch_unit=unit)
    m = _ISO_RE.match(s)
    if not m:
        return TimestampStyle(kind="text")
    dsep = m.group("dsep")
    fmt = f"%Y{dsep}%m{dsep}%d"
    if m.group("tsep"):
        fmt += m.group("tsep") + "%H:%M" + (":%S" if m.group("sec") else "")
    frac = len(m.group("frac")) - 1 if m.group("frac") else 0
    tz = m.group("tz") or ""
    if tz and tz != "Z":
        tz = "+00:00" if ":" in tz else "+0000"  # output is UTC
    return TimestampStyle(kind="text", strftime=fmt, frac_digits=frac, tz_suffix=tz)


@dataclass(frozen=True)
class LoadedSeries:
    """A series read from CSV: values indexed by UTC-naive timestamps, in time order."""

    values: pd.Series
    raw_timestamps: list[str]  # as written in the file, in file order
    order: np.ndarray  # positions of file rows in time order (values[i] is file row order[i])
    style: TimestampStyle


def _parse_timestamps(text: pd.Series, path: str) -> pd.DatetimeIndex:
    stripped = text.str.strip()
    if stripped.str.match(_EPOCH_RE).all():
        nums = pd.to_numeric(stripped)
        if nums.abs().max() > 1e11:
            return pd.DatetimeIndex(pd.to_datetime(nums.to_numpy(), unit="ms"))
        return pd.DatetimeIndex(pd.to_datetime(nums.to_numpy(), unit="s"))
    parsed = pd.to_datetime(stripped, errors="coerce", utc=True, format="mixed")
    bad = parsed.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SeriesInputError(
            f"{path}: line {i + 2}, column 'timestamp': cannot read {text.iloc[i]!r} as a "
            "date/time; write ISO-8601 (e.g. 2024-05-01 13:00:00) or epoch seconds"
        )
    return pd.DatetimeIndex(parsed).tz_convert("UTC").tz_localize(None)


def read_series_csv(
    path: str | Path, *, min_points: int, allow_duplicates: bool = False
) -> LoadedSeries:
    """Read ``timestamp,value`` from *path*; raise :class:`SeriesInputError` on bad input.

    Rows are put in time order (stable; the original order is kept in ``order``).
    Too-short series are errors, and so are duplicated timestamps unless
    ``allow_duplicates``.  Values must be finite numbers.
    """
    path = str(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise SeriesInputError(f"{path}: file not found") from exc
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SeriesInputError(f"{path}: not a readable CSV file ({exc})") from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("timestamp", "value") if c not in frame.columns]
    if missing:
        raise SeriesInputError(
            f"{path}: missing column(s) {', '.join(missing)}; the header must contain "
            f"'timestamp,value' (found: {', '.join(frame.columns) or 'nothing'})"
        )
    if len(frame) < min_points:
        raise SeriesInputError(
            f"{path}: only {len(frame)} data row(s); need at least {min_points} points"
        )
    empty_ts = frame["timestamp"].str.strip() == ""
    if empty_ts.any():
        i = int(np.flatnonzero(empty_ts.to_numpy())[0])
        raise SeriesInputError(f"{path}: line {i + 2}, column 'timestamp' is empty")
    values = pd.to_numeric(frame["value"].str.strip(), errors="coerce")
    bad = values.isna() | ~np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise SeriesInputError(
            f"{path}: line {i + 2}, column 'value': {frame['value'].iloc[i]!r} is not a finite "
            "number; fix or remove that row"
        )
    index = _parse_timestamps(frame["timestamp"], path)
    order = np.argsort(index.asi8, kind="stable")
    index_sorted = index[order]
    dup = index_sorted[1:] == index_sorted[:-1]
    if dup.any() and not allow_duplicates:
        j = int(order[int(np.flatnonzero(dup)[0]) + 1])
        raise SeriesInputError(
            f"{path}: line {j + 2}, column 'timestamp': {frame['timestamp'].iloc[j]!r} is "
            "repeated; aggregate duplicate timestamps first"
        )
    series = pd.Series(values.to_numpy(dtype=float)[order], index=index_sorted, name="value")
    return LoadedSeries(
        values=series,
        raw_timestamps=list(frame["timestamp"]),
        order=order,
        style=infer_timestamp_style(str(frame["timestamp"].iloc[0])),
    )


def infer_step(index: pd.Index) -> pd.Timedelta:
    """The series' sampling step: the most common gap between consecutive timestamps."""
    if not isinstance(index, pd.DatetimeIndex):
        raise SeriesInputError("the series needs a DatetimeIndex to infer its sampling step")
    gaps = pd.Series(np.diff(index.as_unit("ns").asi8))
    if gaps.empty:
        raise SeriesInputError("need at least two timestamps to infer the sampling step")
    return pd.Timedelta(int(gaps.mode().iloc[0]), unit="ns")


def regularise(
    series: pd.Series, *, path: str = "input", max_missing_share: float = 0.2
) -> pd.Series:
    """Put *series* on a regular grid of its inferred step, filling a few missing steps.

    Missing steps are linearly interpolated.  Timestamps off the grid (beyond a quarter
    step or one minute, whichever is smaller), or more than ``max_missing_share`` of the grid missing, raise
    :class:`SeriesInputError` because the series cannot be regularised honestly.
    """
    step = infer_step(series.index)
    start = series.index[0]
    offsets = (series.index - start) / step
    # jitter of up to a quarter step (at most one minute) is snapped to the grid; calendar
    # months or quarters are not a fixed step and are rejected here
    tolerance = min(0.25, pd.Timedelta(minutes=1) / step)
    off_grid = np.abs(offsets - np.round(offsets)) > tolerance
    if off_grid.any():
        i = int(np.flatnonzero(off_grid)[0])
        raise SeriesInputError(
            f"{path}: timestamp {series.index[i]} is not on the regular {step} grid starting "
            f"at {start}; resample the series to a fixed frequency first"
        )
    grid = pd.date_range(start, periods=int(np.round(offsets[-1])) + 1, freq=step)
    on_grid = pd.Series(series.to_numpy(), index=grid[np.round(offsets).astype(int)])
    if on_grid.index.has_duplicates:
        raise SeriesInputError(
            f"{path}: several timestamps fall on the same {step} step; aggregate them first"
        )
    full = on_grid.reindex(grid)
    n_missing = int(full.isna().sum())
    if n_missing > max_missing_share * len(grid):
        raise SeriesInputError(
            f"{path}: {n_missing} of {len(grid)} steps of {step} are missing; the timestamps "
            "are too irregular to infer a frequency. Resample to a fixed frequency first"
        )
    full = full.interpolate(method="linear")
    full.name = series.name
    return full
