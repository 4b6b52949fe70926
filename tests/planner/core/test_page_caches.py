"""The dashboard's budgets at risk and the service page's unit economics are cached like the
pages' other figures, and never shown stale: editing a budget or a service's managed-API price
changes the next page at once. Expected figures are computed by the uncached functions."""

from __future__ import annotations

from decimal import Decimal

import pytest

from planner.alerts.budgets import budget_status
from planner.alerts.models import Budget
from planner.core.models import Service
from planner.usage.models import ServiceServingTargets

pytestmark = pytest.mark.django_db
RANGE = "start=2026-09-01&end=2026-09-30"


def _at_risk(client) -> set[str]:
    return {r["budget"].name for r in client.get(f"/?{RANGE}").context["budgets_at_risk"]}


def test_a_budget_edit_shows_on_the_next_dashboard(viewer_client, demo_fleet):
    Budget.objects.all().delete()
    budget = Budget.objects.create(name="fleet", amount_usd=Decimal("1e9"))
    assert _at_risk(viewer_client) == set()  # far above any spend: not at risk (now cached)
    spend = budget_status(budget, today=viewer_client.get(f"/?{RANGE}").context["range"].end)
    assert spend.spend_usd > 0
    Budget.objects.filter(pk=budget.pk).update(amount_usd=Decimal(str(spend.spend_usd / 2)))
    assert _at_risk(viewer_client) == {"fleet"}  # 200 % spent: at risk on the next view


def test_a_managed_price_edit_shows_on_the_next_service_page(viewer_client, demo_fleet):
    service = Service.objects.get(slug="chat-assistant")
    url = f"/services/{service.slug}/?{RANGE}"
    before = viewer_client.get(url).context["economics"]["build_vs_buy"]
    assert before is not None and before["managed_usd"] is None
    ServiceServingTargets.objects.update_or_create(service=service, defaults={
        "managed_api_name": "Managed", "managed_usd_per_1m_input": Decimal("1"),
        "managed_usd_per_1m_output": Decimal("2"),
    })  # fmt: skip
    after = viewer_client.get(url).context["economics"]["build_vs_buy"]
    tokens_in, tokens_out = after["input_tokens"] / 1e6, after["output_tokens"] / 1e6
    assert after["managed_usd"] == pytest.approx(tokens_in * 1 + tokens_out * 2)


def test_a_serving_endpoint_change_shows_on_the_next_service_page(viewer_client, demo_fleet):
    """The unit economics' key carries each deployment's serving endpoint (read with the
    deployments the page lists): removing the endpoints recomputes them at once."""
    from planner.usage.models import ServingEndpoint
    from planner.usage.report import service_unit_economics

    service = Service.objects.get(slug="chat-assistant")
    url = f"/services/{service.slug}/?{RANGE}"
    before = viewer_client.get(url).context["economics"]
    assert ServingEndpoint.objects.filter(deployment__service=service).delete()[0] > 0
    page = viewer_client.get(url).context
    rng = page["range"]
    assert page["economics"] == service_unit_economics(service, rng.start, rng.end)
    assert page["economics"] != before
