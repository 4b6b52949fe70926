"""One cost per service: the dashboard chart and table, the cost summary API, the services page,
budget actuals and the anomaly series agree per service, with shared-node cost present.

Hand calculation for the fixture (two days in 2031, far from the demo fleet's dates):

    day 1: untagged g5.12xlarge $100; chat 3 replicas × 4 GPUs × 24 h = 288 GPU-h,
           emb 1 × 4 × 24 = 96 GPU-h -> chat 75 %, emb 25 %
    day 2: untagged g5.12xlarge  $60; chat 1 × 4 × 24 = 96, emb 96 -> 50 % / 50 %
    tagged: chat $40 on day 1, emb $10 on day 2; stray p4d.24xlarge $500 untagged (no deployment)

    chat = 40 + 75 + 30 = 145, emb = 10 + 25 + 30 = 65, unallocated = 500; total 710.
"""

import datetime as dt
import json
from decimal import Decimal

import pytest

from planner.alerts.budgets import budget_status
from planner.alerts.models import Budget, BudgetPeriod, BudgetScope
from planner.alerts.series import cost_series, service_spec
from tests.factories import (
    make_account,
    make_deployment,
    make_hourly_samples,
    make_rollup,
    make_service,
)

pytestmark = pytest.mark.django_db
DAY1 = dt.date(2031, 5, 6)
DAY2 = DAY1 + dt.timedelta(days=1)
EXPECTED = {"cc-chat": Decimal("145"), "cc-emb": Decimal("65"), None: Decimal("500")}


@pytest.fixture
def pool():
    acct = make_account(account_id="cc-pool", name="CC pool")
    services, deps = {}, {}
    for slug, name in (("cc-chat", "CC Chat"), ("cc-emb", "CC Emb")):
        services[slug] = make_service(slug=slug, name=name, tag_value=slug)
        deps[slug] = make_deployment(
            services[slug], acct, name=f"{slug}-dep", instance_type="g5.12xlarge", gpu_count=4
        )
    for day, replicas in (
        (DAY1, {"cc-chat": 3.0, "cc-emb": 1.0}),
        (DAY2, {"cc-chat": 1.0, "cc-emb": 1.0}),
    ):
        start = dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
        for slug, n in replicas.items():
            make_hourly_samples(deps[slug], start, replicas=n)

    def rollup(day, instance_type, cost, service=None, category="Standard"):
        make_rollup(
            acct,
            day,
            cost,
            sku=f"PRODUCT-{instance_type}",
            instance_type=instance_type,
            service=service,
            pricing_category=category,
            charge_category="Usage",
        )

    rollup(DAY1, "g5.12xlarge", Decimal("100"))
    rollup(DAY2, "g5.12xlarge", Decimal("60"), category="Dynamic")
    rollup(DAY1, "g5.12xlarge", Decimal("40"), service=services["cc-chat"])
    rollup(DAY2, "g5.12xlarge", Decimal("10"), service=services["cc-emb"])
    rollup(DAY1, "p4d.24xlarge", Decimal("500"))
    return acct, services


def _chart_totals(chart_json: str) -> dict[str, float]:
    return {t["name"]: sum(y or 0 for y in t["y"]) for t in json.loads(chart_json)["data"]}


def test_every_reader_shows_the_same_cost_per_service(pool, viewer_client, viewer):
    acct, services = pool
    span = {"start": DAY1.isoformat(), "end": DAY2.isoformat()}
    names = {s.name: slug for slug, s in services.items()}

    resp = viewer_client.get("/", {**span, "group": "service"})
    table = {names.get(label): total for label, _, _, total in resp.context["service_rows"]}
    chart = _chart_totals(resp.context["chart_over_time"])

    from tests.planner.api.conftest import token_client

    api = token_client(viewer).get("/api/v1/costs/summary/", {**span, "group_by": "service"})
    summary = {r["key"]: Decimal(r["effective_cost"]) for r in api.json()}

    page = viewer_client.get("/services/", span)
    services_page = {r["service"].slug: r["cost"] for r in page.context["rows"]}

    for slug, expected in EXPECTED.items():
        assert table[slug] == expected, ("dashboard table", slug)
        assert chart[slug or "unallocated"] == pytest.approx(float(expected)), ("chart", slug)
        assert summary[slug] == expected, ("API summary", slug)
        series = cost_series(service_spec(slug), DAY1, DAY2)
        assert float(series.sum()) == pytest.approx(float(expected), abs=1e-6), ("series", slug)
        if slug is None:
            continue
        assert services_page[slug] == expected, ("services page", slug)
        budget = Budget.objects.create(
            name=f"b-{slug}",
            scope=BudgetScope.SERVICE,
            service=services[slug],
            period=BudgetPeriod.MONTHLY,
            amount_usd=Decimal("1000"),
        )
        spend = budget_status(budget, today=DAY2).spend_usd
        assert spend == pytest.approx(float(expected), abs=1e-6), ("budget actuals", slug)
    assert sum(summary.values()) == sum(EXPECTED.values())  # attribution moves, never invents


@pytest.mark.parametrize(
    ("filters", "slug"),
    [({"service": "cc-chat"}, "cc-chat"), ({"service": "unallocated"}, None)],
)
def test_a_service_filter_gives_the_attributed_cost_on_every_reader(
    pool, viewer_client, viewer, filters, slug
):
    acct, _ = pool
    span = {"start": DAY1.isoformat(), "end": DAY2.isoformat(), "account": acct.pk}
    resp = viewer_client.get("/", {**span, **filters, "group": "pricing_category"})
    assert resp.context["spend"] == EXPECTED[slug]
    assert sum(_chart_totals(resp.context["chart_over_time"]).values()) == pytest.approx(
        float(EXPECTED[slug])
    )

    from tests.planner.api.conftest import token_client

    api = token_client(viewer).get(
        "/api/v1/costs/summary/", {**span, **filters, "group_by": "pricing_category"}
    )
    by_category = {r["key"]: Decimal(r["effective_cost"]) for r in api.json()}
    assert sum(by_category.values()) == EXPECTED[slug]
    if slug == "cc-chat":  # day 2's untagged $60 was spot: chat's half of it stays spot
        assert by_category == {"Standard": Decimal("115"), "Dynamic": Decimal("30")}
