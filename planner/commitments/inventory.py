"""The commitments inventory: every commitment with its utilisation, coverage, unused cost,
expiry and renewal advice over an evidence window.

Definitions (amounts in the reporting currency, from the line items' FOCUS columns):

* **used cost** — EffectiveCost of usage rows with ``CommitmentDiscountStatus = 'Used'``;
  **unused cost** — the same with ``'Unused'`` (the commitment paid for and not used).
* **utilisation** = used / (used + unused).
* **coverage** = on-demand-equivalent (ListCost) of the usage the commitment covered / ListCost
  of all eligible usage in its scope. The scope is the (provider, service, SKU, region) of the
  usage it covered, or (provider, service) for a spend-based commitment (``Spend`` category);
  eligible usage is on-demand (``Standard``) or committed usage there, unused rows excluded.
* **expiry** — from the Contract Commitment dataset, a connector or hand entry; unknown
  otherwise (shown as such).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Max

from planner.billing import lineitems
from planner.billing.models import CostRollup
from planner.commitments.advice import CommitmentAdvice, advise
from planner.commitments.models import Commitment, CommitmentSource

DEFAULT_WINDOW_DAYS = 30

_PER_DAY = """
SELECT CommitmentDiscountId AS id, ChargeDay AS day, BillingCurrency AS currency,
  coalesce(sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Used'), 0) AS used_cost,
  coalesce(sum(EffectiveCost) FILTER (WHERE CommitmentDiscountStatus = 'Unused'), 0) AS unused_cost,
  coalesce(sum(ListCost) FILTER (WHERE CommitmentDiscountStatus = 'Used'), 0) AS covered_list
FROM items
WHERE CommitmentDiscountId IS NOT NULL AND ChargeCategory = 'Usage'
GROUP BY ALL
"""
_META = """
SELECT CommitmentDiscountId AS id,
  any_value(CommitmentDiscountName) AS name, any_value(CommitmentDiscountType) AS type,
  any_value(CommitmentDiscountCategory) AS category, any_value(ServiceProviderName) AS provider,
  any_value(CommitmentDiscountUnit) AS unit, min(AccountPk) AS account_pk
FROM items WHERE CommitmentDiscountId IS NOT NULL
GROUP BY ALL
"""
_ELIGIBLE_PER_HOUR = """
WITH scope AS (
  SELECT DISTINCT CommitmentDiscountId AS id, ServiceProviderName AS p, ServiceName AS s,
    CASE WHEN CommitmentDiscountCategory = 'Spend' THEN NULL ELSE SkuId END AS sku,
    CASE WHEN CommitmentDiscountCategory = 'Spend' THEN NULL ELSE RegionId END AS region
  FROM items
  WHERE CommitmentDiscountId IS NOT NULL AND CommitmentDiscountStatus = 'Used'
    AND ChargeCategory = 'Usage'
), eligible AS (
  SELECT * FROM items
  WHERE ChargeCategory = 'Usage' AND PricingCategory IN ('Standard', 'Committed')
    AND coalesce(CommitmentDiscountStatus, '') <> 'Unused'
)
SELECT scope.id AS id, date_trunc('hour', e.ChargePeriodStart) AS hour,
  CAST(e.ChargePeriodStart AS DATE) AS day, e.BillingCurrency AS currency,
  sum(e.ListCost) AS list_cost, sum(coalesce(e.ConsumedQuantity, 0)) AS quantity
FROM scope JOIN eligible e
  ON e.ServiceProviderName IS NOT DISTINCT FROM scope.p
 AND e.ServiceName IS NOT DISTINCT FROM scope.s
 AND (scope.sku IS NULL AND scope.region IS NULL
      OR e.SkuId IS NOT DISTINCT FROM scope.sku AND e.RegionId IS NOT DISTINCT FROM scope.region)
GROUP BY ALL
"""


@dataclass(frozen=True)
class CommitmentUsage:
    """One commitment's use over a window (amounts in the reporting currency)."""

    used_cost: float
    unused_cost: float
    covered_list_cost: float
    eligible_list_cost: float
    eligible_quantity: float
    hourly_eligible_list_cost: np.ndarray = field(repr=False, compare=False)

    @property
    def utilisation(self) -> float | None:
        total = self.used_cost + self.unused_cost
        return self.used_cost / total if total > 0 else None

    @property
    def coverage(self) -> float | None:
        if self.eligible_list_cost <= 0:
            return None
        return self.covered_list_cost / self.eligible_list_cost


@dataclass(frozen=True)
class InventoryRow:
    commitment: Commitment
    usage: CommitmentUsage | None
    advice: CommitmentAdvice | None
    days_left: int | None

    @property
    def expiring(self) -> bool:
        return self.days_left is not None and 0 <= self.days_left <= self.commitment.alert_days

    @property
    def expired(self) -> bool:
        return self.days_left is not None and self.days_left < 0


def default_window(end: dt.date | None = None, days: int = DEFAULT_WINDOW_DAYS):
    """(start, end): the ``days`` days ending at ``end`` or at the latest charged day."""
    if end is None:
        end = CostRollup.objects.aggregate(d=Max("date"))["d"] or dt.date.today()
    return end - dt.timedelta(days=days - 1), end


def _query(sql: str, start, end, account_ids) -> pd.DataFrame:
    return lineitems.query(sql, start, end, account_ids=account_ids)


def usage_by_commitment(
    start: dt.date, end: dt.date, account_ids=None
) -> dict[str, CommitmentUsage]:
    """Used / unused cost, coverage inputs and the hourly eligible demand per commitment id."""
    per_day = _query(_PER_DAY, start, end, account_ids)
    if per_day.empty:
        return {}
    per_day = lineitems.to_reporting(per_day, ["used_cost", "unused_cost", "covered_list"])
    totals = per_day.groupby("id")[["used_cost", "unused_cost", "covered_list"]].sum()
    hourly = _query(_ELIGIBLE_PER_HOUR, start, end, account_ids)
    hourly = lineitems.to_reporting(hourly, ["list_cost"])
    out = {}
    for cid, row in totals.iterrows():
        mine = hourly[hourly["id"] == cid] if not hourly.empty else hourly
        series = _hourly_series(mine)
        out[str(cid)] = CommitmentUsage(
            used_cost=float(row["used_cost"]),
            unused_cost=float(row["unused_cost"]),
            covered_list_cost=float(row["covered_list"]),
            eligible_list_cost=float(mine["list_cost"].sum()) if len(mine) else 0.0,
            eligible_quantity=float(mine["quantity"].sum()) if len(mine) else 0.0,
            hourly_eligible_list_cost=series,
        )
    return out


def _hourly_series(frame: pd.DataFrame) -> np.ndarray:
    """Eligible list cost per hour from the first to the last hour seen, hours without
    eligible usage as zero."""
    if frame.empty:
        return np.zeros(0)
    per_hour = frame.groupby("hour")["list_cost"].sum()
    per_hour.index = pd.to_datetime(per_hour.index, utc=True)
    grid = pd.date_range(per_hour.index.min(), per_hour.index.max(), freq="h")
    return per_hour.reindex(grid, fill_value=0.0).to_numpy(dtype=float)


def sync_from_line_items(start: dt.date, end: dt.date, account_ids=None) -> int:
    """Register every CommitmentDiscountId charged in the window (idempotent); fills name,
    type, category, provider and account where the inventory does not know them yet.
    Returns the number of commitments created."""
    meta = _query(_META, start, end, account_ids)
    created = 0
    for rec in meta.to_dict("records"):
        with transaction.atomic():
            obj, new = Commitment.objects.select_for_update().get_or_create(commitment_id=rec["id"])
            for attr, key in (
                ("name", "name"),
                ("commitment_type", "type"),
                ("category", "category"),
                ("provider", "provider"),
                ("unit", "unit"),
            ):
                if not getattr(obj, attr) and isinstance(rec[key], str):
                    setattr(obj, attr, rec[key][: obj._meta.get_field(attr).max_length])
            if obj.account_id is None and pd.notna(rec["account_pk"]):
                obj.account_id = int(rec["account_pk"])
            obj.add_source(CommitmentSource.LINE_ITEMS)
            obj.save()
            created += int(new)
    return created


def inventory(
    start: dt.date, end: dt.date, today: dt.date | None = None, account_ids=None
) -> list[InventoryRow]:
    """Every known commitment with its window's usage and advice, soonest expiry first
    (unknown expiry last)."""
    today = today or dt.date.today()
    usage = usage_by_commitment(start, end, account_ids)
    qs = Commitment.objects.select_related("account")
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    rows = []
    for c in qs:
        u = usage.get(c.commitment_id)
        advice = None
        if u is not None:
            advice = advise(
                u.hourly_eligible_list_cost,
                u.eligible_quantity,
                u.used_cost,
                u.unused_cost,
                u.covered_list_cost,
                spend_based=c.category == "Spend",
                unit=c.unit or "units",
            )
        rows.append(InventoryRow(c, u, advice, c.days_left(today)))
    rows.sort(key=lambda r: (r.days_left is None, r.days_left or 0, r.commitment.commitment_id))
    return rows


def expiry_calendar(rows: list[InventoryRow]) -> list[tuple[str, list[InventoryRow]]]:
    """Rows with a known expiry grouped by month of expiry (``YYYY-MM``), in date order."""
    months: dict[str, list[InventoryRow]] = {}
    for r in rows:
        if r.commitment.period_end is not None:
            months.setdefault(f"{r.commitment.period_end:%Y-%m}", []).append(r)
    return sorted(months.items())


def totals(rows: list[InventoryRow]) -> dict:
    used = sum(r.usage.used_cost for r in rows if r.usage)
    unused = sum(r.usage.unused_cost for r in rows if r.usage)
    return {
        "used_cost": used,
        "unused_cost": unused,
        "utilisation": used / (used + unused) if used + unused > 0 else None,
        "savings_per_30d": sum(r.advice.savings_per_30d for r in rows if r.advice),
    }
