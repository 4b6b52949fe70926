"""Read a whole FOCUS file once and summarise it (used by ``python -m ingest validate``).

Totals are in the file's BillingCurrency (per currency when a file mixes them and
``allow_mixed_currency=True``). Sums are accumulated per batch with pyarrow and combined
with :func:`math.fsum`, so they match a direct sum of the file to well under a cent.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from .datasets import COST_AND_USAGE, DatasetTable, read_dataset
from .errors import NotFocusError
from .reader import open_focus


@dataclass(frozen=True)
class PeriodTotals:
    """Totals of one billing period (``start``/``end`` as ISO 8601 UTC) and currency."""

    start: str
    end: str
    currency: str
    rows: int
    billed_cost: float
    effective_cost: float


@dataclass(frozen=True)
class ValidationSummary:
    """What a valid FOCUS file holds: release, size, periods, currency and cost totals.

    Amounts are in the billing currency. ``billing_periods`` has one entry per
    (period, currency); the ``*_total`` fields add every row, so they are only meaningful
    when :attr:`currency` is not ``None`` (a single-currency file).
    """

    source: str
    version: str
    format: str
    rows: int
    currencies: list[str]
    billing_periods: list[PeriodTotals]
    billed_cost_total: float
    effective_cost_total: float
    by_charge_category: dict[str, dict[str, float]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dataset: str = COST_AND_USAGE

    @property
    def currency(self) -> str | None:
        """The file's single BillingCurrency, or ``None`` if it mixes currencies."""
        return self.currencies[0] if len(self.currencies) == 1 else None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["currency"] = self.currency
        return d

    def render(self) -> str:
        """Plain-text report for the command line."""
        cur = self.currency or "/".join(self.currencies)
        lines = [
            f"{self.source}: valid FOCUS {self.version} {self.dataset} ({self.format})",
            f"  rows:            {self.rows:,}",
            f"  billing currency: {cur}",
            f"  BilledCost:      {self.billed_cost_total:,.2f} {cur}",
            f"  EffectiveCost:   {self.effective_cost_total:,.2f} {cur}",
            f"  billing periods: {len(self.billing_periods)}",
        ]
        for p in self.billing_periods:
            lines.append(
                f"    {p.start[:10]} .. {p.end[:10]}  {p.rows:>10,} rows  "
                f"billed {p.billed_cost:,.2f}  effective {p.effective_cost:,.2f} {p.currency}"
            )
        if self.by_charge_category:
            lines.append("  by ChargeCategory:")
            for cat, t in sorted(self.by_charge_category.items()):
                lines.append(
                    f"    {cat:<11} billed {t['billed_cost']:,.2f}  "
                    f"effective {t['effective_cost']:,.2f}"
                )
        for w in self.warnings:
            lines.append(f"  warning: {w}")
        return "\n".join(lines)


def _iso(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if value is not None else ""


@dataclass(frozen=True)
class DatasetSummary:
    """What a valid Contract Commitment, Billing Period or Invoice Detail file holds."""

    source: str
    dataset: str
    version: str
    format: str
    rows: int
    totals: dict[str, float]  # e.g. "ContractCommitmentCost USD" -> sum
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, data: DatasetTable) -> DatasetSummary:
        table = data.table
        money = [c for c in ("ContractCommitmentCost", "BilledCost") if c in table.column_names]
        totals: dict[str, float] = {}
        if money and "BillingCurrency" in table.column_names:
            cur = table.column("BillingCurrency").to_pylist()
            for col in money:
                for c, v in zip(cur, table.column(col).to_pylist(), strict=True):
                    key = f"{col} {c or '(no currency)'}"
                    totals[key] = math.fsum([totals.get(key, 0.0), v or 0.0])
        return cls(
            data.source, data.dataset, data.version, data.format, data.rows, totals, data.warnings
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        lines = [
            f"{self.source}: valid FOCUS {self.version} {self.dataset} ({self.format})",
            f"  rows:            {self.rows:,}",
        ]
        lines += [f"  {k}: {v:,.2f}" for k, v in sorted(self.totals.items())]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def summarise(source: str | Path, **kwargs: Any) -> ValidationSummary | DatasetSummary:
    """Validate ``source`` completely and return its summary: a :class:`ValidationSummary`
    for cost and usage, a :class:`DatasetSummary` for the other FOCUS datasets.

    ``kwargs`` go to :func:`~ingest.focus.reader.open_focus` (``batch_rows``,
    ``allow_mixed_currency``, ``storage_options``). Raises
    :class:`~ingest.focus.errors.FocusValidationError` on the first failing batch.
    """
    try:
        stream = open_focus(source, **kwargs)
    except NotFocusError as not_cost:
        try:
            data = read_dataset(source, storage_options=kwargs.get("storage_options"))
        except NotFocusError:
            raise not_cost from None
        return DatasetSummary.of(data)
    periods: dict[tuple[Any, Any, str], list[Any]] = {}
    cats: dict[str, list[list[float]]] = {}
    for batch in stream:
        table = pa.Table.from_batches([batch]).select(
            [
                "BillingPeriodStart",
                "BillingPeriodEnd",
                "BillingCurrency",
                "ChargeCategory",
                "BilledCost",
                "EffectiveCost",
            ]
        )
        by_period = table.group_by(
            ["BillingPeriodStart", "BillingPeriodEnd", "BillingCurrency"]
        ).aggregate([("BilledCost", "sum"), ("EffectiveCost", "sum"), ("BilledCost", "count")])
        for row in by_period.to_pylist():
            key = (row["BillingPeriodStart"], row["BillingPeriodEnd"], row["BillingCurrency"])
            acc = periods.setdefault(key, [0, [], []])
            acc[0] += row["BilledCost_count"]
            acc[1].append(row["BilledCost_sum"] or 0.0)
            acc[2].append(row["EffectiveCost_sum"] or 0.0)
        by_cat = table.group_by(["ChargeCategory"]).aggregate(
            [("BilledCost", "sum"), ("EffectiveCost", "sum")]
        )
        for row in by_cat.to_pylist():
            acc2 = cats.setdefault(row["ChargeCategory"], [[], []])
            acc2[0].append(row["BilledCost_sum"] or 0.0)
            acc2[1].append(row["EffectiveCost_sum"] or 0.0)
    period_totals = [
        PeriodTotals(_iso(s), _iso(e), cur, n, math.fsum(b), math.fsum(ef))
        for (s, e, cur), (n, b, ef) in sorted(periods.items(), key=lambda kv: (kv[0][0], kv[0][2]))
    ]
    return ValidationSummary(
        source=stream.source,
        version=stream.version,
        format=stream.format,
        rows=stream.rows_read,
        currencies=sorted({p.currency for p in period_totals}),
        billing_periods=period_totals,
        billed_cost_total=math.fsum(p.billed_cost for p in period_totals),
        effective_cost_total=math.fsum(p.effective_cost for p in period_totals),
        by_charge_category={
            k: {"billed_cost": math.fsum(v[0]), "effective_cost": math.fsum(v[1])}
            for k, v in cats.items()
        },
        warnings=list(stream.warnings),
    )
