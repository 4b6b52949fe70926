"""Every main page fits a 1440-px-wide window (Debian Chromium via Playwright): wide tables wrap
or scroll inside their card, the page itself never scrolls sideways."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser
PASSWORD = "Width-browser-pass-123!"
WINDOW_PX = 1440


@pytest.fixture
def transactional_db(django_db_setup, django_db_blocker):
    """The live server must see committed rows; they are removed by the fixture below."""
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def fleet_with_plans(django_db_setup, django_db_blocker):
    """The demo fleet with its plans, FinOps set-up, one service's recommendations, a viewer."""
    from django.contrib.auth import get_user_model

    from planner.chargeback.demo import seed_demo_finops
    from planner.chargeback.models import ReportSubscription, SharedCostPool, Team
    from planner.commitments.models import Commitment, ExpiryAlertRule
    from planner.core.models import Service
    from planner.core.roles import assign_role
    from planner.plans.demo import seed_demo_plans
    from planner.plans.models import Plan
    from planner.whatif.models import Recommendation
    from planner.whatif.services import generate_recommendations
    from tests.conftest import seed_test_fleet

    with django_db_blocker.unblock():
        if not Service.objects.filter(slug="embeddings").exists():
            seed_test_fleet()
        had_plans = Plan.objects.exists()
        plans = seed_demo_plans()
        seed_demo_finops()
        generate_recommendations(Service.objects.get(slug="embeddings"), window_days=3)
        user, _ = get_user_model().objects.get_or_create(username="width-ui-viewer")
        user.set_password(PASSWORD)
        user.save()
        assign_role(user, "viewer")
    yield plans
    with django_db_blocker.unblock():
        for model in (Team, SharedCostPool, ReportSubscription, Commitment, ExpiryAlertRule):
            model.objects.all().delete()
        Recommendation.objects.all().delete()
        if not had_plans:
            Plan.objects.all().delete()
        user.delete()


def test_main_pages_fit_a_1440_px_window_for_a_viewer(browser_page, live_server, fleet_with_plans):
    page, base = browser_page, live_server.url
    page.set_viewport_size({"width": WINDOW_PX, "height": 900})
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "width-ui-viewer")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".role-viewer")
    plan = fleet_with_plans[-1]
    paths = [
        "/",
        "/services/",
        "/services/chat-assistant/",
        "/whatif/",
        "/recommendations/",
        "/plans/",
        f"/plans/{plan.pk}/",
        "/chargeback/",
        "/commitments/",
        "/anomalies/",
        "/budgets/",
    ]
    too_wide = {}
    for path in paths:
        resp = page.goto(base + path)
        assert resp.status == 200, path
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > WINDOW_PX:
            too_wide[path] = width
    assert not too_wide, f"pages wider than the {WINDOW_PX}-px window: {too_wide}"
