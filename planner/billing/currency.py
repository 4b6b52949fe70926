"""Reporting currency: every rollup amount converted at the ECB reference rate of its charge date.

Rollups keep the billing currency and its amounts (``billing_*``) beside the converted ones, and
the rate and its ECB publication day, so a page can say which rate it used and a change of
``settings.REPORTING_CURRENCY`` or of the rates re-converts without re-ingesting
(:func:`reconvert_rollups`, run by the rate-refresh task). Line items keep the original
amounts. Mixed billing currencies are therefore never summed raw.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min

from ingest.fx import FxError, ReferenceRates, reference_rates, refresh_rates
from planner.billing.models import CostRollup

RATE_PLACES = Decimal("0.000000000001")


def rates() -> ReferenceRates:
    """The reference rates in force: the refreshed file if there is one, else the bundled one."""
    return reference_rates(settings.FX_RATES_FILE)


def reporting_currency() -> str:
    return settings.REPORTING_CURRENCY


def convert_columns(
    dates: pa.Array, currencies: pa.Array, amounts: dict[str, pa.Array]
) -> tuple[dict[str, pa.Array], pa.Array, pa.Array]:
    """(amounts in the reporting currency, rate per row, rate date per row).

    One rate look-up per distinct (currency, day). Raises :class:`~ingest.fx.FxError` naming
    an unknown currency."""
    target = reporting_currency()
    table = rates()
    keys = pc.binary_join_element_wise(currencies, pc.cast(dates, pa.string()), "|")
    distinct = pc.unique(keys)
    rate_of: list[float] = []
    day_of: list[dt.date | None] = []
    for key in distinct.to_pylist():
        code, day = key.split("|")
        fx = table.rate(code, target, dt.date.fromisoformat(day))
        rate_of.append(fx.rate)
        day_of.append(None if code == target else fx.rate_date)
    pos = pc.index_in(keys, value_set=distinct)
    rate = pc.take(pa.array(rate_of, pa.float64()), pos)
    rate_day = pc.take(pa.array(day_of, pa.date32()), pos)
    converted = {name: pc.round(pc.multiply(arr, rate), 6) for name, arr in amounts.items()}
    return converted, pc.round(rate, 12), rate_day


def reconvert_rollups() -> int:
    """Bring every rollup row to the reporting currency and the current rates; returns the
    number of (currency, day) groups changed. Idempotent: groups already converted at the
    current rate are left alone."""
    target = reporting_currency()
    table = rates()
    groups = (
        CostRollup.objects.values("billing_currency", "date")
        .annotate(rate_lo=Min("fx_rate"), rate_hi=Max("fx_rate"), cur=Max("currency"))
        .order_by()
    )
    changed = 0
    for g in groups:
        fx = table.rate(g["billing_currency"], target, g["date"])
        rate = Decimal(repr(fx.rate)).quantize(RATE_PLACES)
        if g["cur"] == target and g["rate_lo"] == rate == g["rate_hi"]:
            continue
        with transaction.atomic():
            CostRollup.objects.filter(
                billing_currency=g["billing_currency"], date=g["date"]
            ).update(
                currency=target,
                fx_rate=rate,
                fx_rate_date=None if g["billing_currency"] == target else fx.rate_date,
                billed_cost=F("billing_billed_cost") * rate,
                effective_cost=F("billing_effective_cost") * rate,
                list_cost=F("billing_list_cost") * rate,
            )
        changed += 1
    return changed


@dataclass(frozen=True)
class RateNote:
    """What a page says about the conversion of the amounts it shows."""

    reporting_currency: str
    converted_currencies: list[str]
    first_rate_date: dt.date | None
    last_rate_date: dt.date | None
    rates_as_of: dt.date
    source: str

    @property
    def text(self) -> str:
        if not self.converted_currencies:
            return f"Amounts in {self.reporting_currency} (billed in {self.reporting_currency})."
        days = (
            f"{self.first_rate_date:%Y-%m-%d}"
            if self.first_rate_date == self.last_rate_date
            else f"{self.first_rate_date:%Y-%m-%d} to {self.last_rate_date:%Y-%m-%d}"
        )
        return (
            f"Amounts in {self.reporting_currency}; {', '.join(self.converted_currencies)} "
            f"converted at the ECB euro reference rate of each charge date (rates of {days}; "
            f"rate file {self.source}, current to {self.rates_as_of:%Y-%m-%d})."
        )


def rate_note(queryset=None) -> RateNote:
    """The conversion behind the rollup rows of ``queryset`` (default: all rollups)."""
    qs = (queryset if queryset is not None else CostRollup.objects.all()).exclude(
        fx_rate_date__isnull=True
    )
    agg = qs.aggregate(first=Min("fx_rate_date"), last=Max("fx_rate_date"))
    codes = sorted(set(qs.values_list("billing_currency", flat=True).distinct()))
    table = rates()
    return RateNote(
        reporting_currency(), codes, agg["first"], agg["last"], table.latest_date, table.path.name
    )


def refresh(url: str | None = None) -> tuple[bool, int]:
    """Download newer reference rates (when reachable), then re-convert the rollups.
    Returns (file changed, groups re-converted)."""
    changed = refresh_rates(settings.FX_RATES_FILE, url or settings.FX_RATES_URL)
    return changed, reconvert_rollups()


__all__ = ["FxError", "convert_columns", "rate_note", "reconvert_rollups", "refresh"]
