import json
from decimal import Decimal

import pytest
from django.db.models import Sum

from planner.billing.models import CostRollup


@pytest.mark.django_db
def test_dashboard_total_matches_a_direct_query(viewer_client, demo_fleet):
    resp = viewer_client.get("/?start=2026-09-01&end=2026-09-30")
    assert resp.status_code == 200
    expected = CostRollup.objects.filter(date__range=("2026-09-01", "2026-09-30")).aggregate(
        v=Sum("effective_cost")
    )["v"]
    assert resp.context["spend"] == expected
    assert f'data-value="{expected.quantize(Decimal("0.01"))}"' in resp.content.decode()


@pytest.mark.django_db
def test_provider_filter_changes_the_numbers(viewer_client, demo_fleet):
    everything = viewer_client.get("/?start=2026-09-01&end=2026-09-30").context["spend"]
    aws = viewer_client.get("/?start=2026-09-01&end=2026-09-30&provider=AWS").context["spend"]
    expected = CostRollup.objects.filter(
        date__range=("2026-09-01", "2026-09-30"), provider="AWS"
    ).aggregate(v=Sum("effective_cost"))["v"]
    assert aws == expected and 0 < aws < everything


@pytest.mark.django_db
def test_charts_are_plotly_figures_grouped_as_asked(viewer_client, demo_fleet):
    resp = viewer_client.get("/?group=pricing_category")
    fig = json.loads(resp.context["chart_over_time"])
    names = {t["name"] for t in fig["data"]}
    assert {"Committed", "Dynamic", "Standard"} <= names
    html = resp.content.decode()
    assert "vendor/plotly/plotly.min.js" in html and "cdn" not in html.lower()


@pytest.mark.django_db
def test_empty_state_tells_a_new_user_what_to_do(viewer_client):
    html = viewer_client.get("/?start=2001-01-01&end=2001-01-31").content.decode()
    assert "No billing data yet" in html and "seed_demo" in html


@pytest.mark.django_db
def test_plotly_js_is_served_locally(viewer_client):
    from django.contrib.staticfiles import finders

    assert finders.find("vendor/plotly/plotly.min.js")
