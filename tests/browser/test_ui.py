"""The FinOps UI in a real browser (Debian Chromium via Playwright), one test per role.

These tests use the demo fleet every test database starts with (45 days to 2026-10-01), seeding it
again only if an earlier transactional test flushed it. ``transactional_db`` is overridden in this
module so the live server sees the committed demo data and nothing is flushed afterwards (later
tests still find the demo fleet); the rows these tests create are deleted at module teardown.
"""

from __future__ import annotations

import os
import re
import shutil
from decimal import Decimal

import pytest
from django.db.models import Sum

from tests.conftest import ARTIFACTS
from tests.demo_costs import service_cost

pytestmark = pytest.mark.browser
SHOTS = ARTIFACTS / "screenshots"
# `make screenshot` sets this to docs/screenshot-dashboard.png; tests never write there otherwise.
README_SCREENSHOT = os.environ.get("HEADROOM_README_SCREENSHOT")
PASSWORD = "Ui-browser-pass-123!"


@pytest.fixture
def transactional_db(django_db_setup, django_db_blocker):
    """Database access without a wrapping transaction and without the end-of-test flush."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture(scope="module")
def fleet(django_db_setup, django_db_blocker):
    from django.contrib.auth import get_user_model

    from planner.core.models import Service
    from planner.core.roles import assign_role
    from planner.whatif.models import Recommendation, Scenario
    from planner.whatif.services import generate_recommendations
    from tests.conftest import seed_test_fleet

    with django_db_blocker.unblock():
        if not Service.objects.filter(
            slug="embeddings"
        ).exists():  # a transactional test flushed it
            seed_test_fleet()
        users = []
        for role in ("viewer", "analyst", "admin"):
            u, _ = get_user_model().objects.get_or_create(username=f"ui-{role}")
            u.set_password(PASSWORD)
            u.save()
            assign_role(u, role)
            users.append(u)
        for slug in ("embeddings", "text-to-speech"):
            generate_recommendations(Service.objects.get(slug=slug), window_days=3)
    yield
    with django_db_blocker.unblock():
        try:
            from planner.plans.models import Plan

            Plan.objects.filter(source_scenario_id__in=Scenario.objects.values("pk")).delete()
        except ImportError:
            pass
        Scenario.objects.all().delete()
        Recommendation.objects.all().delete()
        for u in users:
            u.delete()


def login(page, base: str, role: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", f"ui-{role}")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(f".role-{role}")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def spend_between(**filters) -> Decimal:
    from planner.billing.models import CostRollup

    return CostRollup.objects.filter(date__range=("2026-09-01", "2026-09-30"), **filters).aggregate(
        v=Sum("effective_cost")
    )["v"]


def test_viewer_sees_charts_filters_change_numbers_and_cannot_accept(
    browser_page, live_server, fleet
):
    page, base = browser_page, live_server.url
    login(page, base, "viewer")
    page.wait_for_selector("#first-run-hint")  # a new user gets the tour, until they close it
    page.click("#dismiss-first-run")
    page.wait_for_load_state()
    assert page.locator("#first-run-hint").count() == 0
    page.goto(f"{base}/?start=2026-09-01&end=2026-09-30")
    assert page.locator("#first-run-hint").count() == 0  # remembered for this user
    for chart in ("chart-over-time", "chart-provider", "chart-category", "chart-unit-cost"):
        page.wait_for_selector(f"#{chart}.rendered")
        assert page.locator(f"#{chart} .main-svg").count() >= 1
    everything = Decimal(page.get_attribute("#kpi-spend", "data-value"))
    assert everything == spend_between().quantize(Decimal("0.01"))
    assert page.locator("#kpi-commitment").inner_text().endswith("%")
    shot(page, "dashboard")
    if README_SCREENSHOT:
        shutil.copyfile(SHOTS / "dashboard.png", README_SCREENSHOT)

    page.select_option("select[name=provider]", "AWS")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r"provider=AWS"))
    aws = Decimal(page.get_attribute("#kpi-spend", "data-value"))
    assert aws == spend_between(provider="AWS").quantize(Decimal("0.01")) and 0 < aws < everything
    page.click(".segmented a:has-text('Pricing category')")
    page.wait_for_url(re.compile(r"group=pricing_category"))
    assert "provider=AWS" in page.url  # the filter is kept when switching the stack

    page.goto(f"{base}/recommendations/")
    accept = page.locator("button[value=accepted]").first
    assert accept.is_disabled()
    rec_id = page.locator("tr[id^=rec-]").first.get_attribute("id").split("-")[1]
    status = page.evaluate(
        """async (id) => { const t = document.querySelector('input[name=csrfmiddlewaretoken]').value;
           const r = await fetch(`/recommendations/${id}/decide/`, {method: 'POST', headers: {'X-CSRFToken': t},
             body: new URLSearchParams({status: 'accepted', reason: 'sneaky'})}); return r.status; }""",
        rec_id,
    )
    assert status == 403
    from planner.whatif.models import Recommendation

    assert Recommendation.objects.get(pk=rec_id).status == "open"
    shot(page, "recommendations")


def test_analyst_runs_a_what_if_and_sees_progress_then_the_comparison(
    browser_page, live_server, fleet
):
    page, base = browser_page, live_server.url
    login(page, base, "analyst")
    page.goto(f"{base}/recommendations/?kind=spot-share")
    page.click("a:has-text('Simulate') >> nth=0")
    page.wait_for_url(re.compile(r"/whatif/\?recommendation=\d+"))
    assert page.locator("#id_spot_share").input_value() != ""  # prefilled from the recommendation
    page.goto(f"{base}/whatif/")
    shot(page, "whatif-form")
    page.select_option("#id_services", ["embeddings", "text-to-speech"])
    page.fill("#id_window_days", "2")
    page.fill("#id_batch_size", "8")
    page.select_option("#id_quantisation", "int8")
    page.fill("#id_warm_pool", "1")
    page.click("#run-scenario")
    page.wait_for_selector(
        "#scenario-progress progress"
    )  # the run starts queued and reports progress
    page.wait_for_selector("#comparison")
    for chart in ("chart-categories", "chart-replicas", "chart-latency"):
        page.wait_for_selector(f"#{chart}.rendered")
    from planner.whatif.models import Scenario

    s = Scenario.objects.latest("pk")
    assert s.status == "succeeded" and s.progress == 1.0
    assert (
        page.locator("#cost-scenario").inner_text()
        == f"${s.result['totals']['scenario']['monthly_cost_usd']:,.0f}"
    )
    shot(page, "whatif-comparison")
    page.click("#save-scenario")
    page.wait_for_selector("text=saved.")
    assert Scenario.objects.get(pk=s.pk).saved
    page.goto(f"{base}/whatif/?saved=1")
    page.check(f"input[name=ids][value='{s.pk}']")
    page.click("#compare-selected")
    page.wait_for_selector("#chart-compare.rendered")
    assert f"ids={s.pk}" in page.url

    page.goto(f"{base}/recommendations/")
    row = page.locator("tr[id^=rec-]").first
    rec_id = row.get_attribute("id").split("-")[1]
    row.locator("input[name=reason]").fill("Approved in the weekly FinOps review")
    row.locator("button[value=accepted]").click()
    page.wait_for_selector("text=accepted.")
    from planner.whatif.models import Recommendation

    assert Recommendation.objects.get(pk=rec_id).status == "accepted"

    page.goto(f"{base}/services/?start=2026-09-01&end=2026-09-30")
    page.wait_for_selector("#table-services")
    shot(page, "services")
    page.click("a:has-text('Chat assistant')")
    for chart in ("chart-demand", "chart-gpu", "chart-latency", "chart-cost"):
        page.wait_for_selector(f"#{chart}.rendered")
    shown = Decimal(page.get_attribute("#kpi-service-cost", "data-value"))
    # one cost per service: its tagged rows plus its node pool's share (independent oracle)
    expected = service_cost("chat-assistant", "2026-09-01", "2026-09-30")
    assert shown == expected.quantize(Decimal("0.01"))
    shot(page, "service-detail")


def test_admin_reaches_every_page_and_the_admin(browser_page, live_server, fleet):
    page, base = browser_page, live_server.url
    login(page, base, "admin")
    assert page.locator("a:has-text('Admin')").count() == 1
    for path, marker in (
        ("/services/", "#table-services"),
        ("/whatif/", "#whatif-form"),
        ("/recommendations/", "h1"),
        ("/", "#kpi-spend"),
    ):
        resp = page.goto(base + path)
        assert resp.status == 200, path
        page.wait_for_selector(marker)
