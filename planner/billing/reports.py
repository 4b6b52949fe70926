"""Cost per service: the one answer every page, API and alert gives.

A rollup belongs to the service its attribution tag names (``CostRollup.service``, set at load
time by the tag rule in :mod:`planner.billing.rollup`); untagged cost of shared GPU nodes is then
split across the services that ran on them by GPU-hours (:mod:`planner.billing.attribution`),
and what neither rule places stays *unallocated*. The dashboard's chart and table, the cost
summary API, the services pages, budget actuals and the anomaly series all read cost through
:class:`CostView`, so for the same range and filters they show the same figure per service.

A view is a rollup queryset filtered on everything *but* the service (range, provider, account,
tag, ...) plus an optional service filter, which is applied after attribution: a service's cost
includes its share of the shared nodes even though those rows carry no tag. Attribution moves
cost between services only; every other dimension of a row (date, provider, account, region,
SKU, pricing category) stays as billed, so totals by any dimension are unchanged and filtering
by a service gives that service's attributed cost by any dimension.

Amounts are the rollups' reporting-currency decimals (effective cost unless a field is named).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet, Sum

from planner.billing.attribution import split_untagged
from planner.billing.models import CostRollup
from planner.core.models import Service

UNALLOCATED = "unallocated"
#: Charge categories that are not spend behaviour (series and budgets leave them out).
CREDIT_CATEGORIES = ("Credit",)
COST_FIELDS = ("effective_cost", "billed_cost", "list_cost")


def _service_attr(dim: str) -> str | None:
    """The Service field a dimension names (``service__slug`` -> ``slug``), else None."""
    if dim == "service_id":
        return "pk"
    return dim.removeprefix("service__") if dim.startswith("service__") else None


def _plus(a: list[Decimal], b: list[Decimal]) -> list[Decimal]:
    return [x + y for x, y in zip(a, b, strict=True)]


@dataclass(frozen=True)
class CostView:
    """Rollups in scope (``rows``: a queryset without a service filter) and the service filter:
    '' (every service and unallocated), ``UNALLOCATED``, or a service slug."""

    rows: QuerySet
    service: str = ""

    def spend(self) -> CostView:
        """The same view without credits (the spend that series and budgets count)."""
        return CostView(self.rows.exclude(charge_category__in=CREDIT_CATEGORIES), self.service)

    def between(self, start: dt.date, end: dt.date) -> CostView:
        return CostView(self.rows.filter(date__gte=start, date__lte=end), self.service)

    def by(self, *dims: str, fields: Sequence[str] = ("effective_cost",)) -> list[dict]:
        """One dict per distinct value of ``dims`` with the summed ``fields`` (Decimal).

        ``dims`` are rollup value names (``date``, ``provider``, ``account__name``, ``sku``...)
        or service attributes (``service_id``, ``service__slug``, ``service__name``...), which
        are None for unallocated cost. Ordered by the first field, largest first.
        """
        plain = [d for d in dims if _service_attr(d) is None]
        sums = {f"v{i}": Sum(f) for i, f in enumerate(fields)}
        if not self.service and len(plain) == len(dims):
            # Attribution only moves cost between services: the database's own sums stand.
            if not dims:
                agg = self.rows.aggregate(**sums)
                return [{f: agg[f"v{i}"] or Decimal(0) for i, f in enumerate(fields)}]
            rows = [
                {
                    **{d: r[d] for d in dims},
                    **{f: r[f"v{i}"] or Decimal(0) for i, f in enumerate(fields)},
                }
                for r in self.rows.values(*dims).annotate(**sums).order_by()
            ]
            return sorted(rows, key=lambda r: -r[fields[0]]) if fields else rows
        acc: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(fields))
        for r in self.rows.values("service_id", *plain).annotate(**sums).order_by():
            key = (r["service_id"], *(r[d] for d in plain))
            acc[key] = _plus(acc[key], [r[f"v{i}"] or 0 for i in range(len(fields))])
        for row, service_id, _, _, amounts in split_untagged(self.rows, plain, fields):
            rest = tuple(row[d] for d in plain)
            acc[(service_id, *rest)] = _plus(acc[(service_id, *rest)], amounts)
            acc[(None, *rest)] = _plus(acc[(None, *rest)], [-a for a in amounts])
        keep = self._keeps()
        acc = {k: v for k, v in acc.items() if keep(k[0])}
        attrs = {_service_attr(d) for d in dims} - {None}
        services = {
            s["pk"]: s
            for s in Service.objects.filter(pk__in={k[0] for k in acc} - {None}).values(
                "pk", *(attrs - {"pk"})
            )
        }
        out: dict[tuple, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * len(fields))
        for (service_id, *rest), amounts in acc.items():
            values = dict(zip(plain, rest, strict=True))
            svc = services.get(service_id, {})
            key = tuple(
                values[d] if _service_attr(d) is None else svc.get(_service_attr(d)) for d in dims
            )
            out[key] = _plus(out[key], amounts)
        rows = [
            {**dict(zip(dims, k, strict=True)), **dict(zip(fields, v, strict=True))}
            for k, v in out.items()
        ]
        return sorted(rows, key=lambda r: -r[fields[0]]) if fields else rows

    def _keeps(self):
        """Predicate on a service id (None: unallocated) for the view's service filter."""
        if not self.service:
            return lambda service_id: True
        if self.service == UNALLOCATED:
            return lambda service_id: service_id is None
        pk = Service.objects.filter(slug=self.service).values_list("pk", flat=True).first()
        return lambda service_id: service_id is not None and service_id == pk

    def total(self, field: str = "effective_cost") -> Decimal:
        return sum((r[field] for r in self.by(fields=(field,))), Decimal(0))

    def by_service(self, field: str = "effective_cost") -> dict[int | None, Decimal]:
        """{service id (None: unallocated): cost}."""
        return {r["service_id"]: r[field] for r in self.by("service_id", fields=(field,))}

    def daily(self, dim: str | None = None, field: str = "effective_cost") -> dict:
        """{value of ``dim`` (or None): {date: cost}}, dates ascending."""
        dims = ("date", dim) if dim else ("date",)
        out: dict = defaultdict(dict)
        for r in sorted(self.by(*dims, fields=(field,)), key=lambda r: r["date"]):
            out[r[dim] if dim else None][r["date"]] = r[field]
        return dict(out)


def view(
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    provider: str = "",
    account: int | str | None = None,
    tag: str = "",
    service: str = "",
) -> CostView:
    """The cost view of a date range (inclusive) and the dashboard's filters."""
    qs = CostRollup.objects.all()
    if start is not None:
        qs = qs.filter(date__gte=start)
    if end is not None:
        qs = qs.filter(date__lte=end)
    if provider:
        qs = qs.filter(provider=provider)
    if account:
        qs = qs.filter(account_id=account)
    if tag:
        qs = qs.filter(service_tag=tag)
    return CostView(qs, service or "")
