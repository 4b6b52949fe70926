"""The demo FinOps setup on the test database's demo fleet: chargeback reconciles to the bill,
and the commitments inventory agrees with the demo generator's own records."""

from __future__ import annotations

import datetime as dt

import pytest

from planner.chargeback.demo import EXPIRY_DAYS, seed_demo_finops
from planner.chargeback.report import Period, build_report
from planner.commitments.inventory import inventory
from planner.commitments.models import Commitment
from planner.core import demo
from tests.conftest import DEMO_DAYS, DEMO_END

pytestmark = pytest.mark.django_db


def test_chargeback_demo_reconciles_and_commitment_inventory_matches_generator():
    first = seed_demo_finops()
    assert seed_demo_finops() == first  # idempotent
    report = build_report(Period.month(dt.date(2026, 9, 1)))
    a = report.allocation
    assert report.reconciles and a.allocated + a.unallocated == pytest.approx(report.bill_total)
    assert a.unallocated != 0  # the untagged stray p4d instance stays unallocated
    assert all(a.team_total(t) > 0 for t in a.teams)
    # the generator's own records, independently of the store and DuckDB
    billing, _, _ = demo.generate(days=DEMO_DAYS, seed=7, end=DEMO_END, usage_step_min=15)
    start, end = dt.date(2026, 9, 2), dt.date(2026, 9, 30)
    day = billing["ChargePeriodStart"].dt.date
    window = billing[(day >= start) & (day <= end)]
    rows = {r.commitment.commitment_id: r for r in inventory(start, end, today=DEMO_END)}
    committed = [
        (s, d) for s, d in zip(demo.SERVICES, EXPIRY_DAYS, strict=False) if s.committed_replicas
    ]
    assert len(committed) == 5
    for svc, days in committed:
        mine = window[window["CommitmentDiscountId"] == f"commit-{svc.slug}"]
        used = mine.loc[mine["CommitmentDiscountStatus"] == "Used", "EffectiveCost"].sum()
        unused = mine.loc[mine["CommitmentDiscountStatus"] == "Unused", "EffectiveCost"].sum()
        row = rows[f"commit-{svc.slug}"]
        assert row.usage.used_cost == pytest.approx(used, rel=1e-9)
        assert row.usage.unused_cost == pytest.approx(unused, rel=1e-9)
        # level paid for = the committed replicas (usage-based, instance-hours)
        assert row.advice.current_units_per_hour == pytest.approx(svc.committed_replicas)
        c = Commitment.objects.get(commitment_id=f"commit-{svc.slug}")
        assert c.period_end == DEMO_END - dt.timedelta(days=1) + dt.timedelta(days=days)
        assert {"line_items", "contract_commitment"} <= set(c.sources)
