"""The chargeback report of a period: one row per team (direct, shared, total, share of the
bill), the unallocated row, the total; the per-service detail; as a page, CSV, Parquet and an
email with its charts (bars drawn in HTML tables, which every mail client renders, plus the
CSV and Parquet files attached).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from planner.api.csv import csv_text
from planner.api.exports import parquet_bytes
from planner.billing import reports
from planner.chargeback.allocation import UNALLOCATED, Allocation, allocate_period

TEAM_HEADER = ["team", "cost_centre", "direct", "shared", "total", "share_of_bill", "currency"]
DETAIL_HEADER = ["team", "source", "service_name", "cost", "currency"]


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive
    key: str

    @classmethod
    def month(cls, first: dt.date) -> Period:
        first = first.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        return cls(first, nxt - dt.timedelta(days=1), f"{first:%Y-%m}")

    @classmethod
    def week(cls, monday: dt.date) -> Period:
        monday = monday - dt.timedelta(days=monday.weekday())
        year, week, _ = monday.isocalendar()
        return cls(monday, monday + dt.timedelta(days=6), f"{year}-W{week:02d}")

    @classmethod
    def previous(cls, frequency: str, today: dt.date) -> Period:
        """The last complete week (Monday–Sunday) or calendar month before ``today``."""
        if frequency == "weekly":
            return cls.week(today - dt.timedelta(days=today.weekday() + 7))
        return cls.month((today.replace(day=1) - dt.timedelta(days=1)).replace(day=1))


@dataclass
class ChargebackReport:
    period: Period
    allocation: Allocation
    cost_centres: dict[str, str]
    bill_total: float  # the rollups' effective cost for the period (reconciliation)
    currency: str

    def team_rows(self, teams: list[str] | None = None) -> list[list]:
        a = self.allocation
        rows = []
        for t in teams or a.teams:
            total = a.team_total(t)
            rows.append(
                [
                    t,
                    self.cost_centres.get(t, ""),
                    a.direct.get(t, 0.0),
                    a.shared.get(t, 0.0),
                    total,
                    _share(total, a.total),
                    self.currency,
                ]
            )
        if teams is None:
            rows.append(
                [
                    UNALLOCATED,
                    "",
                    a.unallocated,
                    0.0,
                    a.unallocated,
                    _share(a.unallocated, a.total),
                    self.currency,
                ]
            )
            rows.append(
                [
                    "(total)",
                    "",
                    sum(a.direct.values()) + a.unallocated,
                    sum(a.shared.values()),
                    a.total,
                    1.0 if a.total else 0.0,
                    self.currency,
                ]
            )
        return rows

    def detail_rows(self, teams: list[str] | None = None) -> list[list]:
        d = self.allocation.detail
        if teams is not None:
            d = d[d["team"].isin(teams)]
        d = d.sort_values(["team", "source", "cost"], ascending=[True, True, False])
        return [
            [r.team, r.source, r.service_name, float(r.cost), self.currency] for r in d.itertuples()
        ]

    @property
    def reconciles(self) -> bool:
        return abs(self.allocation.allocated + self.allocation.unallocated - self.bill_total) < 0.01

    def chart_bars(self, teams: list[str] | None = None) -> list[dict]:
        """Bars for the email/page chart: label, amount, width in % of the largest."""
        rows = [r for r in self.team_rows(teams) if r[0] != "(total)"]
        top = max((abs(r[4]) for r in rows), default=0.0) or 1.0
        return [
            {
                "label": r[0],
                "amount": r[4],
                "direct_pct": 100 * max(r[2], 0) / top,
                "shared_pct": 100 * max(r[3], 0) / top,
            }
            for r in rows
        ]

    def figure(self) -> dict:
        """Plotly stacked bars (direct + shared per team, unallocated)."""
        rows = [r for r in self.team_rows() if r[0] != "(total)"]
        labels = [r[0] for r in rows]
        return {
            "data": [
                {"type": "bar", "name": "direct", "x": labels, "y": [r[2] for r in rows]},
                {"type": "bar", "name": "shared", "x": labels, "y": [r[3] for r in rows]},
            ],
            "layout": {
                "barmode": "stack",
                "height": 320,
                "margin": {"t": 20, "b": 60},
                "yaxis": {"title": self.currency},
            },
        }

    def csv(self, teams: list[str] | None = None) -> str:
        return csv_text(TEAM_HEADER, self.team_rows(teams))

    def parquet(self, teams: list[str] | None = None) -> bytes:
        return parquet_bytes(TEAM_HEADER, self.team_rows(teams))


def _share(amount: float, total: float) -> float:
    return amount / total if total else 0.0


def bill_total(period: Period, account_ids=None) -> float:
    """The period's effective cost as the one reporting module answers it (reports.view)."""
    if account_ids is None:
        return float(reports.view(period.start, period.end).total())
    return float(
        sum(reports.view(period.start, period.end, account=a).total() for a in account_ids)
    )


def build_report(period: Period, account_ids=None) -> ChargebackReport:
    from planner.chargeback.models import Team

    return ChargebackReport(
        period=period,
        allocation=allocate_period(period.start, period.end, account_ids),
        cost_centres=dict(Team.objects.values_list("name", "cost_centre")),
        bill_total=bill_total(period, account_ids),
        currency=settings.REPORTING_CURRENCY,
    )
