"""Numbers on the services pages and the dashboard panels against direct queries and against the
demo generator's own billing records."""

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from django.db.models import Sum
from django.urls import reverse

from planner.billing.models import CostRollup
from planner.core import demo
from planner.core.dashboard import DateRange, commitments
from planner.core.models import Service
from planner.usage.models import UsageSample
from tests.demo_costs import service_cost

START, END = "2026-09-01", "2026-09-30"
Q = f"?start={START}&end={END}"


def _histogram_attainment(slug, lo, hi):
    """Share of requests in hours whose e2e-histogram p95 is within the objective, by hand:
    cumulative counts, the bucket holding rank 0.95 n, linear interpolation inside it."""
    from planner.core.models import Service
    from planner.usage.models import LatencyHistogram

    objective = Service.objects.get(slug=slug).latency_slo_p95_ms
    within = total = 0.0
    for h in LatencyHistogram.objects.filter(
        deployment__service__slug=slug, kind="e2e", end__gt=lo, end__lte=hi
    ):
        counts = h.counts
        n = sum(counts)
        if n <= 0:
            continue
        rank, cum, lower, p95 = 0.95 * n, 0.0, 0.0, None
        for bound, c in zip(h.bounds_ms, counts, strict=True):
            if cum + c >= rank and c > 0:
                p95 = lower if bound is None else lower + (bound - lower) * (rank - cum) / c
                break
            cum += c
            lower = bound if bound is not None else lower
        total += n
        within += n if p95 is not None and p95 <= objective else 0.0
    if total == 0:  # no histograms (Triton here): each sample's p95 stands for its step
        for p95, rps, step in UsageSample.objects.filter(
            deployment__service__slug=slug, ts__gte=lo, ts__lt=hi, request_rate_rps__gt=0
        ).values_list("p95_latency_ms", "request_rate_rps", "step_seconds"):
            total += rps * step
            within += rps * step if p95 is not None and p95 <= objective else 0.0
    return within / total


@pytest.mark.django_db
def test_services_list_matches_rollups_and_samples(viewer_client, demo_fleet):
    resp = viewer_client.get(reverse("services") + Q)
    rows = {r["service"].slug: r for r in resp.context["rows"]}
    assert len(rows) == len(demo.SERVICES)
    lo = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    hi = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    for slug, row in rows.items():
        cost = service_cost(slug, START, END)  # tagged plus its node pool's share
        assert row["cost"] == pytest.approx(cost, abs=Decimal("0.000001"))
        assert row["monthly"] == pytest.approx(float(cost) / (30 * 24) * 730)
        samples = list(
            UsageSample.objects.filter(
                deployment__service__slug=slug, ts__gte=lo, ts__lt=hi
            ).values_list(
                "p95_latency_ms",
                "units_of_work",
                "gpu_util_pct",
                "deployment__service__latency_slo_p95_ms",
            )
        )
        assert row["slo_attainment"] == pytest.approx(_histogram_attainment(slug, lo, hi))
        assert row["unit_cost"] == pytest.approx(float(cost) / sum(s[1] for s in samples))
        assert row["gpu_util"] == pytest.approx(sum(s[2] for s in samples) / len(samples))
    html = resp.content.decode()
    assert f'data-value="{rows["chat-assistant"]["cost"]:.2f}"' in html


@pytest.mark.django_db
def test_service_page_has_its_charts_and_cost(viewer_client, demo_fleet):
    resp = viewer_client.get(reverse("service-detail", args=["image-gen"]) + Q)
    html = resp.content.decode()
    for chart in ("chart-demand", "chart-gpu", "chart-latency", "chart-cost"):
        assert f'id="{chart}"' in html
    cost = service_cost("image-gen", START, END)  # tagged plus its node pool's share
    assert resp.context["cost"] == pytest.approx(cost, abs=Decimal("0.000001"))
    assert viewer_client.get(reverse("service-detail", args=["nope"])).status_code == 404


@pytest.mark.django_db
def test_dashboard_movers_spot_share_and_tag_filter(viewer_client, demo_fleet):
    ctx = viewer_client.get("/" + Q).context
    top = ctx["movers"][0]

    def total(lo, hi, name):
        return float(service_cost(Service.objects.get(name=name).slug, lo, hi))

    assert top["now"] == pytest.approx(total(START, END, top["label"]))
    assert top["before"] == pytest.approx(total("2026-08-02", "2026-08-31", top["label"]))
    usage = CostRollup.objects.filter(date__range=(START, END), charge_category="Usage")
    spot = usage.filter(pricing_category="Dynamic").aggregate(v=Sum("effective_cost"))["v"]
    assert ctx["spot_share"] == pytest.approx(
        float(spot) / float(usage.aggregate(v=Sum("effective_cost"))["v"])
    )
    tagged = viewer_client.get("/" + Q + "&tag=embeddings")
    assert "tag=embeddings" in tagged.request["QUERY_STRING"]
    expected = CostRollup.objects.filter(
        date__range=(START, END), service_tag="embeddings"
    ).aggregate(v=Sum("effective_cost"))["v"]
    assert tagged.context["spend"] == expected < ctx["spend"]
    assert (
        tagged.context["chart_unit_cost"]
        and "embeddings (USD per 1k tokens)" in tagged.context["chart_unit_cost"]
    )


@pytest.mark.django_db
def test_commitment_utilisation_matches_the_generators_own_records(demo_fleet):
    billing, _, _ = demo.generate(days=45, seed=7, end=dt.date(2026, 10, 1), usage_step_min=15)
    day = pd.to_datetime(billing["ChargePeriodStart"], utc=True).dt.date
    rows = billing[
        (billing["PricingCategory"] == "Committed")
        & (day >= dt.date(2026, 9, 1))
        & (day <= dt.date(2026, 9, 30))
    ]
    unused = rows.loc[rows["CommitmentDiscountStatus"] == "Unused", "EffectiveCost"].sum()
    used = rows.loc[rows["CommitmentDiscountStatus"] == "Used", "EffectiveCost"].sum()
    rng = DateRange(dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    got = commitments(CostRollup.objects.filter(date__range=(START, END)), rng)
    assert got["used"] == pytest.approx(used, rel=1e-9) and got["unused"] == pytest.approx(
        unused, rel=1e-9
    )
    assert got["utilisation"] == pytest.approx(used / (used + unused))
    one = commitments(
        CostRollup.objects.filter(date__range=(START, END), service__slug="image-gen"),
        rng,
        {"service": "image-gen"},
    )
    mine = rows[rows["Tags"].fillna("").str.contains('"service": "image-gen"')]
    assert one["used"] + one["unused"] == pytest.approx(mine["EffectiveCost"].sum())


@pytest.mark.django_db
def test_services_empty_state(viewer_client):
    from planner.core.models import Service

    Service.objects.all().delete()  # inside the test's transaction: rolled back afterwards
    html = viewer_client.get(reverse("services")).content.decode()
    assert "No services yet" in html and "seed_demo" in html
