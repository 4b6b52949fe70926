"""Shared GPU nodes: untagged cost split by GPU-hours share (hand-calculated)."""

import datetime as dt
from decimal import Decimal

import pytest

from planner.billing.attribution import shared_cost_by_service, shared_gpu_allocations
from tests.factories import (
    make_account,
    make_deployment,
    make_hourly_samples,
    make_rollup,
    make_service,
)

pytestmark = pytest.mark.django_db
DAY = dt.date(2031, 3, 4)  # far from the demo fleet's dates


@pytest.fixture
def shared_pool():
    acct = make_account(account_id="shared-pool", name="Shared pool")
    chat = make_service(slug="sh-chat", name="Chat")
    emb = make_service(slug="sh-emb", name="Emb", modality="embeddings", latency_slo_p95_ms=100)
    deps = {}
    for svc, gpus in ((chat, 4), (emb, 4)):
        deps[svc.slug] = make_deployment(
            svc, acct, name=f"{svc.slug}-dep", instance_type="g5.12xlarge", gpu_count=gpus
        )
    start = dt.datetime(2031, 3, 4, tzinfo=dt.UTC)
    # chat: 3 replicas for 24 hourly samples = 3 × 4 GPUs × 24 h = 288 GPU-hours
    # emb:  1 replica  for 24 hourly samples = 1 × 4 GPUs × 24 h =  96 GPU-hours  → shares 0.75 / 0.25
    for slug, replicas in (("sh-chat", 3.0), ("sh-emb", 1.0)):
        make_hourly_samples(deps[slug], start, replicas=replicas)

    def rollup(sku, cost, service=None):
        # a demo/Cost Explorer-shaped row: the SKU names the instance type
        make_rollup(acct, DAY, cost, sku=sku, instance_type=sku, service=service)

    rollup("g5.12xlarge", Decimal("100.00"))  # untagged node cost: shared
    rollup("g5.12xlarge", Decimal("40.00"), service=chat)  # tagged: already chat's, not re-split
    rollup("p4d.24xlarge", Decimal("500.00"))  # no deployment of this type: stays unallocated
    return acct, chat, emb


def test_untagged_node_cost_is_split_by_gpu_hours(shared_pool):
    acct, chat, emb = shared_pool
    allocations = shared_gpu_allocations(DAY, DAY, acct.pk)
    by_service = {a.service_id: a for a in allocations}
    assert set(by_service) == {chat.pk, emb.pk}
    assert by_service[chat.pk].gpu_hours == pytest.approx(288.0)
    assert by_service[emb.pk].gpu_hours == pytest.approx(96.0)
    assert by_service[chat.pk].allocated_usd == Decimal("75.000000")
    assert by_service[emb.pk].allocated_usd == Decimal("25.000000")
    assert sum(a.allocated_usd for a in allocations) == Decimal(
        "100.000000"
    )  # nothing lost or invented


def test_cost_on_types_no_deployment_runs_stays_unallocated(shared_pool):
    acct, chat, emb = shared_pool
    totals = shared_cost_by_service(DAY, DAY, acct.pk)
    assert totals == {
        chat.pk: Decimal("75.000000"),
        emb.pk: Decimal("25.000000"),
    }  # the p4d's $500 is not in it


def test_a_day_without_usage_samples_attributes_nothing(shared_pool):
    acct, *_ = shared_pool
    assert (
        shared_gpu_allocations(DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1), acct.pk)
        == []
    )


def test_dashboard_shows_the_attributed_shared_cost(shared_pool, viewer_client):
    acct, chat, emb = shared_pool
    resp = viewer_client.get(f"/?start={DAY}&end={DAY}&account={acct.pk}")
    rows = {
        label: (cost, shared, with_shared)
        for label, cost, shared, with_shared in resp.context["service_rows"]
    }
    assert rows["Chat"] == (Decimal("40.000000"), Decimal("75.000000"), Decimal("115.000000"))
    assert rows["(none)"][1] == Decimal(
        "-100.000000"
    )  # unallocated shrinks by exactly what was attributed
    assert rows["(none)"][2] == Decimal("500.000000")  # the stray p4d stays unallocated
    assert "Shared GPU nodes" in resp.content.decode()
